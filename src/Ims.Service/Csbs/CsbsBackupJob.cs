using Ims.Service.Backups;

namespace Ims.Service.Csbs;

/// <summary>Captures the backup a CSBS protect call started.</summary>
public sealed class CsbsBackupJob(BackupSteps backup) : CheckpointJob(backup)
{
    public override string JobType => CsbsEndpoints.JobType;

    public override string InternalErrorCode => "CSBS.9998";

    protected override string NothingToCaptureCode => "CSBS.6000";
}
