using System.Text.Json;
using Ims.Service.Ims;
using DiskFormat = Ims.DataPlane.DiskFormat;

namespace Ims.Tests.Ims;

/// <summary>The request-time rules of imports from bucket files, each with its code (pure).</summary>
public sealed class ImageImportRulesTests
{
    private static string? ActionCode(string json) =>
        ImageImportRules.ValidateAction(JsonSerializer.Deserialize<DiskImageRequest>(json)!, chineseNames: true).Error?.Code;

    [Theory]
    [InlineData("bucketfile.qcow2", "IMG.0017")]
    [InlineData("bucket:", "IMG.0017")]
    [InlineData("bucket:folder/", "IMG.0017")]
    [InlineData(":file.qcow2", "IMG.0068")]
    [InlineData("ab:file.qcow2", "IMG.0109")]
    [InlineData("Bucket:file.qcow2", "IMG.0109")]
    [InlineData("-bucket:file.qcow2", "IMG.0109")]
    [InlineData("bucket:my folder/file.qcow2", "IMG.0175")]
    [InlineData("bucket:file.zvhd2", "IMG.0072")]
    [InlineData("bucket:file.zvhd", "IMG.0072")]
    [InlineData("bucket:file.qcow", "IMG.0072")]
    [InlineData("bucket:file", "IMG.0072")]
    public void Each_url_rule_answers_its_code(string url, string code) => Assert.Equal(code, ImageImportRules.ParseUrl(url).Error?.Code);

    [Theory]
    [InlineData("bucket:centos70.qcow2", DiskFormat.Qcow2)]
    [InlineData("my.bucket-1:dir/sub/disk.VHD", DiskFormat.Vhd)]
    [InlineData("bucket:a.vhdx", DiskFormat.Vhdx)]
    [InlineData("bucket:a.vmdk", DiskFormat.Vmdk)]
    [InlineData("bucket:a.qed", DiskFormat.Qed)]
    [InlineData("bucket:a.vdi", DiskFormat.Vdi)]
    [InlineData("bucket:a.raw", DiskFormat.Raw)]
    [InlineData("bucket:a.img", DiskFormat.Raw)]
    [InlineData("bucket:a.iso", DiskFormat.Iso)]
    [InlineData("bucket:a:b.qcow2", DiskFormat.Qcow2)]
    public void The_extension_names_the_format(string url, DiskFormat format)
    {
        var (parsed, error) = ImageImportRules.ParseUrl(url);
        Assert.Null(error);
        Assert.Equal(format, parsed!.Format);
        Assert.Equal(url, parsed.ToString());
    }

    [Theory]
    [InlineData("""{"image_url":"bucket:a.qcow2","min_disk":40}""", "IMG.0013")]
    [InlineData("""{"name":"x","image_url":"bucket:a.qcow2"}""", "IMG.0055")]
    [InlineData("""{"name":"x","image_url":"bucket:a.qcow2","min_disk":1025}""", "IMG.0055")]
    [InlineData("""{"name":"x","image_url":"bucket:a.qcow2","min_disk":40,"cmk_id":"k"}""", "IMG.0095")]
    [InlineData("""{"name":"x","image_url":"bucket:a.qcow2","min_disk":40,"instance_id":"i"}""", "IMG.0001")]
    [InlineData("""{"name":"x","image_url":"bucket:a.qcow2","min_disk":40,"type":"Ironic"}""", "IMG.0117")]
    [InlineData("""{"name":"x","image_url":"bucket:a.qcow2","min_disk":40,"type":"Docker"}""", "IMG.0024")]
    [InlineData("""{"name":"x","image_url":"bucket:a.qcow2","min_disk":40,"type":"IsoImage","os_version":"CentOS 7.0 64bit"}""", "IMG.0072")]
    [InlineData("""{"name":"x","image_url":"bucket:a.iso","min_disk":40,"os_version":"CentOS 7.0 64bit"}""", "IMG.0072")]
    [InlineData("""{"name":"x","image_url":"bucket:a.iso","min_disk":40,"type":"IsoImage"}""", "IMG.0166")]
    [InlineData("""{"name":"x","image_url":"bucket:a.raw","min_disk":40,"is_quick_import":true}""", "IMG.0056")]
    [InlineData("""{"name":"x","image_url":"bucket:a.qcow2","min_disk":40,"is_quick_import":true,"os_version":"CentOS 7.0 64bit"}""", "IMG.0072")]
    [InlineData("""{"name":"x","image_url":"bucket:a.qcow2","min_disk":40,"architecture":"arm","hw_firmware_type":"bios"}""", "IMG.0141")]
    [InlineData("""{"name":"x","image_url":"bucket:a.qcow2","min_disk":40,"license_type":"free"}""", "IMG.0001")]
    [InlineData("""{"name":"x","image_url":"bucket:a.qcow2","min_disk":40,"min_ram":4096,"max_ram":1024}""", "IMG.0055")]
    [InlineData("""{"name":"x","image_url":"bucket:a.qcow2","min_disk":40,"enterprise_project_id":"nope"}""", "IMG.0155")]
    [InlineData("""{"name":"x","image_url":"bucket:a.qcow2","min_disk":40,"data_images":[{"image_url":"bucket:b.qcow2","min_disk":2049}]}""", "IMG.0055")]
    [InlineData("""{"name":"x","image_url":"bucket:a.qcow2","min_disk":40,"data_images":[{"image_url":"bucket:b.iso","min_disk":40}]}""", "IMG.0072")]
    [InlineData("""{"name":"x","image_url":"bucket:a.qcow2","min_disk":40,"data_images":[{"volume_id":"v","image_url":"bucket:b.qcow2","min_disk":40}]}""", "IMG.0001")]
    public void Each_action_rule_answers_its_code(string json, string code) => Assert.Equal(code, ActionCode(json));

    [Fact]
    public void A_valid_system_import_names_its_files_and_platform()
    {
        var body = JsonSerializer.Deserialize<DiskImageRequest>("""
            {"name":"web","image_url":"bucket:sys.vmdk","min_disk":40,"architecture":"ARM","os_version":"Windows Server 2019 Standard 64bit",
             "data_images":[{"name":"d1","image_url":"bucket:d1.vhd","min_disk":100},{"image_url":"bucket:d2.raw","min_disk":10}]}
            """)!;
        var (valid, error) = ImageImportRules.ValidateAction(body, chineseNames: true);
        Assert.Null(error);
        Assert.Equal(ImportKind.System, valid!.Kind);
        Assert.Equal(3, valid.ImageCount);
        Assert.Equal("Windows", valid.OsType);
        Assert.Equal(("arm", "uefi"), (valid.Architecture, valid.FirmwareType));
        Assert.Equal(["d1", "web-data2"], valid.DataImages.Select(d => d.Name));
        Assert.Equal([100L, 10L], valid.DataImages.Select(d => d.MinDisk));
    }
}
