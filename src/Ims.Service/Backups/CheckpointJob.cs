using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Backups;

/// <summary>Input of a checkpoint job: the checkpoint, and per backup the disks its vault resource excludes.</summary>
public sealed record CheckpointJobPayload(string CheckpointId, Dictionary<string, List<string>>? Excludes = null);

/// <summary>
/// Captures every backup a request started in a checkpoint, then marks them and the checkpoint available. The job is
/// internal: clients poll the checkpoint (CBR) or the checkpoint item (CSBS), never the job. A server that vanished
/// (or has no disk left to capture) fails only its own backup; when no backup is left the job fails, and every
/// backup of the checkpoint ends in <c>error</c> with its server released.
/// </summary>
public abstract class CheckpointJob(BackupCapture capture, BackupStore backups) : JobHandler
{
    /// <summary>The job's failure code when a server vanished or has nothing left to capture.</summary>
    protected abstract string NothingToCaptureCode { get; }

    public override IReadOnlyList<JobStep> Steps =>
    [
        new("capture", CaptureAsync),
        new("capture bytes", (job, write, ct) => capture.RecordBytesAsync(write, job.JobId, ct))
        {
            Work = CaptureBytesAsync,
        },
        new("complete", CompleteAsync),
    ];

    /// <summary>Every disk of every server of the checkpoint, at one instant.</summary>
    private async Task CaptureBytesAsync(JobContext job, CancellationToken ct)
    {
        var checkpointId = job.Payload<CheckpointJobPayload>().CheckpointId;
        var backupIds = (await backups.GetBackupsOfCheckpointAsync(checkpointId, ct))
            .Where(b => b.Status == BackupStatus.Protecting).Select(b => b.Id).ToList();
        await capture.CaptureBytesAsync(job.JobId, backupIds, ct);
    }

    private async Task CaptureAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        var payload = job.Payload<CheckpointJobPayload>();
        var started = await backups.GetBackupsOfCheckpointAsync(write, payload.CheckpointId, ct);
        var captured = 0;
        foreach (var backup in started.Where(b => b.Status == BackupStatus.Protecting))
        {
            var excluded = payload.Excludes?.GetValueOrDefault(backup.Id) ?? [];
            if (await capture.CaptureAsync(write, backup.Id, excluded, ct)) captured++;
            else await capture.AbortAsync(write, backup.Id, ct);
        }
        if (captured == 0)
            throw JobContext.Fail(NothingToCaptureCode, "No server of the checkpoint exists any more with a disk left to back up.");
    }

    private Task CompleteAsync(JobContext job, WriteScope write, CancellationToken ct) =>
        capture.FinishCheckpointAsync(write, job.Payload<CheckpointJobPayload>().CheckpointId, succeeded: true, ct);

    public override Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        capture.ReleaseBytes(job.JobId);
        return capture.FinishCheckpointAsync(write, job.Payload<CheckpointJobPayload>().CheckpointId, succeeded: false, ct);
    }
}
