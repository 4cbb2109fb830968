using System.Text.Json.Serialization;
using Ims.Service.Backups;
using Ims.Service.Http;
using Ims.Service.Ims;
using DataPlaneStore = Ims.DataPlane.DataPlane;

namespace Ims.Service.Data;

/// <summary>
/// <c>/admin/v1/data</c>: run a garbage collection now, and verify the stored chunks of a backup or an image. Admin API
/// (outside the cloud API, see <see cref="AdminAccess"/>).
/// </summary>
public static class DataAdminEndpoints
{
    public static IEndpointRouteBuilder MapDataAdmin(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/admin/v1/data").AdminOnly();
        group.MapPost("/gc", CollectGarbage);
        group.MapPost("/verify", Verify);
        return app;
    }

    private static async Task<IResult> CollectGarbage(DataJanitor janitor, HttpContext http)
    {
        var report = await janitor.RunPassAsync(http.RequestAborted);
        return TypedResults.Json(new
        {
            volume_files_deleted = report.VolumeFilesDeleted,
            chunks_kept = report.Collection.ChunksKept,
            chunks_deleted = report.Collection.ChunksDeleted,
            bytes_freed = report.Collection.BytesFreed,
            manifests_deleted = report.Collection.ManifestsDeleted,
        });
    }

    private static async Task<IResult> Verify(ImageStore images, BackupStore backups, DataPlaneStore store, HttpContext http)
    {
        var ct = http.RequestAborted;
        var (body, error) = await JsonBody.ReadAsync<VerifyRequest>(http, ServiceKind.Admin);
        if (error is not null) return error;
        if ((body!.BackupId is null) == (body.ImageId is null))
            return ApiError.BadBody(ServiceKind.Admin, "Send exactly one of backup_id and image_id.");

        List<string?> manifests;
        if (body.BackupId is { } backupId)
        {
            var captured = await backups.GetDiskManifestsAsync(backupId, ct);
            if (captured is null) return ApiError.NotFound(ServiceKind.Admin, $"Backup {backupId} does not exist.");
            manifests = [.. captured];
        }
        else
        {
            var imageId = body.ImageId!;
            var image = await images.GetLiveAsync(imageId, ct);
            if (image is null) return ApiError.NotFound(ServiceKind.Admin, $"Image {imageId} does not exist.");
            // A whole image's content is its backup's disks; a system-disk image has its own manifest.
            manifests = [image.ManifestId];
            if (image.BackupId is not null) manifests.AddRange(await backups.GetDiskManifestsAsync(image.BackupId, ct) ?? []);
        }
        var named = manifests.OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        var report = await store.VerifyAsync(named, ct);
        return TypedResults.Json(new
        {
            manifests = named,
            chunks_checked = report.ChunksChecked,
            ok = report.Ok,
            damaged = report.Damaged.Select(d => new { manifest_id = d.ManifestId, chunk_index = d.ChunkIndex, chunk_id = d.ChunkId, problem = d.Problem }),
        });
    }

    private sealed record VerifyRequest(
        [property: JsonPropertyName("backup_id")] string? BackupId,
        [property: JsonPropertyName("image_id")] string? ImageId);
}
