using System.Text.Json.Serialization;
using Dapper;
using Ims.Service.Auth;
using Ims.Service.Data;
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

    private static async Task<IResult> ChangeOsAsync(string server_id, Caller caller, Database db, ImageStore images, JobQueue jobs,
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
        var server = await ServerViews.FindAsync(write.Connection, write.Transaction, caller.ProjectId, server_id, ct);
        if (server is null) return EcsErrors.NotFound(server_id);

        var image = await images.GetVisibleAsync(write, caller.ProjectId, imageId, ct);
        if (image is not { Status: "active" }) return EcsErrors.Invalid($"Image [{imageId}] could not be found.");
        if (image.WholeImage)
            return EcsErrors.Invalid($"Image [{imageId}] is a full-ECS image: its data disks cannot be restored by changing the OS " +
                "of an existing ECS. Create a new ECS from the image instead.");

        if (server.Status != ServerStatus.Shutoff && !(withStop.Value && server.Status == ServerStatus.Active))
            return EcsErrors.Conflict($"Instance[{server_id}] must be stopped to change its OS (or send mode withStopServer).");
        var systemDiskGb = await write.Connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            """
            SELECT v.size_gb FROM volume_attachments a JOIN volumes v ON v.id = a.volume_id
            WHERE a.server_id = @server_id AND a.boot_index = 0
            """, new { server_id }, write.Transaction, cancellationToken: ct));
        if (systemDiskGb is null) return EcsErrors.Conflict($"Instance[{server_id}] has no system disk.");
        if (systemDiskGb < image.MinDisk)
            return EcsErrors.Invalid($"The system disk ({systemDiskGb} GB) is smaller than the image's minimum disk size ({image.MinDisk} GB).");

        var claim = await ServerGuards.TryClaimAsync(write, caller.ProjectId, server_id, TaskState, now, ct);
        if (!claim.Claimed) return claim.EcsRefusal()!;
        // The system disk will be the new image's content; recording the manifest now keeps it alive until the job wrote it.
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE volumes SET source_manifest_id = @manifestId
            WHERE id IN (SELECT volume_id FROM volume_attachments WHERE server_id = @server_id AND boot_index = 0)
            """, new { manifestId = image.ManifestId, server_id }, write.Transaction, cancellationToken: ct));
        var jobId = await jobs.EnqueueAsync(write, "ecs", ChangeOsJob.Type, caller.ProjectId,
            new ChangeOsPayload(server_id, imageId, server.Status == ServerStatus.Active),
            EcsJobEntities.ForServers("changeOS", [server_id]), server_id, ct);
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
public sealed class ChangeOsJob(Database db, ImageStore images, DiskFiles files) : JobHandler
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
        SystemDisk? disk;
        await using (var connection = await db.OpenAsync(ct))
        {
            disk = await connection.QuerySingleOrDefaultAsync<SystemDisk>(new CommandDefinition(
                """
                SELECT v.id AS Id, v.size_gb AS SizeGb, v.source_manifest_id AS ManifestId
                FROM volume_attachments a JOIN volumes v ON v.id = a.volume_id
                WHERE a.server_id = @ServerId AND a.boot_index = 0
                """, payload, cancellationToken: ct));
        }
        if (disk is null) return;
        await files.ReplaceAsync(disk.Id, disk.SizeGb * DiskFiles.BytesPerGb, disk.ManifestId, DiskFiles.EcsDamagedCode, ct);
    }

    private async Task CommitAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        var payload = job.Payload<ChangeOsPayload>();
        var os = (await images.GetAsync(write, payload.ImageId, ct))!;
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE servers SET image_id = @ImageId, os_type = @osType, status = 'ACTIVE', task_state = NULL, updated_at = @now,
                   san_policy = CASE WHEN @osType = 'Windows' THEN COALESCE(san_policy, 'OnlineAll') ELSE NULL END
            WHERE id = @ServerId AND task_state = @taskState
            """,
            new { payload.ImageId, payload.ServerId, osType = os.OsType, now = job.NowMs, taskState = ServerChangeOs.TaskState },
            write.Transaction, cancellationToken: ct));
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE volumes SET image_id = @ImageId, source_manifest_id = NULL, updated_at = @now
            WHERE id IN (SELECT volume_id FROM volume_attachments WHERE server_id = @ServerId AND boot_index = 0)
            """, new { payload.ImageId, payload.ServerId, now = job.NowMs }, write.Transaction, cancellationToken: ct));
    }

    public override async Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        var payload = job.Payload<ChangeOsPayload>();
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE volumes SET source_manifest_id = NULL
            WHERE id IN (SELECT volume_id FROM volume_attachments WHERE server_id = @ServerId AND boot_index = 0)
            """, payload, write.Transaction, cancellationToken: ct));
        await ServerGuards.ReleaseAsync(write, payload.ServerId, ServerChangeOs.TaskState, job.NowMs, ct);
    }

    private sealed record SystemDisk
    {
        public string Id { get; init; } = "";
        public long SizeGb { get; init; }
        public string? ManifestId { get; init; }
    }
}
