using Dapper;
using Ims.Service.Auth;
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
        IOptions<ServiceOptions> options, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var raw = await JsonBody.RawAsync(http);
        var (operations, error) = ImagePatch.Parse(raw.Span, http.Request.ContentType);
        if (error is not null) return error;

        await using var write = await db.BeginWriteAsync(ct);
        var image = await ImageRecords.FindVisibleAsync(write, caller.ProjectId, image_id, ct);
        if (image is null) return ImageRecords.NotFound(image_id);
        if (image.Owner != caller.ProjectId) return ImsErrors.Of("IMG.0047");
        if (image.Status != "active") return ImsErrors.Of("IMG.0046", "Only active images can be updated.");

        var (patched, invalid) = ImagePatch.Apply(PatchedImage.Of(image), operations!, chineseNames: options.Value.Profile == CloudProfile.Huawei);
        if (invalid is not null) return invalid;
        var changed = patched!;
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE images SET name = @Name, description = @Description, min_ram = @MinRam, max_ram = @MaxRam, min_disk = @MinDisk,
                os_version = @OsVersion, enterprise_project_id = @EnterpriseProjectId, properties = @properties, tags = @tags,
                updated_at = @now
            WHERE id = @id
            """,
            new
            {
                changed.Name,
                changed.Description,
                changed.MinRam,
                changed.MaxRam,
                changed.MinDisk,
                changed.OsVersion,
                changed.EnterpriseProjectId,
                properties = changed.PropertiesJson(),
                tags = ImageTags.Serialize(changed.Tags),
                now = time.GetUtcNow().ToUnixTimeMilliseconds(),
                id = image.Id,
            }, write.Transaction, cancellationToken: ct));
        var updated = (await ImageRecords.FindVisibleAsync(write, caller.ProjectId, image.Id, ct))!;
        await write.CommitAsync(ct);
        return new JsonWriterResult(w => ImageWire.Write(w, updated, caller.ProjectId));
    }
}

/// <summary>Image lookups inside a write transaction, shared by the update, tag and enterprise-project endpoints.</summary>
internal static class ImageRecords
{
    /// <summary>Images that exist for callers: being made or active (killed and deleted ones answer 404).</summary>
    public const string Live = "status IN ('queued', 'saving', 'active')";

    /// <summary>A live image the project can see (its own, public, or shared with it), or null.</summary>
    public static Task<ImageRow?> FindVisibleAsync(WriteScope write, string project, string imageId, CancellationToken ct) =>
        write.Connection.QuerySingleOrDefaultAsync<ImageRow>(new CommandDefinition(
            $"SELECT {ImageRow.Columns} FROM images WHERE id = @imageId AND {Live} AND {ImageQueries.VisibleTo}",
            new { imageId, project }, write.Transaction, cancellationToken: ct));

    /// <summary>A live image the project owns, or null: what tag and enterprise-project writes act on.</summary>
    public static Task<ImageRow?> FindOwnAsync(WriteScope write, string project, string imageId, CancellationToken ct) =>
        write.Connection.QuerySingleOrDefaultAsync<ImageRow>(new CommandDefinition(
            $"SELECT {ImageRow.Columns} FROM images WHERE id = @imageId AND owner = @project AND {Live}",
            new { imageId, project }, write.Transaction, cancellationToken: ct));

    public static ApiError NotFound(string imageId) => ImsErrors.Of("IMG.0027", $"Image {imageId} does not exist.", StatusCodes.Status404NotFound);
}
