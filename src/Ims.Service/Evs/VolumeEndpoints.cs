using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ims.Service.Auth;
using Ims.Service.Ecs;
using Ims.Service.Http;
using Ims.Service.Ims;
using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Evs;

/// <summary>EVS disks: create (asynchronous), show, list, rename and delete.</summary>
public static partial class VolumeEndpoints
{
    public const int MaxCount = 100;

    public static IEndpointRouteBuilder MapVolumes(this IEndpointRouteBuilder app)
    {
        var v2 = app.MapGroup("/v2/{project_id}/cloudvolumes").ForService(ServiceKind.Evs);
        v2.MapPost("", CreateVolumes);
        v2.MapGet("/detail", ListVolumes);
        v2.MapGet("/{volume_id}", GetVolume);
        v2.MapPut("/{volume_id}", UpdateVolume);
        v2.MapDelete("/{volume_id}", DeleteVolume);
        // The Go SDKs create volumes through v2.1 and do everything else through v2.
        app.MapPost("/v2.1/{project_id}/cloudvolumes", CreateVolumes).ForService(ServiceKind.Evs);
        return app;
    }

    private static async Task<IResult> CreateVolumes(Caller caller, Database db, ImageStore images, JobQueue jobs, Catalog catalog, VolumeStore volumes,
        Backups.BackupStore backups, HttpContext http)
    {
        var (body, error) = await JsonBody.ReadAsync<CreateVolumeRequest>(http, ServiceKind.Evs);
        if (error is not null) return error;
        if (body!.Volume is not { } spec) return Invalid("Invalid key 'volume' in the request body.");
        if (string.IsNullOrEmpty(spec.AvailabilityZone)) return Invalid("volume.availability_zone is required.");
        if (!catalog.IsZone(spec.AvailabilityZone)) return Invalid($"Availability zone [{spec.AvailabilityZone}] is invalid.");
        if (string.IsNullOrEmpty(spec.VolumeType)) return Invalid("volume.volume_type is required.");
        if (!Catalog.VolumeTypes.Contains(spec.VolumeType)) return Invalid($"Invalid volume.volume_type '{spec.VolumeType}'.");
        if (spec.Size is { } requestedSize && requestedSize is < 10 or > 32768) return Invalid("volume.size must be between 10 and 32768 GB.");
        if (spec.Size is null && spec.ImageRef is null && spec.BackupId is null) return Invalid("volume.size is required.");
        if (spec.Count is { } count && count is < 1 or > MaxCount) return Invalid($"volume.count must be between 1 and {MaxCount}.");
        if (spec.Name is not null && !NamePattern().IsMatch(spec.Name)) return Invalid("volume.name must have 1 to 64 characters.");
        if (spec.Description is { Length: > 85 }) return Invalid("volume.description cannot exceed 85 characters.");
        if (spec.SnapshotId is not null) return Invalid("Creating disks from snapshots is not supported.");
        if (spec.BackupId is not null && spec.ImageRef is not null) return Invalid("volume.backup_id and volume.imageRef cannot both be given.");
        if (body.ServerId is not null) return Invalid("server_id is not supported: create the disk, then attach it through ECS.");
        if (body.BssParam is { ValueKind: JsonValueKind.Object } bss && bss.TryGetProperty("chargingMode", out var mode)
            && mode.ValueKind == JsonValueKind.String && mode.GetString() == "prePaid")
            return Invalid("Yearly/monthly (prePaid) disks are not supported.");
        if ((BadMap(spec.Metadata, "metadata") ?? BadMap(spec.Tags, "tags")) is { } mapError) return mapError;

        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        var size = spec.Size;
        string? sourceManifest = null;
        var bootable = false;
        if (spec.ImageRef is not null)
        {
            // Any image the caller may see: public, its own, or one shared with it (as a server can boot from).
            var image = await images.GetVisibleAsync(write, caller.ProjectId, spec.ImageRef, ct);
            if (image is not { Status: "active" } found) return Invalid($"Image [{spec.ImageRef}] could not be found or is not active.");
            var minDisk = found.MinDisk;
            size ??= (int)Math.Max(minDisk, 10);
            if (size < minDisk) return Invalid($"volume.size must be at least the image's minimum disk size ({minDisk} GB).");
            // The disk starts as a copy of the image's content (an empty disk while the image has none).
            sourceManifest = found.ManifestId;
            // A disk made from a data disk image holds data, not an OS.
            bootable = !found.IsDataImage;
        }

        if (spec.BackupId is not null)
        {
            // A disk backup of the caller's (a CBR disk vault's), available: the new disk starts as the backed-up disk.
            var backup = await backups.GetBackupAsync(write, caller.ProjectId, "CBR", spec.BackupId, ct);
            if (backup is not { IsDiskBackup: true }) return Invalid($"Backup [{spec.BackupId}] could not be found or is not a disk backup.");
            if (backup.Status != Backups.BackupStatus.Available) return Invalid($"Backup [{spec.BackupId}] is {backup.Status}; it must be available.");
            var disk = (await backups.GetCapturedDisksAsync(write, backup.Id, ct)).Single();
            if (disk.ManifestId is null) return Invalid($"Backup [{spec.BackupId}] holds no disk data.");
            size ??= (int)disk.SizeGb;
            if (size < disk.SizeGb) return Invalid($"volume.size must be at least the backed-up disk's size ({disk.SizeGb} GB).");
            sourceManifest = disk.ManifestId;
        }

        var total = spec.Count ?? 1;
        var baseName = string.IsNullOrEmpty(spec.Name) ? "volume" : spec.Name;
        var created = Enumerable.Range(1, total).Select(i => new NewVolume
        {
            Id = Ids.NewUuid(),
            ProjectId = caller.ProjectId,
            Name = total > 1 ? $"{baseName}-{i:0000}" : string.IsNullOrEmpty(spec.Name) ? $"volume-{Ids.NewHex32()[..4]}" : spec.Name,
            Description = spec.Description ?? "",
            SizeGb = size!.Value,
            VolumeType = spec.VolumeType,
            AvailabilityZone = spec.AvailabilityZone,
            Multiattach = spec.Multiattach ?? false,
            Bootable = bootable,
            ImageId = spec.ImageRef,
            SourceManifestId = sourceManifest,
            Metadata = spec.Metadata?.ToDictionary(kv => kv.Key, kv => kv.Value!) ?? [],
            Tags = spec.Tags?.ToDictionary(kv => kv.Key, kv => kv.Value!) ?? [],
        }).ToList();
        await volumes.CreateAsync(write, created, ct);
        var ids = created.Select(v => v.Id).ToList();
        // EVS jobs answer with a flat entities.volume_id (terraform reads it); a batch also lists every id.
        var entities = new JsonObject { ["volume_id"] = ids[0] };
        if (ids.Count > 1) entities["volume_ids"] = new JsonArray(ids.Select(id => (JsonNode)id).ToArray());
        var jobId = await jobs.EnqueueAsync(write, "evs", CreateVolumeJob.Type, caller.ProjectId, new VolumesPayload(ids), entities, ids[0],
            (await volumes.GetNodesAsync(write, ids, ct)).FirstOrDefault(), ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new CreateVolumeResponse(jobId, ids));
    }

