using System.Buffers.Binary;
using System.Text;
using Ims.Service.Ims;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ims;

/// <summary>The seeded public images carry a small generated disk: an MBR, a banner naming the image, and data.</summary>
public sealed class PublicImageContentTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private readonly TestService _service = fixture.Service;

    public static TheoryData<string, string, byte> Seeded => new()
    {
        { PublicImages.Ubuntu1804, "Ubuntu 18.04 server 64bit", PublicImageDisk.LinuxPartition },
        { PublicImages.Debian11, "Standard_Debian_11_latest", PublicImageDisk.LinuxPartition },
        { PublicImages.Windows2019, "Windows Server 2019 Datacenter 64bit English", PublicImageDisk.NtfsPartition },
    };

    [Theory]
    [MemberData(nameof(Seeded))]
    public async Task A_public_image_restores_to_a_disk_that_starts_with_an_mbr_and_carries_its_banner(string imageId, string name, byte partitionType)
    {
        var manifest = await ImageFiles.ManifestOfAsync(_service, imageId);
        Assert.NotNull(manifest);
        var dataPlane = ImageFiles.DataPlane(_service);
        Assert.Equal(PublicImageDisk.VirtualSize, await dataPlane.ManifestSizeAsync(manifest, CancellationToken.None));

        // Restore it as a server's system disk would be (a larger volume), and read what a guest would read.
        var volumeId = Guid.NewGuid().ToString();
        await dataPlane.RestoreVolumeAsync(volumeId, 1L << 30, manifest, CancellationToken.None);
        try
        {
            var mbr = new byte[512];
            Assert.Equal(512, await dataPlane.ReadAsync(volumeId, 0, mbr, CancellationToken.None));
            Assert.Equal(0x55, mbr[510]);
            Assert.Equal(0xAA, mbr[511]);
            var entry = mbr.AsSpan(0x1BE, 16);
            Assert.Equal(0x80, entry[0]);
            Assert.Equal(partitionType, entry[4]);
            Assert.Equal(2048u, BinaryPrimitives.ReadUInt32LittleEndian(entry[8..]));
            Assert.Equal((uint)(PublicImageDisk.VirtualSize / 512 - 2048), BinaryPrimitives.ReadUInt32LittleEndian(entry[12..]));
            // The other three partition entries are empty.
            Assert.True(mbr.AsSpan(0x1CE, 48).IndexOfAnyExcept((byte)0) < 0);

            var banner = new byte[128];
            await dataPlane.ReadAsync(volumeId, 0x100000, banner, CancellationToken.None);
            var text = Encoding.ASCII.GetString(banner).TrimEnd('\0');
            Assert.Equal($"IMS public image: {name}\n", text);

            // Past the image's own size the volume is zeros.
            var tail = new byte[4096];
            await dataPlane.ReadAsync(volumeId, PublicImageDisk.VirtualSize, tail, CancellationToken.None);
            Assert.True(tail.AsSpan().IndexOfAnyExcept((byte)0) < 0);
        }
        finally
        {
            await dataPlane.DeleteVolumeAsync(volumeId, CancellationToken.None);
        }
    }

    [Fact]
    public async Task Public_image_content_is_deterministic_and_seeding_again_keeps_the_manifests()
    {
        var first = await ManifestsAsync(_service);
        Assert.Equal(3, first.Distinct().Count());

        // The same disks everywhere: another service stores the same bytes (manifests name content).
        await using var other = await TestService.StartAsync(TestService.NewDataDir());
        var dataPlane = ImageFiles.DataPlane(_service);
        var otherPlane = ImageFiles.DataPlane(other);
        var otherManifests = await ManifestsAsync(other);
        for (var i = 0; i < first.Length; i++)
        {
            Assert.Equal(await dataPlane.HashManifestAsync(first[i], CancellationToken.None),
                await otherPlane.HashManifestAsync(otherManifests[i], CancellationToken.None));
        }

        // A restart on the same data folder seeds nothing new.
        var dataDir = other.DataDir;
        await other.DisposeAsync();
        await using var restarted = await TestService.StartAsync(dataDir);
        Assert.Equal(otherManifests, await ManifestsAsync(restarted));
    }

    [Fact]
    public async Task The_stored_disk_is_the_generated_one_byte_for_byte()
    {
        var path = Path.Combine(_service.DataDir, $"expected-{Guid.NewGuid():N}.raw");
        await PublicImageDisk.WriteAsync(path, "Ubuntu 18.04 server 64bit", windows: false, CancellationToken.None);
        try
        {
            var expected = ImageFiles.Sha256(await File.ReadAllBytesAsync(path));
            var manifest = await ImageFiles.ManifestOfAsync(_service, PublicImages.Ubuntu1804);
            Assert.Equal(expected, await ImageFiles.DataPlane(_service).HashManifestAsync(manifest!, CancellationToken.None));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static async Task<string[]> ManifestsAsync(TestService service) =>
    [
        (await ImageFiles.ManifestOfAsync(service, PublicImages.Ubuntu1804))!,
        (await ImageFiles.ManifestOfAsync(service, PublicImages.Debian11))!,
        (await ImageFiles.ManifestOfAsync(service, PublicImages.Windows2019))!,
    ];
}

/// <summary>The generator alone: layout and a known-answer hash that pins the content for good.</summary>
public sealed class PublicImageDiskTests
{
    [Fact]
    public void The_mbr_has_one_bootable_partition_from_lba_2048_to_the_end_and_the_boot_signature()
    {
        var sector = new byte[512];
        PublicImageDisk.WriteMasterBootRecord(sector, 0x11223344, PublicImageDisk.LinuxPartition);
        Assert.Equal(0x11223344u, BinaryPrimitives.ReadUInt32LittleEndian(sector.AsSpan(0x1B8)));
        Assert.Equal(
            // bootable, CHS 0/32/33, Linux, CHS 4/20/16, LBA 2048, 63488 sectors
            Convert.FromHexString("80202100831410040008000000F80000"),
            sector.AsSpan(0x1BE, 16).ToArray());
        Assert.Equal(new byte[] { 0x55, 0xAA }, sector.AsSpan(510, 2).ToArray());
        Assert.True(sector.AsSpan(0, 0x1B8).IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void The_data_stream_does_not_depend_on_how_it_is_cut()
    {
        var whole = new byte[1001];
        PublicImageDisk.FillData(whole, 42);
        var shorter = new byte[997];
        PublicImageDisk.FillData(shorter, 42);
        Assert.Equal(whole.AsSpan(0, 997).ToArray(), shorter);
        Assert.True(whole.AsSpan().IndexOfAnyExcept((byte)0) >= 0);
    }

    [Theory]
    [InlineData("Ubuntu 18.04 server 64bit", false, UbuntuDiskSha256)]
    public async Task The_generated_disk_has_a_known_hash(string name, bool windows, string sha256)
    {
        var path = Path.Combine(Path.GetTempPath(), $"ims-public-disk-{Guid.NewGuid():N}.raw");
        try
        {
            await PublicImageDisk.WriteAsync(path, name, windows, CancellationToken.None);
            Assert.Equal(PublicImageDisk.VirtualSize, new FileInfo(path).Length);
            Assert.Equal(sha256, ImageFiles.Sha256(await File.ReadAllBytesAsync(path)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    // Computed independently (a Python rendition of the documented layout), not taken from this code's output.
    private const string UbuntuDiskSha256 = "918ace7af93d2c73568f2d7ba2994e624f77ef91ebd7432cce84deec26de7b9d";
}
