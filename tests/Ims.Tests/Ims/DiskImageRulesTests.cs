using System.Text.Json;
using Ims.Service.Ims;

namespace Ims.Tests.Ims;

/// <summary>The request-time rules of <c>POST /v2/cloudimages/action</c> for images of disks, each with its code (pure).</summary>
public sealed class DiskImageRulesTests
{
    private const string Server = "5f0e3c2a-8b4d-4d1e-9a77-2c1e0b6f4a10";
    private const string Disk = "c5dfbd0c-bf0a-4798-a453-61dc6b54aa30";

    private static (ValidDiskImageRequest? Request, string? Code) Validate(string json, bool chineseNames = true)
    {
        var body = JsonSerializer.Deserialize<DiskImageRequest>(json)!;
        var (request, error) = DiskImageRules.Validate(body, chineseNames);
        return (request, error?.Code);
    }

    [Theory]
    [InlineData("{}", "IMG.0012")]
    [InlineData("""{"instance_id":"S"}""", "IMG.0013")]
    [InlineData("""{"name":"","instance_id":"S"}""", "IMG.0013")]
    [InlineData("""{"name":"a/b","instance_id":"S"}""", "IMG.0003")]
    [InlineData("""{"name":"x","instance_id":"S","description":"a<b"}""", "IMG.0054")]
    [InlineData("""{"name":"x","instance_id":"S","volume_id":"D"}""", "IMG.0001")]
    [InlineData("""{"name":"x","instance_id":"S","tags":["a.b"],"image_tags":[{"key":"c","value":"d"}]}""", "IMG.0001")]
    [InlineData("""{"name":"x","instance_id":"S","tags":["=bad"]}""", "IMG.0115")]
    [InlineData("""{"name":"x","instance_id":"S","min_ram":4096,"max_ram":1024}""", "IMG.0055")]
    [InlineData("""{"name":"x","instance_id":"S","enterprise_project_id":"nope"}""", "IMG.0155")]
    [InlineData("""{"name":"x","instance_id":"S","cmk_id":"k"}""", "IMG.0095")]
    [InlineData("""{"name":"x","volume_id":"D"}""", "IMG.0056")]
    [InlineData("""{"name":"x","volume_id":"D","os_version":"CentOS 7.9 64bit","data_images":[{"name":"d","volume_id":"E"}]}""", "IMG.0001")]
    [InlineData("""{"name":"x","volume_id":"D","os_version":"CentOS 7.9 64bit","type":"Windows"}""", "IMG.0024")]
    [InlineData("""{"name":"x","volume_id":"D","os_version":"CentOS 7.9 64bit","type":"BMS"}""", "IMG.0117")]
    [InlineData("""{"name":"x","image_url":"bucket:file.qcow2","min_disk":40}""", "IMG.0001")]
    [InlineData("""{"name":"x","instance_id":"S","type":"IsoImage"}""", "IMG.0017")]
    [InlineData("""{"data_images":[{"volume_id":"D"}]}""", "IMG.0013")]
    [InlineData("""{"data_images":[{"name":"d"}]}""", "IMG.0120")]
    [InlineData("""{"data_images":[{"name":"d","volume_id":"D"},{"name":"e","volume_id":"D"}]}""", "IMG.0001")]
    [InlineData("""{"data_images":[{"name":"d","volume_id":"D","tags":["a.b"],"image_tags":[{"key":"c","value":"d"}]}]}""", "IMG.0001")]
    [InlineData("""{"data_images":[{"name":"d","volume_id":"D","description":"x\ny"}]}""", "IMG.0054")]
    public void Each_rule_answers_its_code(string json, string code)
    {
        var (request, actual) = Validate(json.Replace("\"S\"", $"\"{Server}\"", StringComparison.Ordinal).Replace("\"D\"", $"\"{Disk}\"", StringComparison.Ordinal));
        Assert.Null(request);
        Assert.Equal(code, actual);
    }

    [Fact]
    public void The_fields_decide_the_mode_and_the_images_made()
    {
        var server = Validate($$"""{"name":"web","instance_id":"{{Server}}","data_images":[{"name":"d","volume_id":"{{Disk}}","tags":["k.v"]}]}""").Request!;
        Assert.Equal(DiskImageMode.FromServer, server.Mode);
        Assert.Equal(2, server.ImageCount);
        Assert.Equal("k", Assert.Single(server.DataImages[0].Tags).Key);

        var volume = Validate($$"""{"name":"sys","volume_id":"{{Disk}}","os_version":"CentOS 7.9 64bit","type":"ECS"}""").Request!;
        Assert.Equal(DiskImageMode.FromVolume, volume.Mode);
        Assert.Equal("CentOS 7.9 64bit", volume.OsVersion);
        Assert.Equal(1, volume.ImageCount);

        var data = Validate($$"""{"data_images":[{"name":"d","volume_id":"{{Disk}}"}],"enterprise_project_id":"0"}""").Request!;
        Assert.Equal(DiskImageMode.FromDataVolumes, data.Mode);
        Assert.Equal(1, data.ImageCount);
    }

    [Fact]
    public void Chinese_names_are_a_Huawei_rule()
    {
        var json = $$"""{"name":"镜像","instance_id":"{{Server}}"}""";
        Assert.NotNull(Validate(json, chineseNames: true).Request);
        Assert.Equal("IMG.0003", Validate(json, chineseNames: false).Code);
    }
}
