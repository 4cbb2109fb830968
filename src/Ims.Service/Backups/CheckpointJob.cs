using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Backups;

/// <summary>Input of a checkpoint job: the checkpoint, and per backup the disks its vault resource excludes.</summary>
public sealed record CheckpointJobPayload(string CheckpointId, Dictionary<string, List<string>>? Excludes = null);

/// <summary>
/// Captures every backup a request started in a checkpoint, then marks them and the checkpoint available: exactly the
/// <see cref="BackupSteps"/>. The job is internal: clients poll the checkpoint (CBR) or the checkpoint item (CSBS), never
/// the job. A server that vanished (or has no disk left to capture) fails only its own backup; when no backup is left
/// the job fails, and every backup of the checkpoint ends in <c>error</c> with its server released.
/// </summary>
public abstract class CheckpointJob : JobHandler
{
    private readonly BackupSteps _backup;

    protected CheckpointJob(BackupSteps backup)
    {
        _backup = backup;
        Steps = backup.For(new BackupJob(
            job => job.Payload<CheckpointJobPayload>().CheckpointId,
            job => job.Payload<CheckpointJobPayload>().Excludes,
            () => JobContext.Fail(NothingToCaptureCode, "No server of the checkpoint exists any more with a disk left to back up.")));
    }

    /// <summary>The job's failure code when a server vanished or has nothing left to capture.</summary>
    protected abstract string NothingToCaptureCode { get; }

    public override IReadOnlyList<JobStep> Steps { get; }

    public override Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct) =>
        _backup.FailAsync(write, job.Payload<CheckpointJobPayload>().CheckpointId, ct);
}
