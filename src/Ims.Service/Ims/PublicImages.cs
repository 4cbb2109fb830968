using Dapper;
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

    public static async Task SeedAsync(Database db, DataPlaneStore dataPlane, string scratchFolder, TimeProvider time, CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using (var write = await db.BeginWriteAsync(ct))
        {
            foreach (var seed in Seeds)
            {
                await write.Connection.ExecuteAsync(new CommandDefinition(
                    """
                    INSERT INTO images (id, owner, name, status, visibility, imagetype, os_type, os_version, platform, os_bit,
                                        min_disk, min_ram, disk_format, image_size, source_type, properties, created_at, updated_at, active_at)
                    VALUES (@Id, @owner, @Name, 'active', 'public', 'gold', @OsType, @OsVersion, @Platform, '64',
                            40, 0, 'zvhd2', @ImageSize, 'uds', @properties, @now, @now, @now)
                    ON CONFLICT (id) DO NOTHING
                    """,
                    new
                    {
                        seed.Id, seed.Name, seed.OsType, seed.OsVersion, seed.Platform, seed.ImageSize, owner = PlatformOwner, now,
                        properties = """{"__support_kvm":"true","hw_firmware_type":"bios","__os_feature_list":"{}","__support_xen":"false"}""",
                    }, write.Transaction, cancellationToken: ct));
            }
            await write.CommitAsync(ct);
        }

        await using var connection = await db.OpenAsync(ct);
        var withoutContent = (await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT id FROM images WHERE id IN @ids AND manifest_id IS NULL",
            new { ids = Seeds.Select(s => s.Id).ToArray() }, cancellationToken: ct))).ToHashSet(StringComparer.Ordinal);
        // In parallel: each import waits mostly on its own fsyncs, and every test starts a service.
        await Task.WhenAll(Seeds.Where(s => withoutContent.Contains(s.Id)).Select(seed => ImportContentAsync(db, dataPlane, scratchFolder, seed, ct)));
    }

    /// <summary>
    /// Generates the image's disk, stores it in the data plane and names its manifest on the row. The lease keeps the
    /// new manifest from garbage collection until the row that names it is committed.
    /// </summary>
    private static async Task ImportContentAsync(Database db, DataPlaneStore dataPlane, string scratchFolder, Seed seed, CancellationToken ct)
    {
        Directory.CreateDirectory(scratchFolder);
        var path = Path.Combine(scratchFolder, $"public-{seed.Id}-{Guid.NewGuid():N}.raw");
        try
        {
            await PublicImageDisk.WriteAsync(path, seed.Name, seed.OsType == "Windows", ct);
            using var lease = await dataPlane.ImportAsync(path, DiskFormat.Raw, ct);
            await using var write = await db.BeginWriteAsync(ct);
            await write.Connection.ExecuteAsync(new CommandDefinition(
                "UPDATE images SET manifest_id = @manifest WHERE id = @Id AND manifest_id IS NULL",
                new { manifest = lease.Disks[0].ManifestId, seed.Id }, write.Transaction, cancellationToken: ct));
            await write.CommitAsync(ct);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
