using System.Text.Json.Nodes;
using Ims.Service.Data;
using Ims.Service.Evs;
using Ims.Service.Http;
using Ims.Service.Jobs;
using Ims.Service.Storage;
using Ims.Service.Vpc;

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
public sealed class CreateServerJob(ServerStore servers, VolumeStore volumes, VpcStore vpcs, DiskFiles files) : JobHandler
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

    private async Task BootAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        var ids = job.Payload<CreateServersPayload>().ServerIds;
        await servers.MarkBuiltAsync(write, ids, job.NowMs, ct);
        await vpcs.ActivatePortsAsync(write, job.ProjectId, ids, ct);
    }

    /// <summary>
    /// A server that could not be built stays visible in ERROR (as on ECS) so that it can be inspected and deleted;
    /// its addresses go back to the subnet and its disks are marked failed. No disk of it keeps a file: the files of its
    /// new disks are doomed with their failure (the step's <c>Work</c> already removed them; this covers a crash).
    /// </summary>
    public override async Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        var payload = job.Payload<CreateServersPayload>();
        await servers.MarkBuildFailedAsync(write, payload.ServerIds, job.NowMs, ct);
        await vpcs.DeletePortsAsync(write, job.ProjectId, payload.ServerIds, ct);
        await volumes.FailCreationAsync(write, payload.VolumeIds, ct);
    }
}

/// <summary>Stops, starts or reboots servers; the request already took each server with its task state.</summary>
public sealed class PowerJob(ServerStore servers, string jobType, string taskState, string targetStatus) : JobHandler
{
    public const string StopType = "stopServer";
    public const string StartType = "startServer";
    public const string RebootType = "rebootServer";

    public static PowerJob Stop(ServerStore servers) => new(servers, StopType, ServerGuards.PoweringOff, ServerStatus.Shutoff);
    public static PowerJob Start(ServerStore servers) => new(servers, StartType, ServerGuards.PoweringOn, ServerStatus.Active);
    public static PowerJob Reboot(ServerStore servers) => new(servers, RebootType, ServerGuards.Rebooting, ServerStatus.Active);

    public override string JobType => jobType;

    public override string InternalErrorCode => "Ecs.0002";

    public override IReadOnlyList<JobStep> Steps =>
    [
        new("power", (job, write, ct) =>
            servers.FinishTaskAsync(write, job.Payload<ServersPayload>().ServerIds, taskState, targetStatus, job.NowMs, ct)),
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
public sealed class DeleteServerJob(ServerStore servers, VolumeStore volumes, VpcStore vpcs) : JobHandler
{
    public const string Type = "deleteServer";

    public override string JobType => Type;

    public override string InternalErrorCode => "Ecs.0002";

    public override IReadOnlyList<JobStep> Steps => [new("delete servers", DeleteAsync)];

    private async Task DeleteAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        var payload = job.Payload<ServersPayload>();
        var ids = payload.ServerIds;
        var attachments = await volumes.DetachServersAsync(write, ids, ct);
        await vpcs.DeletePortsAsync(write, job.ProjectId, ids, ct);
        await servers.DeleteAsync(write, job.ProjectId, ids, ct);

        var volumeIds = attachments.Select(a => a.VolumeId).Distinct().ToList();
        var stillAttached = (await volumes.GetAttachmentsAsync(write, volumeIds, ct))
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
public sealed class AttachVolumeJob(VolumeStore volumes) : JobHandler
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
        await volumes.DetachAsync(write, disk.VolumeId, disk.ServerId, ct);
        await volumes.SettleAsync(write, [disk.VolumeId], ct);
    }
}

/// <summary>Removes an attachment; the disk becomes available unless it is still attached elsewhere.</summary>
public sealed class DetachVolumeJob(VolumeStore volumes) : JobHandler
{
    public const string Type = "detachVolume";

    public override string JobType => Type;

    public override string InternalErrorCode => "Ecs.0002";

    public override IReadOnlyList<JobStep> Steps =>
    [
        new("detach", async (job, write, ct) =>
        {
            var disk = job.Payload<DiskPayload>();
            await volumes.DetachAsync(write, disk.VolumeId, disk.ServerId, ct);
            await volumes.SettleAsync(write, [disk.VolumeId], ct);
        }),
    ];

    public override Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct) =>
        volumes.SettleAsync(write, [job.Payload<DiskPayload>().VolumeId], ct);
}

public sealed record ResizePayload(string ServerId, string FlavorId, string Status);

/// <summary>
/// Changes a server's flavor. The request took the server with <see cref="ServerGuards.Resizing"/>; the server ends in the
/// status it had (a running one is stopped, resized and started again: <c>withStopServer</c>).
/// </summary>
public sealed class ResizeServerJob(ServerStore servers) : JobHandler
{
    public const string Type = "resizeServer";

    public override string JobType => Type;

    public override string InternalErrorCode => "Ecs.0002";

    public override IReadOnlyList<JobStep> Steps =>
    [
        new("resize", (job, write, ct) =>
        {
            var resize = job.Payload<ResizePayload>();
            return servers.CompleteResizeAsync(write, resize.ServerId, resize.FlavorId, resize.Status, ServerGuards.Resizing, job.NowMs, ct);
        }),
    ];

    public override Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct) =>
        ServerGuards.ReleaseAsync(write, job.Payload<ResizePayload>().ServerId, ServerGuards.Resizing, job.NowMs, ct);
}
