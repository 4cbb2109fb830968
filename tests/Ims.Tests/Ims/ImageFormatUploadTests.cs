using System.Diagnostics;
using Ims.Tests.DataPlane;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ims;

/// <summary>
/// Uploads of every format qemu-img reads (vhd, vhdx, vmdk, qed, vdi beside raw and qcow2): the image's disk is the file's
/// disk, a server made from it boots with those bytes, and a download answers the file as it was uploaded. Huawei's
/// own formats are refused.
/// </summary>
public sealed class ImageFormatUploadTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private readonly TestService _service = fixture.Service;

    [Theory]
    [InlineData("vhd", "vpc", "force_size=on")]
    [InlineData("vhdx", "vhdx", null)]
    [InlineData("vmdk", "vmdk", "subformat=streamOptimized")]
    [InlineData("qed", "qed", null)]
    [InlineData("vdi", "vdi", null)]
    public async Task An_uploaded_file_of_any_readable_format_boots_a_server_with_its_disk(string diskFormat, string qemuFormat, string? options)
    {
        var alice = _service.Client(TestAccounts.Alice);
        var raw = ImageFiles.RawDisk(6 * 1024 * 1024, seed: diskFormat.Length + 40);
        var file = await ConvertAsync(raw, qemuFormat, options);
        var imageId = (string)(await ImageFiles.CreateAsync(alice, diskFormat))["id"]!;

        (await ImageFiles.UploadAsync(alice, imageId, file)).Expect(204);

        var image = (await alice.GetAsync($"/v2/images/{imageId}")).Expect(200).Json;
        Assert.Equal("active", (string?)image["status"]);
        Assert.Equal(raw.Length, (long)image["virtual_size"]!);
        Assert.Equal(file.Length, (long)image["size"]!);
        Assert.Equal(ImageFiles.Md5(file), (string?)image["checksum"]);
        using (var download = await DiskBytes.SendAsync(alice, HttpMethod.Get, ImageFiles.FilePath(imageId)))
            Assert.Equal(ImageFiles.Sha256(file), ImageFiles.Sha256(await download.Content.ReadAsByteArrayAsync()));

        var serverId = await DiskBytes.RestoredServerAsync(alice, imageId);
        var devices = (await alice.GetAsync($"/v1/{alice.ProjectId}/cloudservers/{serverId}/block_device")).Expect(200)["volumeAttachments"].AsArray();
        var systemDisk = (string)devices.Single(d => (int)d!["bootIndex"]! == 0)!["volumeId"]!;
        var start = new byte[raw.Length];
        for (var offset = 0; offset < raw.Length; offset += 1024 * 1024)
            (await DiskBytes.ReadAsync(alice, systemDisk, offset, 1024 * 1024)).CopyTo(start, offset);
        Assert.Equal(ImageFiles.Sha256(raw), ImageFiles.Sha256(start));
    }

    [Fact]
    public async Task An_ISO_file_is_stored_as_it_is_and_its_image_is_not_copied_within_the_region()
    {
        var alice = _service.Client(TestAccounts.Alice);
        var iso = new byte[64 * 2048];
        new Random(12).NextBytes(iso.AsSpan(0, 4096));
        iso[16 * 2048] = 1;
        "CD001"u8.CopyTo(iso.AsSpan(16 * 2048 + 1));
        var imageId = (string)(await ImageFiles.CreateAsync(alice, "iso"))["id"]!;
        (await ImageFiles.UploadAsync(alice, imageId, iso)).Expect(204);
        var image = (await alice.GetAsync($"/v2/images/{imageId}")).Expect(200).Json;
        Assert.Equal(iso.Length, (long)image["virtual_size"]!);
        Assert.Equal(ImageFiles.Md5(iso), (string?)image["checksum"]);
        (await alice.PostAsync($"/v1/cloudimages/{imageId}/copy", new { name = "iso-copy" })).ExpectImsError(400, "IMG.0167");
    }

    [Theory]
    [InlineData("zvhd")]
    [InlineData("zvhd2")]
    [InlineData("qcow")]
    public async Task Formats_no_public_tool_reads_are_refused(string diskFormat)
    {
        var alice = _service.Client(TestAccounts.Alice);
        var imageId = (string)(await ImageFiles.CreateAsync(alice, diskFormat))["id"]!;
        (await ImageFiles.UploadAsync(alice, imageId, ImageFiles.RawDisk(65536, seed: 9))).ExpectImsError(400, "IMG.0072");
        Assert.Equal("queued", (string?)(await alice.GetAsync($"/v2/images/{imageId}")).Expect(200)["status"]);
    }

    [Fact]
    public async Task A_file_that_is_not_what_its_format_says_leaves_the_image_queued()
    {
        var alice = _service.Client(TestAccounts.Alice);
        var qcow2 = await ImageFiles.ToQcow2Async(ImageFiles.RawDisk(1024 * 1024, seed: 10));
        foreach (var diskFormat in new[] { "vhd", "vmdk", "vdi", "iso" })
        {
            var imageId = (string)(await ImageFiles.CreateAsync(alice, diskFormat))["id"]!;
            (await ImageFiles.UploadAsync(alice, imageId, qcow2)).ExpectImsError(400, "IMG.0057");
            Assert.Equal("queued", (string?)(await alice.GetAsync($"/v2/images/{imageId}")).Expect(200)["status"]);
        }
    }

    private static async Task<byte[]> ConvertAsync(byte[] raw, string qemuFormat, string? options)
    {
        var folder = Path.Combine(Path.GetTempPath(), "ims-tests", "format-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var rawPath = Path.Combine(folder, "disk.raw");
            var outPath = Path.Combine(folder, "disk.out");
            await File.WriteAllBytesAsync(rawPath, raw);
            var start = new ProcessStartInfo("qemu-img") { RedirectStandardError = true };
            foreach (var argument in (string[])["convert", "-f", "raw", "-O", qemuFormat, .. options is null ? Array.Empty<string>() : ["-o", options], rawPath, outPath])
                start.ArgumentList.Add(argument);
            using var process = Process.Start(start)!;
            var errors = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, errors);
            return await File.ReadAllBytesAsync(outPath);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
