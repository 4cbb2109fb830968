using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Backups;

/// <summary>What a job that captures a checkpoint's backups tells <see cref="BackupSteps"/>.</summary>
/// <param name="CheckpointId">The checkpoint whose <c>protecting</c> backups the job captures.</param>
/// <param name="Excludes">Per backup id, the disks its vault resource leaves out (none when null).</param>
/// <param name="NothingToCapture">
/// The failure when no server of the checkpoint exists any more with a disk left to back up, in the job's own codes.
/// </param>
public sealed record BackupJob(
    Func<JobContext, string> CheckpointId,
    Func<JobContext, IReadOnlyDictionary<string, List<string>>?> Excludes,
    Func<JobFailedException> NothingToCapture);

/// <summary>
/// The one definition of "capture the servers' disks into backup records" as job steps, run by the CBR checkpoint job,
/// the CSBS backup job and mode A of whole images (which adds its progress and the image registration around them):
/// <list type="number">
/// <item><see cref="Capture"/>: one <c>backup_volumes</c> row per attached disk of each backup still <c>protecting</c>
/// (a backup whose server vanished or has no disk left ends in <c>error</c>; none left fails the job);</item>
/// <item><see cref="CaptureBytes"/>: the disks' bytes at one instant (work), their manifest ids recorded (commit);</item>
/// <item><see cref="Complete"/>: the backups and the checkpoint become <c>available</c> and the servers are released.</item>
/// </list>
/// A failed job calls <see cref="FailAsync"/> from its compensation.
/// </summary>
public sealed class BackupSteps(BackupCapture capture, BackupStore backups)
{
    public const string Capture = "capture";
    public const string CaptureBytes = "capture bytes";
    public const string Complete = "complete";

    public IReadOnlyList<JobStep> For(BackupJob job) =>
    [
        new(Capture, (context, write, ct) => CaptureAsync(job, context, write, ct)),
        JobStep.WithWork(CaptureBytes,
            (context, ct) => CaptureBytesAsync(job.CheckpointId(context), ct),
            (_, captured, write, ct) => capture.RecordBytesAsync(write, captured, ct)),
        new(Complete, (context, write, ct) => capture.FinishCheckpointAsync(write, job.CheckpointId(context), succeeded: true, ct)),
    ];

    /// <summary>Ends every backup of the checkpoint still <c>protecting</c> in <c>error</c>, releasing its server.</summary>
    public Task FailAsync(WriteScope write, string checkpointId, CancellationToken ct) =>
        capture.FinishCheckpointAsync(write, checkpointId, succeeded: false, ct);

    private async Task CaptureAsync(BackupJob job, JobContext context, WriteScope write, CancellationToken ct)
    {
        var excludes = job.Excludes(context);
        var started = await backups.GetBackupsOfCheckpointAsync(write, job.CheckpointId(context), ct);
        var captured = 0;
        foreach (var backup in started.Where(b => b.Status == BackupStatus.Protecting))
        {
            var excluded = excludes?.GetValueOrDefault(backup.Id) ?? [];
            if (await capture.CaptureAsync(write, backup.Id, excluded, ct)) captured++;
            else await capture.AbortAsync(write, backup.Id, ct);
        }
        if (captured == 0) throw job.NothingToCapture();
    }

    /// <summary>Every disk of every server of the checkpoint, at one instant.</summary>
    private async Task<CapturedBytes> CaptureBytesAsync(string checkpointId, CancellationToken ct)
    {
        var backupIds = (await backups.GetBackupsOfCheckpointAsync(checkpointId, ct))
            .Where(b => b.Status == BackupStatus.Protecting).Select(b => b.Id).ToList();
        return await capture.CaptureBytesAsync(backupIds, ct);
    }
}