    private static async Task<IResult> GetVolume(string volume_id, Caller caller, VolumeStore volumes, ImageStore images, HttpContext http)
    {
        var ct = http.RequestAborted;
        var row = await volumes.GetAsync(caller.ProjectId, volume_id, ct);
        if (row is null) return NotFound(volume_id);
        return TypedResults.Json(new VolumeEnvelope((await VolumeViews.RenderAsync(volumes, images, BaseUrl(http), [row], ct))[0]));
    }

    /// <summary>EVS pages with <c>offset</c> counted in disks (unlike ECS) and <c>limit</c> up to 1000.</summary>
    private static async Task<IResult> ListVolumes(Caller caller, VolumeStore volumes, ImageStore images, HttpContext http)
    {
        if (!QueryArgs.TryInt(http, "limit", ServiceKind.Evs, out var limit, out var error, 1, 1000)) return error!;
        if (!QueryArgs.TryInt(http, "offset", ServiceKind.Evs, out var offset, out error)) return error!;
        var multiattach = QueryArgs.String(http, "multiattach");
        if (multiattach is not (null or "" or "true" or "false")) return Invalid("multiattach must be true or false.");
        var filter = new VolumeFilter
        {
            NameContains = QueryArgs.String(http, "name"),
            Status = QueryArgs.String(http, "status"),
            AvailabilityZone = QueryArgs.String(http, "availability_zone"),
            ServerId = QueryArgs.String(http, "server_id"),
            Id = QueryArgs.String(http, "id"),
            Multiattach = string.IsNullOrEmpty(multiattach) ? null : multiattach == "true",
            Limit = limit ?? 1000,
            Offset = offset ?? 0,
        };
        var ct = http.RequestAborted;
        var (rows, total) = await volumes.ListAsync(caller.ProjectId, filter, ct);
        return TypedResults.Json(new VolumeListBody(await VolumeViews.RenderAsync(volumes, images, BaseUrl(http), rows, ct), (int)total));
    }

