using System.Text.Json.Nodes;
using Dapper;
using Ims.Service.Data;
using Ims.Service.Evs;
using Ims.Service.Http;
using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Ecs;

public sealed record CreateServersPayload(List<string> ServerIds, List<string> VolumeIds);

public sealed record ServersPayload(List<string> ServerIds, bool DeleteVolumes);

public sealed record DiskPayload(string ServerId, string VolumeId);

/// <summary>
/// ECS job entities. Every ECS job answers with <c>sub_jobs</c>, one per server: terraform reads
/// <c>entities.sub_jobs[0].entities.server_id</c> without a length check, so even single-server jobs carry one.
/// </summary>
public static class EcsJobEntities
{
    public static JsonObject WithSubJobs(string subJobType, IEnumerable<JsonObject> subEntities)
    {
        var subJobs = new JsonArray();
        foreach (var entities in subEntities)
        {
            subJobs.Add(new JsonObject
            {
                ["status"] = JobStatus.Init,
                ["entities"] = entities,
                ["job_id"] = Ids.NewHex32(),
                ["job_type"] = subJobType,
                ["begin_time"] = null,
                ["end_time"] = null,
                ["error_code"] = null,
                ["fail_reason"] = null,
            });
        }
        return new JsonObject { ["sub_jobs_total"] = subJobs.Count, ["sub_jobs"] = subJobs };
    }

    public static JsonObject ForServers(string subJobType, IEnumerable<string> serverIds) =>
        WithSubJobs(subJobType, serverIds.Select(id => new JsonObject { ["server_id"] = id }));
}

/// <summary>Brings up the servers of one create request: disks first, then the servers themselves.</summary>
public sealed class CreateServerJob(Volumes volumes, DiskFiles files) : JobHandler
{
    public const string Type = "createServer";

    public override string JobType => Type;

    public override string InternalErrorCode => "Ecs.0002";

    public override IReadOnlyList<JobStep> Steps =>
    [
        JobStep.WithWork("create disks",
            (job, ct) => files.MaterialiseAsync(job.Payload<CreateServersPayload>().VolumeIds, DiskFiles.EcsDamagedCode, ct),
            (job, write, ct) => volumes.CompleteCreationAsync(write, job.Payload<CreateServersPayload>().VolumeIds, ct)),
        new("boot servers", BootAsync),
    ];

    private static async Task BootAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        var ids = job.Payload<CreateServersPayload>().ServerIds;
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE servers SET status = 'ACTIVE', task_state = NULL, launched_at = @now, updated_at = @now
            WHERE id IN @ids AND status = 'BUILD'
            """,
            new { ids, now = job.NowMs }, write.Transaction, cancellationToken: ct));
        await write.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE ports SET status = 'ACTIVE' WHERE device_id IN @ids AND project_id = @projectId",
            new { ids, projectId = job.ProjectId }, write.Transaction, cancellationToken: ct));
    }

    /// <summary>
    /// A server that could not be built stays visible in ERROR (as on ECS) so that it can be inspected and deleted;
    /// its addresses go back to the subnet and its disks are marked failed.
    /// </summary>
    public override async Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        var payload = job.Payload<CreateServersPayload>();
        await write.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE servers SET status = 'ERROR', task_state = NULL, updated_at = @now WHERE id IN @ids AND status = 'BUILD'",
            new { ids = payload.ServerIds, now = job.NowMs }, write.Transaction, cancellationToken: ct));
        await write.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM ports WHERE device_id IN @ids AND project_id = @projectId",
            new { ids = payload.ServerIds, projectId = job.ProjectId }, write.Transaction, cancellationToken: ct));
        await volumes.FailCreationAsync(write, payload.VolumeIds, ct);
    }
}

/// <summary>Stops, starts or reboots servers; the request already took each server with its task state.</summary>
public sealed class PowerJob(string jobType, string taskState, string targetStatus) : JobHandler
{
    public const string StopType = "stopServer";
    public const string StartType = "startServer";
    public const string RebootType = "rebootServer";

    public static PowerJob Stop() => new(StopType, ServerGuards.PoweringOff, ServerStatus.Shutoff);
    public static PowerJob Start() => new(StartType, ServerGuards.PoweringOn, ServerStatus.Active);
    public static PowerJob Reboot() => new(RebootType, ServerGuards.Rebooting, ServerStatus.Active);

    public override string JobType => jobType;

    public override string InternalErrorCode => "Ecs.0002";

    public override IReadOnlyList<JobStep> Steps =>
    [
        new("power", (job, write, ct) => write.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE servers SET status = @targetStatus, task_state = NULL, updated_at = @now
            WHERE id IN @ids AND task_state = @taskState
            """,
            new { targetStatus, taskState, ids = job.Payload<ServersPayload>().ServerIds, now = job.NowMs },
            write.Transaction, cancellationToken: ct))),
    ];

    public override async Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        foreach (var id in job.Payload<ServersPayload>().ServerIds)
            await ServerGuards.ReleaseAsync(write, id, taskState, job.NowMs, ct);
    }
}

