using Ims.Service.Backups;

namespace Ims.Service.Cbr;

/// <summary>Captures the backups of a CBR restore point (<c>POST /v3/{project_id}/checkpoints</c>).</summary>
public sealed class CbrCheckpointJob(BackupSteps backup) : CheckpointJob(backup)
{
    public override string JobType => CbrBackupEndpoints.JobType;

    public override string InternalErrorCode => "BackupService.9999";

    protected override string NothingToCaptureCode => "BackupService.0001";
}
