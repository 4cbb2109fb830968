using System.Text.RegularExpressions;
using Ims.Service.Auth;
using Ims.Service.Evs;
using Ims.Service.Http;
using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Ecs;

/// <summary>A server's disks: block devices, attach and detach.</summary>
public static partial class ServerDiskEndpoints
{
    /// <summary>virtio-blk devices /dev/vda to /dev/vdz: the system disk and up to 25 data disks.</summary>
    public const int MaxDisks = 26;

    public static IEndpointRouteBuilder MapServerDisks(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/{project_id}/cloudservers/{server_id}").ForService(ServiceKind.Ecs);
        group.MapGet("/block_device", ListBlockDevices);
        group.MapGet("/block_device/{volume_id}", GetBlockDevice);
        group.MapPost("/attachvolume", AttachVolume);
        group.MapDelete("/detachvolume/{volume_id}", DetachVolume);
        return app;
    }

    private static async Task<IResult> ListBlockDevices(string server_id, Caller caller, ServerStore servers, VolumeStore volumes,
        HttpContext http)
    {
        var ct = http.RequestAborted;
        if (await servers.GetAsync(caller.ProjectId, server_id, ct) is null) return EcsErrors.NotFound(server_id);
        var devices = await BlockDevicesAsync(volumes, server_id, null, ct);
        var free = Math.Max(0, MaxDisks - devices.Count);
        return TypedResults.Json(new VolumeAttachmentListBody(new AttachableQuantityBody(free, free, free), devices));
    }

    private static async Task<IResult> GetBlockDevice(string server_id, string volume_id, Caller caller, ServerStore servers,
        VolumeStore volumes, HttpContext http)
    {
        var ct = http.RequestAborted;
        if (await servers.GetAsync(caller.ProjectId, server_id, ct) is null) return EcsErrors.NotFound(server_id);
        var devices = await BlockDevicesAsync(volumes, server_id, volume_id, ct);
        if (devices.Count == 0)
            return new ApiError(ServiceKind.Ecs, StatusCodes.Status404NotFound, EcsErrors.ServerNotFound,
                $"Volume [{volume_id}] is not attached to instance [{server_id}].");
        return TypedResults.Json(new VolumeAttachmentEnvelope(devices[0]));
    }

    private static async Task<List<VolumeAttachmentBody>> BlockDevicesAsync(VolumeStore volumes, string serverId, string? volumeId,
        CancellationToken ct)
    {
        var rows = await volumes.GetBlockDevicesAsync(serverId, volumeId, ct);
        return rows.Select(r => new VolumeAttachmentBody(r.VolumeId, serverId, r.VolumeId, r.Device, (int)r.SizeGb,
            r.BootIndex is { } index ? (int)index : -1, ServerViews.PciAddressOf(r.Device), "virtio")).ToList();
    }

