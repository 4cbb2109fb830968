using Ims.Service.Ims;

namespace Ims.Tests.Ims;

/// <summary>Every request-time rule of spec §1.1/§1.3, with the exact IMS code.</summary>
public sealed class WholeImageRulesTests
{
    private const string Server = "5f0e3c2a-8b4d-4d1e-9a77-2c1e0b6f4a10";
    private const string Backup = "c41d2e8f-3b6a-4f70-8e25-9d1a7b3c6e04";

    private static WholeImageRequest FromServer => new() { Name = "web-01-full", InstanceId = Server };

    private static string? CodeOf(WholeImageRequest request, bool chinese = false) =>
        WholeImageRules.Validate(request, chinese).Error?.Code;

    [Fact]
    public void Instance_id_selects_mode_A_and_keeps_the_vault()
    {
        var (valid, error) = WholeImageRules.Validate(FromServer with { VaultId = "v1", WholeImageType = "CBR" }, false);
        Assert.Null(error);
        Assert.Equal(WholeImageMode.FromServer, valid!.Mode);
        Assert.Equal("v1", valid.VaultId);
        Assert.Equal("0", valid.EnterpriseProjectId);
    }

    [Theory]
    [InlineData(null, WholeImageMode.FromCsbsBackup)]
    [InlineData("", WholeImageMode.FromCsbsBackup)]
    [InlineData("CSBS", WholeImageMode.FromCsbsBackup)]
    [InlineData("CBR", WholeImageMode.FromCbrBackup)]
    public void Backup_id_selects_mode_B_or_C_by_whole_image_type(string? type, WholeImageMode mode)
    {
        var (valid, _) = WholeImageRules.Validate(new WholeImageRequest { Name = "n", BackupId = Backup, WholeImageType = type, VaultId = "ignored" }, false);
        Assert.Equal(mode, valid!.Mode);
        Assert.Null(valid.VaultId);
    }

    [Theory]
    [InlineData("cbr")]
    [InlineData("EVS")]
    public void An_unknown_whole_image_type_is_IMG_0021(string type) =>
        Assert.Equal("IMG.0021", CodeOf(new WholeImageRequest { Name = "n", BackupId = Backup, WholeImageType = type }));

    [Fact]
    public void Both_instance_and_backup_is_IMG_0001() =>
        Assert.Equal("IMG.0001", CodeOf(FromServer with { BackupId = Backup }));

    [Fact]
    public void Neither_instance_nor_backup_is_IMG_0012() =>
        Assert.Equal("IMG.0012", CodeOf(new WholeImageRequest { Name = "n" }));

    [Fact]
    public void Neither_but_a_backup_type_is_IMG_0019() =>
        Assert.Equal("IMG.0019", CodeOf(new WholeImageRequest { Name = "n", WholeImageType = "CBR" }));

    [Theory]
    [InlineData(null, "IMG.0013")]
    [InlineData("", "IMG.0013")]
    [InlineData(" leading", "IMG.0003")]
    [InlineData("trailing ", "IMG.0003")]
    [InlineData("semi;colon", "IMG.0003")]
    [InlineData("镜像", "IMG.0003")]
    public void Bad_names_get_their_code(string? name, string code) => Assert.Equal(code, CodeOf(FromServer with { Name = name }));

    [Fact]
    public void A_name_of_129_characters_is_IMG_0002() =>
        Assert.Equal("IMG.0002", CodeOf(FromServer with { Name = new string('a', 129) }));

    [Fact]
    public void A_name_of_128_characters_with_inner_spaces_is_fine() =>
        Assert.Null(CodeOf(FromServer with { Name = "a b" + new string('c', 125) }));

    [Fact]
    public void Chinese_names_pass_in_the_huawei_profile() => Assert.Null(CodeOf(FromServer with { Name = "整机镜像-01" }, chinese: true));

    [Theory]
    [InlineData("line\nbreak", "IMG.0054")]
    [InlineData("<script>", "IMG.0054")]
    public void Bad_descriptions_get_IMG_0054(string description, string code) =>
        Assert.Equal(code, CodeOf(FromServer with { Description = description }));

    [Fact]
    public void A_description_over_1024_characters_is_IMG_0004() =>
        Assert.Equal("IMG.0004", CodeOf(FromServer with { Description = new string('d', 1025) }));

    [Fact]
    public void Spaces_in_descriptions_are_allowed() => Assert.Null(CodeOf(FromServer with { Description = "nightly full image" }));

    [Fact]
    public void Tags_and_image_tags_together_are_IMG_0001() =>
        Assert.Equal("IMG.0001", CodeOf(FromServer with { Tags = ["a.b"], ImageTags = [new() { Key = "c", Value = "d" }] }));

    [Theory]
    [InlineData("owner.team_a", "owner", "team_a")]
    [InlineData("k=v", "k", "v")]
    [InlineData("bare", "bare", "")]
    public void Old_tags_split_at_the_first_separator(string raw, string key, string value)
    {
        Assert.True(ImageTags.TryParseOldTag(raw, out var tag));
        Assert.Equal(key, tag.Key);
        Assert.Equal(value, tag.Value);
    }

    [Theory]
    [InlineData(".value")]
    [InlineData("a.b.c")]
    [InlineData("key with space.v")]
    public void Malformed_old_tags_are_IMG_0115(string tag) => Assert.Equal("IMG.0115", CodeOf(FromServer with { Tags = [tag] }));

    [Fact]
    public void Image_tags_need_key_and_value() =>
        Assert.Equal("IMG.0115", CodeOf(FromServer with { ImageTags = [new() { Key = "k" }] }));

    [Fact]
    public void Image_tag_keys_over_36_characters_are_IMG_0115() =>
        Assert.Equal("IMG.0115", CodeOf(FromServer with { ImageTags = [new() { Key = new string('k', 37), Value = "" }] }));

    [Fact]
    public void Image_tags_are_trimmed_and_a_repeated_key_keeps_the_last_value()
    {
        var (valid, _) = WholeImageRules.Validate(FromServer with
        {
            ImageTags = [new() { Key = " env ", Value = " dev " }, new() { Key = "env", Value = "prod" }],
        }, false);
        Assert.Equal([new ImageTags.Tag("env", "prod")], valid!.Tags);
    }

    [Fact]
    public void Eleven_distinct_tags_are_IMG_0116() =>
        Assert.Equal("IMG.0116", CodeOf(FromServer with { Tags = [.. Enumerable.Range(0, 11).Select(i => $"k{i}.v")] }));

    [Theory]
    [InlineData(-1L, null)]
    [InlineData(null, -1L)]
    [InlineData(4096L, 2048L)]
    [InlineData(2147483648L, null)]
    public void Bad_memory_limits_are_IMG_0055(long? min, long? max) =>
        Assert.Equal("IMG.0055", CodeOf(FromServer with { MinRam = min, MaxRam = max }));

    [Fact]
    public void A_zero_max_ram_means_not_set()
    {
        var (valid, _) = WholeImageRules.Validate(FromServer with { MinRam = 4096, MaxRam = 0 }, false);
        Assert.Null(valid!.MaxRam);
        Assert.Equal(4096, valid.MinRam);
    }

    [Fact]
    public void A_malformed_enterprise_project_is_IMG_0155() =>
        Assert.Equal("IMG.0155", CodeOf(FromServer with { EnterpriseProjectId = "finance" }));
}