    private static async Task<IResult> UpdateVolume(string volume_id, Caller caller, Database db, VolumeStore volumes, ImageStore images,
        HttpContext http)
    {
        var (body, error) = await JsonBody.ReadAsync<UpdateVolumeRequest>(http, ServiceKind.Evs);
        if (error is not null) return error;
        if (body!.Volume is not { } spec) return Invalid("Invalid key 'volume' in the request body.");
        if (spec.Name is not null && !NamePattern().IsMatch(spec.Name)) return Invalid("volume.name must have 1 to 64 characters.");
        if (spec.Description is { Length: > 85 }) return Invalid("volume.description cannot exceed 85 characters.");

        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        var row = await volumes.GetAsync(write, caller.ProjectId, volume_id, ct);
        if (row is null) return NotFound(volume_id);
        await volumes.UpdateAsync(write, caller.ProjectId, volume_id, spec.Name, spec.Description, ct);
        row = await volumes.GetAsync(write, caller.ProjectId, volume_id, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new VolumeEnvelope((await VolumeViews.RenderAsync(volumes, images, BaseUrl(http), [row!], ct))[0]));
    }

    /// <summary>Only a disk that is not attached (available, or failed) can be deleted.</summary>
    private static async Task<IResult> DeleteVolume(string volume_id, Caller caller, Database db, JobQueue jobs, VolumeStore volumes,
        HttpContext http)
    {
        var cascade = QueryArgs.String(http, "cascade");
        if (cascade is not (null or "" or "true" or "false")) return Invalid("cascade must be true or false.");

        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        var row = await volumes.GetAsync(write, caller.ProjectId, volume_id, ct);
        if (row is null) return NotFound(volume_id);
        var moved = await volumes.SetStatusAsync(write, [volume_id], VolumeStatus.Deleting, [VolumeStatus.Available, VolumeStatus.Error], ct);
        if (moved == 0) return Invalid($"Volume [{volume_id}] is {row.Status}; only an available or failed disk can be deleted.");
        var jobId = await jobs.EnqueueAsync(write, "evs", DeleteVolumeJob.Type, caller.ProjectId, new VolumesPayload([volume_id]),
            new JsonObject { ["volume_id"] = volume_id }, volume_id, null, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new VolumeJobAccepted(jobId));
    }

    private static ApiError? BadMap(Dictionary<string, string?>? map, string what)
    {
        foreach (var (key, value) in map ?? [])
            if (key.Length is 0 or > 255 || value is null || value.Length > 255)
                return Invalid($"volume.{what} must map keys of 1 to 255 characters to strings of at most 255 characters.");
        return null;
    }

    private static ApiError Invalid(string message) => ApiError.BadBody(ServiceKind.Evs, message);

    private static ApiError NotFound(string volumeId) => ApiError.NotFound(ServiceKind.Evs, $"Volume [{volumeId}] could not be found.");

    private static string BaseUrl(HttpContext http) => $"{http.Request.Scheme}://{http.Request.Host}";

    [GeneratedRegex(@"^.{1,64}$")]
    private static partial Regex NamePattern();
}
