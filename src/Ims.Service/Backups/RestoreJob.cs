using Ims.Service.Data;
using Ims.Service.Ecs;
using Ims.Service.Evs;
using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Backups;

/// <summary>One disk a restore writes: the target volume, its size and the manifest of the backed-up disk.</summary>
public sealed record RestoreDisk(string VolumeId, long SizeGb, string ManifestId);

/// <summary>What a restore job does: the backup, the server it holds (server backups) and whether to start it after.</summary>
public sealed record RestorePayload(string BackupId, string? ServerId, bool PowerOn, List<RestoreDisk> Disks);

/// <summary>
/// Writes a backup back onto disks (started by <see cref="ServerRestore.StartAsync"/>; CBR and CSBS differ only in the job
/// type and codes). The one step's work restores every disk under a temporary name and publishes them only when all were
/// written (<see cref="DiskFiles.RestoreOntoAsync"/>): a damaged chunk fails the job with no disk changed. The commit (and
/// a failure alike) settles the disks, makes the backup available again and hands the server back, started when
/// <c>power_on</c> asked for it.
/// </summary>
public abstract class RestoreJob(BackupStore backups, ServerStore servers, VolumeStore volumes, DiskFiles files) : JobHandler
{
    /// <summary>The one step's name (fault tests hold it).</summary>
    public const string StepName = "restore disks";

    /// <summary>The job's error code when the backup's data is damaged (its reason names the chunk).</summary>
    protected abstract string DamagedCode { get; }

    public override IReadOnlyList<JobStep> Steps =>
    [
        JobStep.WithWork(StepName,
            (job, ct) => files.RestoreOntoAsync(job.Payload<RestorePayload>().Disks, DamagedCode, ct),
            (job, write, ct) => FinishAsync(job, write, succeeded: true, ct)),
    ];

    public override Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct) => FinishAsync(job, write, succeeded: false, ct);

    private async Task FinishAsync(JobContext job, WriteScope write, bool succeeded, CancellationToken ct)
    {
        var restore = job.Payload<RestorePayload>();
        await volumes.SettleFromAsync(write, [.. restore.Disks.Select(d => d.VolumeId)], VolumeStatus.Restoring, ct);
        await backups.MoveStatusAsync(write, restore.BackupId, BackupStatus.Restoring, BackupStatus.Available, job.NowMs, ct);
        if (restore.ServerId is { } serverId)
            await servers.FinishTaskAsync(write, [serverId], ServerRestore.ServerTaskState,
                succeeded && restore.PowerOn ? ServerStatus.Active : ServerStatus.Shutoff, job.NowMs, ct);
    }
}
