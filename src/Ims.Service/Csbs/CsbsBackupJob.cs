using Ims.Service.Backups;
using Ims.Service.Storage;

namespace Ims.Service.Csbs;

/// <summary>Captures the backup a CSBS protect call started.</summary>
public sealed class CsbsBackupJob(BackupCapture capture, Database db) : CheckpointJob(capture, db)
{
    public override string JobType => CsbsEndpoints.JobType;

    public override string InternalErrorCode => "CSBS.9998";

    protected override string NothingToCaptureCode => "CSBS.6000";
}
