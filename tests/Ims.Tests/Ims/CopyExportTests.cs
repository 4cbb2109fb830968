using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ims;

/// <summary>In-region copy and export: bodies first, then the image; whole images are never copied in-region nor exported.</summary>
public sealed class CopyExportTests(SharingFixture fixture) : IClassFixture<SharingFixture>
{
    private TestService Service => fixture.Service;
    private ApiClient Alice => Service.Client(SharingAccounts.Alice);
    private ApiClient Bob => Service.Client(SharingAccounts.Bob);

    private static string CopyPath(string imageId) => $"/v1/cloudimages/{imageId}/copy";
    private static string ExportPath(string imageId) => $"/v1/cloudimages/{imageId}/file";

    private static readonly object ExportBody = new { bucket_url = "ims-image:centos7_5.qcow2", file_format = "qcow2", is_quick_export = false };

    private Task<string> WholeImageAsync() => fixture.OnceAsync("alice-whole", async () => (await Sharing.CbrImageAsync(Service, Alice)).ImageId);

    /// <summary>
    /// A private system disk image of Alice's. Nothing here makes one yet, so the row is written directly: it stands for
    /// the images whose data path this deployment lacks.
    /// </summary>
    private Task<string> SystemImageAsync() => fixture.OnceAsync("alice-system", async () =>
    {
        var imageId = Guid.NewGuid().ToString();
        await Sharing.ExecuteAsync(Service,
            """
            INSERT INTO images (id, owner, name, status, visibility, imagetype, whole_image, min_disk, created_at, updated_at, active_at)
            VALUES (@imageId, @owner, 'system-disk', 'active', 'private', 'private', 0, 40, 0, 0, 0)
            """, new { imageId, owner = SharingAccounts.Alice.ProjectId });
        return imageId;
    });

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task A_whole_image_is_neither_copied_within_the_region_nor_exported(AuthMode mode)
    {
        var client = Service.Client(SharingAccounts.Alice, mode);
        var imageId = await WholeImageAsync();
        (await client.PostAsync(CopyPath(imageId), new { name = "copy-1", description = "test copy" })).ExpectImsError(400, "IMG.0130");
        (await client.PostAsync(ExportPath(imageId), ExportBody)).ExpectImsError(400, "IMG.0128");
        // terraform's huaweicloud_imsv21_image_export path answers alike.
        (await client.PostAsync($"/v2.1/cloudimages/{imageId}/file", ExportBody)).ExpectImsError(400, "IMG.0128");
        (await client.PostAsync(ExportPath(imageId), new { bucket_url = "ims-image:x.zvhd2", is_quick_export = true })).ExpectImsError(400, "IMG.0128");
    }

    [Fact]
    public async Task A_shared_whole_image_is_no_more_copyable_or_exportable_for_its_member()
    {
        var (imageId, _) = await Sharing.CbrImageAsync(Service, Alice);
        await Sharing.ShareAsync(Alice, imageId, Bob.ProjectId);
        (await Bob.PostAsync(CopyPath(imageId), new { name = "copy-1" })).ExpectImsError(400, "IMG.0130");
        (await Bob.PostAsync(ExportPath(imageId), ExportBody)).ExpectImsError(400, "IMG.0128");
    }

    [Fact]
    public async Task Public_images_are_not_the_callers_to_copy_or_export()
    {
        (await Alice.PostAsync(CopyPath(Servers.Ubuntu1804), new { name = "copy-1" })).ExpectImsError(400, "IMG.0083");
        (await Alice.PostAsync(ExportPath(Servers.Ubuntu1804), ExportBody)).ExpectImsError(400, "IMG.0077");
    }

    [Fact]
    public async Task Unknown_and_foreign_images_answer_404()
    {
        var imageId = await WholeImageAsync();
        foreach (var id in new[] { Guid.NewGuid().ToString(), "not-an-id" })
        {
            (await Alice.PostAsync(CopyPath(id), new { name = "copy-1" })).ExpectImsError(404, "IMG.0027");
            (await Alice.PostAsync(ExportPath(id), ExportBody)).ExpectImsError(404, "IMG.0027");
        }
        (await Bob.PostAsync(CopyPath(imageId), new { name = "copy-1" })).ExpectImsError(404, "IMG.0027");
        (await Bob.PostAsync(ExportPath(imageId), ExportBody)).ExpectImsError(404, "IMG.0027");
    }

    [Fact]
    public async Task Images_without_a_data_path_here_are_refused_clearly()
    {
        var imageId = await SystemImageAsync();
        // An image without content has nothing to copy (disk images get theirs from their job: DiskImageTests copy them).
        (await Alice.PostAsync(CopyPath(imageId), new { name = "copy-1" })).ExpectImsError(400, "IMG.0046");
        // Nor to export (ExportTests export images with content).
        var export = await Alice.PostAsync(ExportPath(imageId), ExportBody);
        export.ExpectImsError(400, "IMG.0071");
        Assert.Contains("no disk content", (string?)export.Json["error"]!["message"], StringComparison.Ordinal);
        (await Bob.PostAsync(ExportPath(imageId), ExportBody)).ExpectImsError(404, "IMG.0027");
    }

