using System.Security.Cryptography;
using System.Text;
using Ims.Tests.DataPlane;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ims;

/// <summary>
/// End to end: servers made from an uploaded image or a public image get a system disk holding the image's bytes,
/// read back through the data endpoint.
/// </summary>
public sealed class ImageContentBootTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private readonly TestService _service = fixture.Service;

    [Theory]
    [InlineData("raw")]
    [InlineData("qcow2")]
    public async Task A_server_booted_from_an_uploaded_image_has_a_system_disk_equal_to_the_uploaded_disk(string format)
    {
        var alice = _service.Client(TestAccounts.Alice);
        var raw = ImageFiles.RawDisk(6 * 1024 * 1024, seed: format.Length);
        var imageId = (string)(await ImageFiles.CreateAsync(alice, format))["id"]!;
        (await ImageFiles.UploadAsync(alice, imageId, format == "qcow2" ? await ImageFiles.ToQcow2Async(raw) : raw)).Expect(204);

        var serverId = await DiskBytes.RestoredServerAsync(alice, imageId);
        var systemDisk = await SystemVolumeAsync(alice, serverId);

        // The first bytes are the uploaded disk, byte for byte.
        var start = new byte[raw.Length];
        for (var offset = 0; offset < raw.Length; offset += 1024 * 1024)
            (await DiskBytes.ReadAsync(alice, systemDisk, offset, 1024 * 1024)).CopyTo(start, offset);
        Assert.Equal(ImageFiles.Sha256(raw), ImageFiles.Sha256(start));

        // The whole disk is the uploaded disk followed by zeros up to the system disk's size (1 GB, the image's min_disk).
        var digest = await DiskBytes.Sha256Async(alice, systemDisk);
        var size = (long)digest["size"]!;
        Assert.Equal(DiskBytes.Gib, size);
        Assert.Equal(ZeroPaddedSha256(raw, size), (string?)digest["sha256"]);
    }

    [Fact]
    public async Task A_server_booted_from_a_public_image_starts_with_its_mbr_and_banner()
    {
        var alice = _service.Client(TestAccounts.Alice);
        var serverId = await DiskBytes.RestoredServerAsync(alice, "7d5b8f3a-1c2e-4f60-9b11-d1100000a002");
        var systemDisk = await SystemVolumeAsync(alice, serverId);

        var mbr = await DiskBytes.ReadAsync(alice, systemDisk, 0, 512);
        Assert.Equal(new byte[] { 0x55, 0xAA }, mbr[510..512]);
        Assert.Equal(0x83, mbr[0x1BE + 4]);
        var banner = await DiskBytes.ReadAsync(alice, systemDisk, 0x100000, 64);
        Assert.StartsWith("IMS public image: Standard_Debian_11_latest\n", Encoding.ASCII.GetString(banner), StringComparison.Ordinal);
    }

    private static async Task<string> SystemVolumeAsync(ApiClient client, string serverId)
    {
        var devices = (await client.GetAsync($"/v1/{client.ProjectId}/cloudservers/{serverId}/block_device")).Expect(200)["volumeAttachments"].AsArray();
        return (string)devices.Single(d => (int)d!["bootIndex"]! == 0)!["volumeId"]!;
    }

    private static string ZeroPaddedSha256(byte[] content, long size)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(content);
        var zeros = new byte[4 * 1024 * 1024];
        for (var left = size - content.Length; left > 0; left -= zeros.Length)
            hash.AppendData(zeros, 0, (int)Math.Min(zeros.Length, left));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
