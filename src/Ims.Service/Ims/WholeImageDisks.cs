using Ims.Service.Backups;
using Ims.Service.Storage;

namespace Ims.Service.Ims;

/// <summary>
/// The disks a whole image restores, read from its backup: what ECS needs to give a new server the same layout.
/// </summary>
public sealed record WholeImageDisks(long SystemDiskGb, string SystemDiskType, string? SanPolicy, IReadOnlyList<WholeImageDisks.Disk> DataDisks,
    string? SystemManifestId = null)
{
    /// <summary>Volume metadata key set on data disks that come up offline (a Windows source without OnlineAll).</summary>
    public const string OfflineKey = "offline";

    /// <summary>A captured data disk; <paramref name="ManifestId"/> names its bytes (null: captured before disks had bytes).</summary>
    public sealed record Disk(string VolumeId, long SizeGb, string VolumeType, bool Multiattach, string Device, string? ManifestId = null);

    /// <summary>The recorded disks of <paramref name="backupId"/>, data disks in device order; null without a system disk.</summary>
    public static async Task<WholeImageDisks?> LoadAsync(WriteScope write, BackupStore backups, string backupId, CancellationToken ct)
    {
        var rows = await backups.GetCapturedDisksAsync(write, backupId, ct);
        var system = rows.FirstOrDefault(r => r.BootIndex == 0);
        if (system is null) return null;
        return new WholeImageDisks(system.SizeGb, system.VolumeType, system.SanPolicy,
            [.. rows.Where(r => r.BootIndex != 0).Select(r => new Disk(r.VolumeId, r.SizeGb, r.VolumeType, r.Multiattach, r.Device, r.ManifestId))],
            system.ManifestId);
    }
}
