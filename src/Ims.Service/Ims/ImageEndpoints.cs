using System.Text.Json.Serialization;
using Ims.Service.Auth;
using Ims.Service.Backups;
using Ims.Service.Data;
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
        group.MapDelete("/v2/images/{image_id}", DeleteImage);
        return app;
    }

    private static async Task<IResult> ListCloudImages(HttpContext http, Caller caller, ImageStore store)
    {
        var (filter, error) = ImageListFilter.FromQuery(http);
        if (error is not null) return error;
        var images = await store.ListAsync(caller.ProjectId, filter!, http.RequestAborted);
        if (images is null) return filter!.UnknownMarker();
        return new JsonWriterResult(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("images");
            foreach (var image in images) ImageWire.Write(w, image, caller.ProjectId);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static async Task<IResult> ListNativeImages(HttpContext http, Caller caller, ImageStore store)
    {
        var (filter, error) = ImageListFilter.FromQuery(http);
        if (error is not null) return error;
        var images = await store.ListAsync(caller.ProjectId, filter!, http.RequestAborted);
        if (images is null) return filter!.UnknownMarker();
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

    private static async Task<IResult> ShowNativeImage(string image_id, HttpContext http, Caller caller, ImageStore images)
    {
        var image = await images.GetVisibleAsync(caller.ProjectId, image_id, http.RequestAborted);
        if (image is null) return ImsErrors.ImageNotFound(image_id);
        return new JsonWriterResult(w => ImageWire.Write(w, image, caller.ProjectId));
    }

    /// <summary>
    /// <c>DELETE /v2/images/{image_id}</c> with <c>{"delete_backup": bool}</c>, <c>{}</c> or no body: 204. The image is
    /// gone from every list at once; with <c>delete_backup</c> its backup goes too, in the same transaction, so a
    /// CBR restore point it emptied answers 404 right after.
    /// </summary>
    private static async Task<IResult> DeleteImage(string image_id, HttpContext http, Caller caller, Database db, ImageStore images,
        BackupRemoval removal, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (body, error) = await JsonBody.ReadAsync<DeleteImageRequest>(http, ServiceKind.Ims, allowEmpty: true);
        if (error is not null) return error;

        await using var write = await db.BeginWriteAsync(ct);
        var image = await images.GetVisibleAsync(write, caller.ProjectId, image_id, ct);
        if (image is null) return ImsErrors.ImageNotFound(image_id);
        if (image.Visibility == "public") return ImsErrors.Of("IMG.0094");
        if (image.Owner != caller.ProjectId) return ImsErrors.Of("IMG.0092");
        // An image a job makes is being created while queued; an image that only waits for its file can go (as in
        // Glance), or it would hold quota forever. An upload in progress (saving) finishes first.
        if (image.Status == "saving" || image.Status == "queued" && image.IsMadeByJob) return ImsErrors.Of("IMG.0090");
        if (image.Protected) return ImsErrors.Of("IMG.0028");

        await images.MarkDeletedAsync(write, image.Id, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
        if (body?.DeleteBackup == true && image.WholeImage && image.BackupId is not null)
            await removal.DeleteAsync(write, caller.ProjectId, [image.BackupId], ct);
        // The image's content (its own, or its backup's) may have been the last user of some chunks.
        await DataJanitor.RequestCollectionAsync(write, ct);
        await write.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    private sealed record DeleteImageRequest([property: JsonPropertyName("delete_backup")] bool? DeleteBackup);
}