/// <summary>
/// Deletes servers with their NICs and system disks; data disks go too when the request asked for it,
/// otherwise they become available again (or stay in use when a shared disk is still attached elsewhere).
/// </summary>
public sealed class DeleteServerJob(Volumes volumes) : JobHandler
{
    public const string Type = "deleteServer";

    public override string JobType => Type;

    public override string InternalErrorCode => "Ecs.0002";

    public override IReadOnlyList<JobStep> Steps => [new("delete servers", DeleteAsync)];

    private async Task DeleteAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        var payload = job.Payload<ServersPayload>();
        var ids = payload.ServerIds;
        var attachments = (await write.Connection.QueryAsync<AttachmentRow>(new CommandDefinition(
            $"SELECT {Volumes.AttachmentColumns} FROM volume_attachments WHERE server_id IN @ids",
            new { ids }, write.Transaction, cancellationToken: ct))).AsList();
        await write.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM volume_attachments WHERE server_id IN @ids", new { ids }, write.Transaction, cancellationToken: ct));
        await write.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM ports WHERE device_id IN @ids AND project_id = @projectId",
            new { ids, projectId = job.ProjectId }, write.Transaction, cancellationToken: ct));
        await write.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM servers WHERE id IN @ids AND project_id = @projectId",
            new { ids, projectId = job.ProjectId }, write.Transaction, cancellationToken: ct));

        var volumeIds = attachments.Select(a => a.VolumeId).Distinct().ToList();
        var stillAttached = (await Volumes.AttachmentsOfVolumesAsync(write.Connection, write.Transaction, volumeIds, ct))
            .Select(a => a.VolumeId).ToHashSet(StringComparer.Ordinal);
        var doomed = attachments
            .Where(a => !stillAttached.Contains(a.VolumeId) && (a.DeleteOnTermination != 0 || payload.DeleteVolumes))
            .Select(a => a.VolumeId).Distinct().ToList();
        await volumes.DeleteAsync(write, doomed, ct);
        await volumes.SettleAsync(write, volumeIds.Except(doomed).ToList(), ct);
    }

    public override async Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        foreach (var id in job.Payload<ServersPayload>().ServerIds)
            await ServerGuards.ReleaseAsync(write, id, ServerGuards.Deleting, job.NowMs, ct);
    }
}

/// <summary>Finishes attaching a disk whose attachment the request already recorded.</summary>
public sealed class AttachVolumeJob(Volumes volumes) : JobHandler
{
    public const string Type = "attachVolume";

    public override string JobType => Type;

    public override string InternalErrorCode => "Ecs.0002";

    public override IReadOnlyList<JobStep> Steps =>
    [
        new("attach", (job, write, ct) => volumes.SettleAsync(write, [job.Payload<DiskPayload>().VolumeId], ct)),
    ];

    public override async Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        var disk = job.Payload<DiskPayload>();
        await write.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM volume_attachments WHERE volume_id = @VolumeId AND server_id = @ServerId",
            disk, write.Transaction, cancellationToken: ct));
        await volumes.SettleAsync(write, [disk.VolumeId], ct);
    }
}

/// <summary>Removes an attachment; the disk becomes available unless it is still attached elsewhere.</summary>
public sealed class DetachVolumeJob(Volumes volumes) : JobHandler
{
    public const string Type = "detachVolume";

    public override string JobType => Type;

    public override string InternalErrorCode => "Ecs.0002";

    public override IReadOnlyList<JobStep> Steps =>
    [
        new("detach", async (job, write, ct) =>
        {
            var disk = job.Payload<DiskPayload>();
            await write.Connection.ExecuteAsync(new CommandDefinition(
                "DELETE FROM volume_attachments WHERE volume_id = @VolumeId AND server_id = @ServerId",
                disk, write.Transaction, cancellationToken: ct));
            await volumes.SettleAsync(write, [disk.VolumeId], ct);
        }),
    ];

    public override Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct) =>
        volumes.SettleAsync(write, [job.Payload<DiskPayload>().VolumeId], ct);
}