    [Theory]
    [InlineData(null, "IMG.0007")]
    [InlineData("", "IMG.0007")]
    [InlineData("{", "IMG.0001")]
    [InlineData("[]", "IMG.0001")]
    [InlineData("{}", "IMG.0013")]
    [InlineData("""{"name":""}""", "IMG.0013")]
    [InlineData("""{"name":5}""", "IMG.0001")]
    [InlineData("""{"name":" lead"}""", "IMG.0003")]
    [InlineData("""{"name":"a/b"}""", "IMG.0003")]
    [InlineData("""{"name":"copy","description":"a<b"}""", "IMG.0054")]
    [InlineData("""{"name":"copy","description":"line\nbreak"}""", "IMG.0054")]
    [InlineData("""{"name":"copy","description":7}""", "IMG.0001")]
    [InlineData("""{"name":"copy","enterprise_project_id":"nope"}""", "IMG.0155")]
    [InlineData("""{"name":"copy","cmk_id":"bd66288c-9081-460a-8227-4cbd0c814cb4"}""", "IMG.0095")]
    [InlineData("""{"name":"copy","cmk_id":false}""", "IMG.0001")]
    public async Task Copy_bodies_are_checked_before_the_image(string? body, string code)
    {
        var imageId = await WholeImageAsync();
        (await Alice.SendAsync(HttpMethod.Post, CopyPath(imageId), body ?? "")).ExpectImsError(400, code);
        // The body comes first even for an image that does not exist.
        (await Alice.SendAsync(HttpMethod.Post, CopyPath(Guid.NewGuid().ToString()), body ?? "")).ExpectImsError(400, code);
    }

    [Fact]
    public async Task Copy_names_follow_the_image_name_rules()
    {
        var imageId = await WholeImageAsync();
        (await Alice.PostAsync(CopyPath(imageId), new { name = new string('a', 129) })).ExpectImsError(400, "IMG.0002");
        (await Alice.PostAsync(CopyPath(imageId), new { name = "copy", description = new string('d', 1025) })).ExpectImsError(400, "IMG.0004");
        // A valid name, 128 characters, Chinese in the Huawei profile: the body passes, the image is what is refused.
        (await Alice.PostAsync(CopyPath(imageId), new { name = new string('a', 128) })).ExpectImsError(400, "IMG.0130");
        (await Alice.PostAsync(CopyPath(imageId), new { name = "整机镜像-副本" })).ExpectImsError(400, "IMG.0130");
    }

    [Theory]
    [InlineData(null, "IMG.0007")]
    [InlineData("{", "IMG.0001")]
    [InlineData("{}", "IMG.0001")]
    [InlineData("""{"bucket_url":"","file_format":"qcow2"}""", "IMG.0001")]
    [InlineData("""{"bucket_url":42,"file_format":"qcow2"}""", "IMG.0001")]
    [InlineData("""{"bucket_url":"bucket-only","file_format":"qcow2"}""", "IMG.0017")]
    [InlineData("""{"bucket_url":":file.qcow2","file_format":"qcow2"}""", "IMG.0068")]
    [InlineData("""{"bucket_url":"Bad_Bucket:file.qcow2","file_format":"qcow2"}""", "IMG.0109")]
    [InlineData("""{"bucket_url":"ab:file.qcow2","file_format":"qcow2"}""", "IMG.0109")]
    [InlineData("""{"bucket_url":"my..bucket:file.qcow2","file_format":"qcow2"}""", "IMG.0109")]
    [InlineData("""{"bucket_url":"ims-image:","file_format":"qcow2"}""", "IMG.0073")]
    [InlineData("""{"bucket_url":"ims-image:my file.qcow2","file_format":"qcow2"}""", "IMG.0175")]
    [InlineData("""{"bucket_url":"ims-image:a\u0001b","file_format":"qcow2"}""", "IMG.0075")]
    [InlineData("""{"bucket_url":"ims-image:file.qcow2"}""", "IMG.0001")]
    [InlineData("""{"bucket_url":"ims-image:file.qcow2","file_format":"iso"}""", "IMG.0072")]
    [InlineData("""{"bucket_url":"ims-image:file.qcow2","file_format":"QCOW2"}""", "IMG.0072")]
    [InlineData("""{"bucket_url":"ims-image:file.qcow2","file_format":3}""", "IMG.0001")]
    [InlineData("""{"bucket_url":"ims-image:file.qcow2","file_format":"qcow2","is_quick_export":true}""", "IMG.0001")]
    [InlineData("""{"bucket_url":"ims-image:file.qcow2","file_format":"qcow2","is_quick_export":"yes"}""", "IMG.0001")]
    public async Task Export_bodies_are_checked_before_the_image(string? body, string code)
    {
        var imageId = await WholeImageAsync();
        (await Alice.SendAsync(HttpMethod.Post, ExportPath(imageId), body ?? "")).ExpectImsError(400, code);
        (await Alice.SendAsync(HttpMethod.Post, ExportPath(Guid.NewGuid().ToString()), body ?? "")).ExpectImsError(400, code);
    }

    [Fact]
    public async Task A_long_export_file_name_is_refused()
    {
        var imageId = await WholeImageAsync();
        (await Alice.PostAsync(ExportPath(imageId), new { bucket_url = "ims-image:" + new string('f', 1025), file_format = "vmdk" }))
            .ExpectImsError(400, "IMG.0074");
    }
}
