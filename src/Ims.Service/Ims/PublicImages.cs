using Ims.Service.Storage;
using DataPlaneStore = Ims.DataPlane.DataPlane;
using DiskFormat = Ims.DataPlane.DiskFormat;

namespace Ims.Service.Ims;

/// <summary>
/// The public ("gold") images every project sees. Their ids are fixed so that configurations and tests can
/// name them; seeding is idempotent. Each carries a small generated disk (<see cref="PublicImageDisk"/>) in the data
/// plane, so a server booted from it starts with recognisable bytes.
/// </summary>
public static class PublicImages
{
    /// <summary>Owner of public images: the platform's own project, which no account can act as.</summary>
    public const string PlatformOwner = "00000000000000000000000000000000";

    public const string Ubuntu1804 = "7d5b8f3a-1c2e-4f60-9b11-18040000a001";
    public const string Debian11 = "7d5b8f3a-1c2e-4f60-9b11-d1100000a002";
    public const string Windows2019 = "7d5b8f3a-1c2e-4f60-9b11-2019000a0003";

    private sealed record Seed(string Id, string Name, string OsType, string OsVersion, string Platform, long ImageSize);

    private static readonly Seed[] Seeds =
    [
        new(Ubuntu1804, "Ubuntu 18.04 server 64bit", "Linux", "Ubuntu 18.04 server 64bit", "Ubuntu", 2_361_393_152),
        new(Debian11, "Standard_Debian_11_latest", "Linux", "Debian GNU/Linux 11.0.0 64bit", "Debian", 2_147_483_648),
        new(Windows2019, "Windows Server 2019 Datacenter 64bit English", "Windows", "Windows Server 2019 Datacenter 64bit English", "Windows", 16_106_127_360),
    ];

    public static async Task SeedAsync(Database db, ImageStore images, DataPlaneStore dataPlane, string scratchFolder, TimeProvider time,
        CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using (var write = await db.BeginWriteAsync(ct))
        {
            foreach (var seed in Seeds)
            {
                await images.InsertAsync(write, new ImageRow
                {
                    Id = seed.Id,
                    Owner = PlatformOwner,
                    Name = seed.Name,
                    Status = "active",
                    Visibility = "public",
                    Imagetype = "gold",
                    OsType = seed.OsType,
                    OsVersion = seed.OsVersion,
                    Platform = seed.Platform,
                    MinDisk = 40,
                    ImageSize = seed.ImageSize,
                    Properties = """{"__support_kvm":"true","hw_firmware_type":"bios","__os_feature_list":"{}","__support_xen":"false"}""",
                    CreatedAt = now,
                    UpdatedAt = now,
                    ActiveAt = now,
                }, ImageProvenance.None, ct);
            }
            await write.CommitAsync(ct);
        }

        var withoutContent = await images.WithoutContentAsync([.. Seeds.Select(s => s.Id)], ct);
        // In parallel: each import waits mostly on its own fsyncs, and every test starts a service.
        await Task.WhenAll(Seeds.Where(s => withoutContent.Contains(s.Id)).Select(seed => ImportContentAsync(db, images, dataPlane, scratchFolder, seed, ct)));
    }

    /// <summary>
    /// Generates the image's disk, stores it in the data plane and names its manifest on the row. The lease keeps the
    /// new manifest from garbage collection until the row that names it is committed.
    /// </summary>
    private static async Task ImportContentAsync(Database db, ImageStore images, DataPlaneStore dataPlane, string scratchFolder, Seed seed, CancellationToken ct)
    {
        Directory.CreateDirectory(scratchFolder);
        var path = Path.Combine(scratchFolder, $"public-{seed.Id}-{Guid.NewGuid():N}.raw");
        try
        {
            await PublicImageDisk.WriteAsync(path, seed.Name, seed.OsType == "Windows", ct);
            using var lease = await dataPlane.ImportAsync(path, DiskFormat.Raw, ct);
            await using var write = await db.BeginWriteAsync(ct);
            await images.SetSeedContentAsync(write, seed.Id, lease.Disks[0].ManifestId, ct);
            await write.CommitAsync(ct);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