    /// <summary>
    /// Records the attachment at once (so the device name is reserved) and lets a job finish it. A shared
    /// (multiattach) disk may be attached to several servers; any other disk must be available.
    /// </summary>
    private static async Task<IResult> AttachVolume(string server_id, Caller caller, Database db, JobQueue jobs, ServerStore servers,
        VolumeStore volumes, TimeProvider time, HttpContext http)
    {
        var (body, error) = await JsonBody.ReadAsync<AttachVolumeRequest>(http, ServiceKind.Ecs);
        if (error is not null) return error;
        if (body!.VolumeAttachment is not { } spec) return EcsErrors.Invalid("Invalid key 'volumeAttachment' in the request body.");
        if (string.IsNullOrEmpty(spec.VolumeId)) return EcsErrors.Invalid("volumeAttachment.volumeId is required.");
        if (spec.Device is not null && !DevicePattern().IsMatch(spec.Device))
            return EcsErrors.Invalid($"Invalid device name '{spec.Device}': use /dev/vdb to /dev/vdz.");

        var ct = http.RequestAborted;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var write = await db.BeginWriteAsync(ct);
        var server = await servers.GetAsync(write, caller.ProjectId, server_id, ct);
        if (server is null) return EcsErrors.NotFound(server_id);
        if (ServerGuards.RefuseIfBusy(server) is { } busy) return busy;
        if (server.Status is not (ServerStatus.Active or ServerStatus.Shutoff))
            return EcsErrors.Conflict($"Instance[{server_id}] is {server.Status}; disks can be attached only to a running or stopped ECS.");

        var volume = await volumes.GetAsync(write, caller.ProjectId, spec.VolumeId, ct);
        if (volume is null) return EcsErrors.Invalid($"Volume [{spec.VolumeId}] could not be found.");
        if (volume.AvailabilityZone != server.AvailabilityZone)
            return EcsErrors.Invalid($"Volume [{volume.Id}] is in {volume.AvailabilityZone}; the ECS is in {server.AvailabilityZone}.");
        var attachments = await volumes.GetAttachmentsAsync(write, [volume.Id], ct);
        if (attachments.Any(a => a.ServerId == server_id))
            return EcsErrors.Conflict($"Volume [{volume.Id}] is already attached to instance [{server_id}].");
        var usable = volume.Status == VolumeStatus.Available || (volume.IsShared && volume.Status == VolumeStatus.InUse);
        if (!usable) return EcsErrors.Conflict($"Volume [{volume.Id}] is {volume.Status} and cannot be attached.");

        var used = (await volumes.GetAttachmentsOfServersAsync(write, [server_id], ct)).Select(a => a.Device).ToHashSet(StringComparer.Ordinal);
        var device = spec.Device?.Replace("/dev/sd", "/dev/vd", StringComparison.Ordinal);
        if (device is not null && used.Contains(device)) return EcsErrors.Invalid($"Device {device} is already in use on instance [{server_id}].");
        device ??= Enumerable.Range('b', 25).Select(c => $"/dev/vd{(char)c}").FirstOrDefault(d => !used.Contains(d));
        if (device is null) return EcsErrors.Invalid($"Instance [{server_id}] cannot take more disks.");

        await volumes.AttachAsync(write, [new NewAttachment(volume.Id, server_id, device, null, DeleteOnTermination: false, now)], ct);
        await volumes.SetStatusAsync(write, [volume.Id], VolumeStatus.Attaching, [VolumeStatus.Available], ct);
        var jobId = await jobs.EnqueueAsync(write, "ecs", AttachVolumeJob.Type, caller.ProjectId, new DiskPayload(server_id, volume.Id),
            EcsJobEntities.WithSubJobs("attachSingleVolume", [new() { ["server_id"] = server_id, ["volume_id"] = volume.Id }]),
            server_id, null, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new JobAccepted(jobId));
    }

    /// <summary>The system disk (boot index 0) can only leave a stopped server.</summary>
    private static async Task<IResult> DetachVolume(string server_id, string volume_id, Caller caller, Database db, JobQueue jobs,
        ServerStore servers, VolumeStore volumes, HttpContext http)
    {
        var deleteFlag = QueryArgs.String(http, "delete_flag");
        if (deleteFlag is not (null or "" or "0" or "1")) return EcsErrors.Invalid("delete_flag must be 0 or 1.");

        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        var server = await servers.GetAsync(write, caller.ProjectId, server_id, ct);
        if (server is null) return EcsErrors.NotFound(server_id);
        if (ServerGuards.RefuseIfBusy(server) is { } busy) return busy;
        var attachments = await volumes.GetAttachmentsAsync(write, [volume_id], ct);
        var attachment = attachments.FirstOrDefault(a => a.ServerId == server_id);
        if (attachment is null) return EcsErrors.Invalid($"Volume [{volume_id}] is not attached to instance [{server_id}].");
        if (attachment.BootIndex == 0 && server.Status != ServerStatus.Shutoff)
            return EcsErrors.Conflict($"The system disk of instance [{server_id}] can be detached only when the ECS is stopped.");
        var volume = await volumes.GetAsync(write, caller.ProjectId, volume_id, ct);
        if (volume is null) return EcsErrors.Invalid($"Volume [{volume_id}] could not be found.");
        if (volume.Status is VolumeStatus.Attaching or VolumeStatus.Detaching)
            return EcsErrors.Conflict($"Volume [{volume_id}] is {volume.Status}; try again when it has finished.");

        // A shared disk still attached elsewhere stays in-use throughout.
        if (attachments.Count == 1) await volumes.SetStatusAsync(write, [volume_id], VolumeStatus.Detaching, [VolumeStatus.InUse], ct);
        var jobId = await jobs.EnqueueAsync(write, "ecs", DetachVolumeJob.Type, caller.ProjectId, new DiskPayload(server_id, volume_id),
            EcsJobEntities.WithSubJobs("detachSingleVolume", [new() { ["server_id"] = server_id, ["volume_id"] = volume_id }]),
            server_id, null, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new JobAccepted(jobId));
    }

    [GeneratedRegex("^/dev/(vd|sd)[b-z]$")]
    private static partial Regex DevicePattern();
}
