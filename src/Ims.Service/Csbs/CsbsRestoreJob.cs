using Ims.Service.Backups;
using Ims.Service.Data;
using Ims.Service.Ecs;
using Ims.Service.Evs;

namespace Ims.Service.Csbs;

/// <summary>Writes a CSBS backup back onto its server's disks (<see cref="CsbsRestoreEndpoints"/>, <see cref="RestoreJob"/>).</summary>
public sealed class CsbsRestoreJob(BackupStore backups, ServerStore servers, VolumeStore volumes, DiskFiles files)
    : RestoreJob(backups, servers, volumes, files)
{
    public const string Type = "csbsRestoreBackup";

    public override string JobType => Type;

    public override string InternalErrorCode => "CSBS.9998";

    protected override string DamagedCode => "CSBS.9998";
}
