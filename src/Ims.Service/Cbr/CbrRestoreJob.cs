using Ims.Service.Backups;
using Ims.Service.Data;
using Ims.Service.Ecs;
using Ims.Service.Evs;

namespace Ims.Service.Cbr;

/// <summary>Writes a CBR backup back onto disks (<see cref="CbrRestoreEndpoints"/>, <see cref="RestoreJob"/>).</summary>
public sealed class CbrRestoreJob(BackupStore backups, ServerStore servers, VolumeStore volumes, DiskFiles files)
    : RestoreJob(backups, servers, volumes, files)
{
    public const string Type = "cbrRestoreBackup";

    public override string JobType => Type;

    public override string InternalErrorCode => "BackupService.9999";

    protected override string DamagedCode => "BackupService.9999";
}
