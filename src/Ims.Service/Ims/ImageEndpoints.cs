using Ims.Service.Auth;
using Ims.Service.Http;
using Ims.Service.Storage;

namespace Ims.Service.Ims;

/// <summary>Image reads: the IMS list <c>/v2/cloudimages</c> and the Glance-compatible <c>/v2/images</c>.</summary>
public static class ImageEndpoints
{
    public static IEndpointRouteBuilder MapImages(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("").ForService(ServiceKind.Ims);
        group.MapGet("/v2/cloudimages", ListCloudImages);
        group.MapGet("/v2/images", ListNativeImages);
        group.MapGet("/v2/images/{image_id}", ShowNativeImage);
        return app;
    }

    private static async Task<IResult> ListCloudImages(HttpContext http, Caller caller, Database db)
    {
        var (images, error) = await ImageQueries.ListAsync(db, http, caller.ProjectId, http.RequestAborted);
        if (error is not null) return error;
        return new JsonWriterResult(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("images");
            foreach (var image in images) ImageWire.Write(w, image, caller.ProjectId);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static async Task<IResult> ListNativeImages(HttpContext http, Caller caller, Database db)
    {
        var (images, error) = await ImageQueries.ListAsync(db, http, caller.ProjectId, http.RequestAborted);
        if (error is not null) return error;
        return new JsonWriterResult(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("images");
            foreach (var image in images) ImageWire.Write(w, image, caller.ProjectId);
            w.WriteEndArray();
            w.WriteString("schema", "/v2/schemas/images");
            w.WriteString("first", "/v2/images");
            w.WriteEndObject();
        });
    }

    private static async Task<IResult> ShowNativeImage(string image_id, HttpContext http, Caller caller, Database db)
    {
        var image = await ImageQueries.FindVisibleAsync(db, caller.ProjectId, image_id, http.RequestAborted);
        if (image is null) return ApiError.Ims("IMG.0027", $"Image {image_id} does not exist.", StatusCodes.Status404NotFound);
        return new JsonWriterResult(w => ImageWire.Write(w, image, caller.ProjectId));
    }
}
