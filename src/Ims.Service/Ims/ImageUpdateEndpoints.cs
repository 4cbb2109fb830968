using Ims.Service.Auth;
using Ims.Service.Eps;
using Ims.Service.Hosting;
using Ims.Service.Http;
using Ims.Service.Storage;
using Microsoft.Extensions.Options;

namespace Ims.Service.Ims;

/// <summary>
/// <c>PATCH /v2/cloudimages/{image_id}</c> and the native <c>PATCH /v2/images/{image_id}</c>: one handler, both
/// JSON-Patch dialects (the Content-Type chooses), 200 with the whole image.
/// </summary>
public static class ImageUpdateEndpoints
{
    public static IEndpointRouteBuilder MapImageUpdates(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("").ForService(ServiceKind.Ims);
        group.MapPatch("/v2/cloudimages/{image_id}", UpdateImage);
        group.MapPatch("/v2/images/{image_id}", UpdateImage);
        return app;
    }

    private static async Task<IResult> UpdateImage(string image_id, HttpContext http, Caller caller, Database db,
        ImageStore images, EnterpriseProjectCheck enterpriseProjects, IOptions<ServiceOptions> options, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var raw = await JsonBody.RawAsync(http);
        var (operations, error) = ImagePatch.Parse(raw.Span, http.Request.ContentType);
        if (error is not null) return error;

        await using var write = await db.BeginWriteAsync(ct);
        var image = await images.GetVisibleAsync(write, caller.ProjectId, image_id, ct);
        if (image is null) return ImsErrors.ImageNotFound(image_id);
        if (image.Owner != caller.ProjectId) return ImsErrors.Of("IMG.0047");
        if (image.Status != "active") return ImsErrors.Of("IMG.0046", "Only active images can be updated.");

        var (patched, invalid) = ImagePatch.Apply(PatchedImage.Of(image), operations!, chineseNames: options.Value.Profile == CloudProfile.Huawei);
        if (invalid is not null) return invalid;
        // Moving the image needs an enabled enterprise project of the account; keeping the one it is in is no move.
        if (patched!.EnterpriseProjectId != image.EnterpriseProjectId
            && await enterpriseProjects.ImsRefusalAsync(caller.Domain.Id, patched.EnterpriseProjectId, ct) is { } noProject)
            return noProject;
        await images.UpdateAttributesAsync(write, image.Id, patched!, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
        var updated = (await images.GetVisibleAsync(write, caller.ProjectId, image.Id, ct))!;
        await write.CommitAsync(ct);
        return new JsonWriterResult(w => ImageWire.Write(w, updated, caller.ProjectId));
    }
}
