using System.Text.Json.Serialization;
using Ims.Service.Auth;
using Ims.Service.Data;
using Ims.Service.Evs;
using Ims.Service.Http;
using Ims.Service.Ims;
using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Ecs;

public sealed record ChangeOsPayload(string ServerId, string ImageId, bool StartAfter);

/// <summary>
/// Changing an ECS's OS (<c>POST /v1|v2/{project_id}/cloudservers/{server_id}/changeos</c>): the system disk gets a
/// new image, the data disks stay. A full-ECS image is refused: its data disks can only come back on a new server
/// (the Huawei docs say so for all three whole-image modes).
/// </summary>
public static class ServerChangeOs
{
    public const string TaskState = "changing_os";

    public static IEndpointRouteBuilder MapServerChangeOs(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/{project_id}/cloudservers/{server_id}/changeos", ChangeOsAsync).ForService(ServiceKind.Ecs);
        app.MapPost("/v2/{project_id}/cloudservers/{server_id}/changeos", ChangeOsAsync).ForService(ServiceKind.Ecs);
        return app;
    }

    private static async Task<IResult> ChangeOsAsync(string server_id, Caller caller, Database db, ServerStore servers, ImageStore images,
        VolumeStore volumes,
        JobQueue jobs,
        TimeProvider time, HttpContext http)
    {
        var (body, error) = await JsonBody.ReadAsync<ChangeOsRequest>(http, ServiceKind.Ecs);
        if (error is not null) return error;
        if (body!.OsChange?.ImageId is not { Length: > 0 } imageId) return EcsErrors.Invalid("os-change.imageid is required.");
        var withStop = body.OsChange.Mode switch
        {
            null => false,
            "withStopServer" => true,
            _ => (bool?)null,
        };
        if (withStop is null) return EcsErrors.Invalid($"Invalid os-change.mode '{body.OsChange.Mode}': use withStopServer.");

        var ct = http.RequestAborted;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var write = await db.BeginWriteAsync(ct);
        var server = await servers.GetAsync(write, caller.ProjectId, server_id, ct);
        if (server is null) return EcsErrors.NotFound(server_id);

        var image = await images.GetVisibleAsync(write, caller.ProjectId, imageId, ct);
        if (image is not { Status: "active" }) return EcsErrors.Invalid($"Image [{imageId}] could not be found.");
        if (image.WholeImage)
            return EcsErrors.Invalid($"Image [{imageId}] is a full-ECS image: its data disks cannot be restored by changing the OS " +
                "of an existing ECS. Create a new ECS from the image instead.");
        if (image.IsDataImage)
            return EcsErrors.Invalid($"Image [{imageId}] is a data disk image: a system disk takes a system disk image.");

        if (server.Status != ServerStatus.Shutoff && !(withStop.Value && server.Status == ServerStatus.Active))
            return EcsErrors.Conflict($"Instance[{server_id}] must be stopped to change its OS (or send mode withStopServer).");
        var systemDiskGb = (await volumes.GetSystemDiskAsync(write, server_id, ct))?.SizeGb;
        if (systemDiskGb is null) return EcsErrors.Conflict($"Instance[{server_id}] has no system disk.");
        if (systemDiskGb < image.MinDisk)
            return EcsErrors.Invalid($"The system disk ({systemDiskGb} GB) is smaller than the image's minimum disk size ({image.MinDisk} GB).");

        var claim = await ServerGuards.TryClaimAsync(write, caller.ProjectId, server_id, TaskState, now, ct);
        if (!claim.Claimed) return claim.EcsRefusal()!;
        // The system disk will be the new image's content; recording the manifest now keeps it alive until the job wrote it.
        await volumes.SetSystemDiskSourceAsync(write, server_id, image.ManifestId, ct);
        var jobId = await jobs.EnqueueAsync(write, "ecs", ChangeOsJob.Type, caller.ProjectId,
            new ChangeOsPayload(server_id, imageId, server.Status == ServerStatus.Active),
            EcsJobEntities.ForServers("changeOS", [server_id]), server_id, await servers.GetNodeAsync(write, server_id, ct), ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { job_id = jobId });
    }

    private sealed record ChangeOsRequest([property: JsonPropertyName("os-change")] OsChange? OsChange);

    private sealed record OsChange(
        [property: JsonPropertyName("imageid")] string? ImageId,
        [property: JsonPropertyName("adminpass")] string? AdminPass,
        [property: JsonPropertyName("keyname")] string? KeyName,
        [property: JsonPropertyName("userid")] string? UserId,
        [property: JsonPropertyName("mode")] string? Mode);
}

/// <summary>Puts the new image on the server and its system disk, then hands the server back (running again).</summary>
public sealed class ChangeOsJob(ServerStore servers, ImageStore images, VolumeStore volumes, DiskFiles files) : JobHandler
{
    public const string Type = "changeOS";

    public override string JobType => Type;

    public override string InternalErrorCode => "Ecs.0002";

    public override IReadOnlyList<JobStep> Steps =>
    [
        JobStep.WithWork("change os", RestoreSystemDiskAsync, CommitAsync),
    ];

    /// <summary>Writes the new image onto the system disk (verified first: damaged image data leaves the old disk as it was).</summary>
    private async Task RestoreSystemDiskAsync(JobContext job, CancellationToken ct)
    {
        var payload = job.Payload<ChangeOsPayload>();
        var disk = await volumes.GetSystemDiskAsync(payload.ServerId, ct);
        if (disk is null) return;
        await files.ReplaceAsync(disk.Id, disk.SizeGb * DiskFiles.BytesPerGb, disk.SourceManifestId, DiskFiles.EcsDamagedCode, ct);
    }

    private async Task CommitAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        var payload = job.Payload<ChangeOsPayload>();
        var os = (await images.GetAsync(write, payload.ImageId, ct))!;
        await servers.CompleteChangeOsAsync(write, payload.ServerId, payload.ImageId, os.OsType, ServerChangeOs.TaskState, job.NowMs, ct);
        await volumes.SetSystemDiskImageAsync(write, payload.ServerId, payload.ImageId, ct);
    }

    public override async Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        var payload = job.Payload<ChangeOsPayload>();
        await volumes.SetSystemDiskSourceAsync(write, payload.ServerId, null, ct);
        await ServerGuards.ReleaseAsync(write, payload.ServerId, ServerChangeOs.TaskState, job.NowMs, ct);
    }
}
