using System.Text;
using Ims.Service.Ims;

namespace Ims.Tests.Ims;

/// <summary>The pure rules of a PATCH body and of tags, without HTTP.</summary>
public sealed class ImagePatchTests
{
    private static readonly PatchedImage Image = new()
    {
        Name = "img",
        Description = "",
        MinRam = 0,
        MaxRam = null,
        MinDisk = 40,
        OsVersion = "Ubuntu 18.04 server 64bit",
        EnterpriseProjectId = "0",
        Properties = new Dictionary<string, string> { ["hw_firmware_type"] = "bios", ["__originalimagename"] = "x" },
    };

    private static IReadOnlyList<PatchOperation> Parse(string body, string contentType = "application/json")
    {
        var (operations, error) = ImagePatch.Parse(Encoding.UTF8.GetBytes(body), contentType);
        Assert.Null(error);
        return operations!;
    }

    private static string? CodeOf(string body)
    {
        var (_, error) = ImagePatch.Apply(Image, Parse(body), chineseNames: false);
        return error?.Code;
    }

    [Fact]
    public void Both_dialects_read_to_the_same_operations()
    {
        var v21 = Parse("""[{"op":"replace","path":"/name","value":"a"},{"op":"remove","path":"/x"}]""", ImagePatch.JsonPatchV21);
        var v20 = Parse("""[{"replace":"/name","value":"a"},{"remove":"/x"}]""", ImagePatch.JsonPatchV20 + "; charset=utf-8");
        Assert.Equal(v21.Select(o => (o.Op, o.Attribute, o.Value?.GetRawText())), v20.Select(o => (o.Op, o.Attribute, o.Value?.GetRawText())));
    }

    [Theory]
    [InlineData("""[{"op":"replace","path":"/max_ram","value":1}]""", "IMG.0035")]
    [InlineData("""[{"op":"remove","path":"/__description"}]""", "IMG.0035")]
    [InlineData("""[{"op":"add","path":"/__originalimagename","value":"y"}]""", "IMG.0035")]
    [InlineData("""[{"op":"add","path":"/hw_firmware_type","value":"BIOS"}]""", "IMG.0141")]
    [InlineData("""[{"op":"add","path":"/min_ram","value":2048},{"op":"add","path":"/max_ram","value":"1024"}]""", "IMG.0055")]
    [InlineData("""[{"op":"add","path":"/min_ram","value":1.5}]""", "IMG.0055")]
    [InlineData("""[{"op":"add","path":"/min_ram","value":true}]""", "IMG.0055")]
    [InlineData("""[{"op":"add","path":"/name","value":7}]""", "IMG.0003")]
    [InlineData("""[{"op":"add","path":"/__description","value":false}]""", "IMG.0054")]
    [InlineData("""[{"op":"add","path":"/max_ram","value":"4096"},{"op":"replace","path":"/max_ram","value":2048},{"op":"add","path":"/min_ram","value":"2048"}]""", null)]
    [InlineData("""[{"op":"add","path":"/__description","value":"d"},{"op":"replace","path":"/__description","value":"e"}]""", null)]
    public void Operations_apply_in_order(string body, string? code) => Assert.Equal(code, CodeOf(body));

    [Fact]
    public void Applying_leaves_the_original_untouched()
    {
        var (patched, _) = ImagePatch.Apply(Image, Parse("""[{"op":"remove","path":"/hw_firmware_type"},{"op":"add","path":"/__support_kvm","value":"true"}]"""), false);
        Assert.False(patched!.Properties.ContainsKey("hw_firmware_type"));
        Assert.Equal("true", patched.Properties["__support_kvm"]);
        Assert.Equal("bios", Image.Properties["hw_firmware_type"]);
        Assert.False(Image.Properties.ContainsKey("__support_kvm"));
    }

    [Theory]
    [InlineData(" key ", " value ", true)]
    [InlineData("k", "", true)]
    [InlineData("k", null, false)]
    [InlineData("", "v", false)]
    [InlineData("a=b", "v", false)]
    [InlineData("k", "tab\there", false)]
    [InlineData("中文", "值", true)]
    public void Key_value_tags_follow_one_rule(string? key, string? value, bool valid) =>
        Assert.Equal(valid, ImageTags.TryNormalize(key, value, out _));

    [Theory]
    [InlineData("abc_-1", true)]
    [InlineData("a.b", false)]
    [InlineData("a=b", false)]
    [InlineData("", false)]
    public void Native_tags_are_plain_keys(string tag, bool valid) => Assert.Equal(valid, ImageTags.IsValidNativeTag(tag));
}
