using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Ims.Service.Storage;
using Ims.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Ims.Tests.Ims;

/// <summary>
/// System-disk images from a raw or qcow2 file over the native API: <c>POST /v2/images</c> then
/// <c>PUT /v2/images/{id}/file</c>, and what the image and the store hold afterwards.
/// </summary>
public sealed class ImageUploadTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private readonly TestService _service = fixture.Service;

    [Fact]
    public async Task Creating_metadata_answers_201_with_the_queued_image_as_the_reference_shows_it()
    {
        var alice = _service.Client(TestAccounts.Alice);
        var body = """
            {"__os_version": "Ubuntu 14.04 server 64bit", "container_format": "bare", "disk_format": "vhd", "min_disk": 100,
             "min_ram": 1024, "name": "test", "tags": ["test=testvalue", "image=imagevalue"], "visibility": "private",
             "protected": false}
            """;
        var image = (await alice.PostAsync(ImageFiles.CreatePath, body)).Expect(201).Json;

        Assert.Equal("queued", (string?)image["status"]);
        Assert.Equal("test", (string?)image["name"]);
        Assert.Equal("private", (string?)image["visibility"]);
        Assert.Equal("private", (string?)image["__imagetype"]);
        Assert.Equal("true", (string?)image["__isregistered"]);
        Assert.Equal("vhd", (string?)image["disk_format"]);
        Assert.Equal("bare", (string?)image["container_format"]);
        Assert.Equal(alice.ProjectId, (string?)image["owner"]);
        Assert.Equal("Linux", (string?)image["__os_type"]);
        Assert.Equal("Ubuntu", (string?)image["__platform"]);
        Assert.Equal("64", (string?)image["__os_bit"]);
        Assert.Equal("Ubuntu 14.04 server 64bit", (string?)image["__os_version"]);
        Assert.Equal("0", (string?)image["__image_size"]);
        Assert.Equal("uds", (string?)image["__image_source_type"]);
        Assert.Equal("FusionCompute", (string?)image["virtual_env_type"]);
        Assert.Equal("file", (string?)image["__root_origin"]);
        Assert.Equal(["test=testvalue", "image=imagevalue"], image["tags"]!.AsArray().Select(t => (string)t!));
        var id = (string)image["id"]!;
        Assert.Equal($"/v2/images/{id}", (string?)image["self"]);
        Assert.Equal($"/v2/images/{id}/file", (string?)image["file"]);
        Assert.Equal("/v2/schemas/image", (string?)image["schema"]);
        // JSON types clients assert on (contract §0).
        Assert.Equal(JsonValueKind.Number, image["min_disk"]!.GetValueKind());
        Assert.Equal(100, (int)image["min_disk"]!);
        Assert.Equal(1024, (int)image["min_ram"]!);
        Assert.Equal(JsonValueKind.False, image["protected"]!.GetValueKind());
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$", (string)image["created_at"]!);

        // Registered from the start: shown by id and in both lists while it waits for its file, as in Glance.
        Assert.Equal("queued", (string?)(await alice.GetAsync($"/v2/images/{id}")).Expect(200)["status"]);
        var native = (await alice.GetAsync($"/v2/images?id={id}")).Expect(200)["images"].AsArray();
        Assert.Equal("queued", (string?)Assert.Single(native)!["status"]);
        Assert.Single((await alice.GetAsync($"/v2/cloudimages?status=queued&id={id}")).Expect(200)["images"].AsArray());
        // Others do not see it.
        (await _service.Client(TestAccounts.Bob).GetAsync($"/v2/images/{id}")).ExpectImsError(404, "IMG.0027");
    }

    [Fact]
    public async Task An_empty_create_body_object_makes_an_unnamed_zvhd2_image_with_the_documented_defaults()
    {
        var image = (await _service.Client(TestAccounts.Alice).PostAsync(ImageFiles.CreatePath, "{}")).Expect(201).Json;
        Assert.Equal("", (string?)image["name"]);
        Assert.Equal("zvhd2", (string?)image["disk_format"]);
        Assert.Equal("bare", (string?)image["container_format"]);
        Assert.Equal("Other Linux(64 bit)", (string?)image["__os_version"]);
        Assert.Equal("Linux", (string?)image["__os_type"]);
        Assert.Equal("Other", (string?)image["__platform"]);
        Assert.Equal(0, (int)image["min_disk"]!);
        Assert.Equal(0, (int)image["min_ram"]!);
        Assert.Empty(image["tags"]!.AsArray());
    }

    [Fact]
    public async Task A_raw_upload_makes_the_image_active_and_the_store_holds_exactly_the_uploaded_bytes()
    {
        var alice = _service.Client(TestAccounts.Alice);
        var image = await ImageFiles.CreateAsync(alice, "raw");
        var id = (string)image["id"]!;
        // Larger than Kestrel's default body limit (30 MB), crossing several 4 MiB chunks, mostly zeros.
        var raw = ImageFiles.RawDisk(40 * 1024 * 1024 + 512, seed: 1);

        (await ImageFiles.UploadAsync(alice, id, raw)).Expect(204);

        var shown = (await alice.GetAsync($"/v2/images/{id}")).Expect(200).Json;
        Assert.Equal("active", (string?)shown["status"]);
        Assert.Equal(raw.Length, (long)shown["size"]!);
        Assert.Equal(raw.Length, (long)shown["virtual_size"]!);
        Assert.Equal(ImageFiles.Md5(raw), (string?)shown["checksum"]);
        Assert.Equal(raw.Length.ToString(CultureInfo.InvariantCulture), (string?)shown["__image_size"]);
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$", (string)shown["active_at"]!);
        Assert.Equal("true", (string?)shown["__isregistered"]);
        Assert.Equal("false", (string?)shown["__whole_image"]);
        // A 40 MiB disk needs a 1 GB system disk; the image asked for 1 already.
        Assert.Equal(1, (int)shown["min_disk"]!);

        // terraform's read: the IMS list by id, with the contract's JSON types.
        var listed = await TestImages.ReadAsync(alice, id);
        Assert.Equal(JsonValueKind.Number, listed["size"]!.GetValueKind());
        Assert.Equal(JsonValueKind.Number, listed["virtual_size"]!.GetValueKind());
        Assert.Equal(JsonValueKind.String, listed["__image_size"]!.GetValueKind());
        Assert.Equal(JsonValueKind.String, listed["checksum"]!.GetValueKind());
        Assert.Equal("active", (string?)listed["status"]);

        var manifest = await ImageFiles.ManifestOfAsync(_service, id);
        Assert.NotNull(manifest);
        var dataPlane = ImageFiles.DataPlane(_service);
        Assert.Equal(raw.Length, await dataPlane.ManifestSizeAsync(manifest, CancellationToken.None));
        Assert.Equal(ImageFiles.Sha256(raw), await dataPlane.HashManifestAsync(manifest, CancellationToken.None));
    }

    [Fact]
    public async Task A_qcow2_upload_stores_the_disk_it_describes_and_reports_the_file_and_the_virtual_size()
    {
        var alice = _service.Client(TestAccounts.Alice);
        var image = await ImageFiles.CreateAsync(alice, "qcow2", new JsonObject { ["min_disk"] = 0 });
        var id = (string)image["id"]!;
        var raw = ImageFiles.RawDisk(9 * 1024 * 1024, seed: 2);
        var qcow2 = await ImageFiles.ToQcow2Async(raw);
        Assert.NotEqual(raw.Length, qcow2.Length);

        (await ImageFiles.UploadAsync(alice, id, qcow2)).Expect(204);

        var shown = (await alice.GetAsync($"/v2/images/{id}")).Expect(200).Json;
        Assert.Equal("active", (string?)shown["status"]);
        Assert.Equal("qcow2", (string?)shown["disk_format"]);
        Assert.Equal(qcow2.Length, (long)shown["size"]!);
        Assert.Equal(ImageFiles.Md5(qcow2), (string?)shown["checksum"]);
        Assert.Equal(raw.Length, (long)shown["virtual_size"]!);
        // min_disk 0 rises to the disk's size in whole GB so that servers can be made from it.
        Assert.Equal(1, (int)shown["min_disk"]!);

        var manifest = await ImageFiles.ManifestOfAsync(_service, id);
        Assert.Equal(ImageFiles.Sha256(raw), await ImageFiles.DataPlane(_service).HashManifestAsync(manifest!, CancellationToken.None));
    }

    [Fact]
    public async Task An_upload_signed_with_ak_sk_works_like_one_with_a_token()
    {
        var alice = _service.Client(TestAccounts.Alice, AuthMode.AkSk);
        var id = (string)(await ImageFiles.CreateAsync(alice, "raw"))["id"]!;
        var raw = ImageFiles.RawDisk(1024 * 1024, seed: 3);
        (await ImageFiles.UploadAsync(alice, id, raw)).Expect(204);
        var manifest = await ImageFiles.ManifestOfAsync(_service, id);
        Assert.Equal(ImageFiles.Sha256(raw), await ImageFiles.DataPlane(_service).HashManifestAsync(manifest!, CancellationToken.None));
    }

    [Theory]
    [InlineData("", 400, "IMG.0007")]
    [InlineData("{\"name\": ", 400, "IMG.0001")]
    [InlineData("[]", 400, "IMG.0001")]
    [InlineData("{\"disk_format\": \"vhdz\"}", 400, "IMG.0072")]
    [InlineData("{\"container_format\": \"box\"}", 400, "IMG.0001")]
    [InlineData("{\"visibility\": \"public\"}", 403, "IMG.0161")]
    [InlineData("{\"visibility\": \"everyone\"}", 400, "IMG.0001")]
    [InlineData("{\"min_disk\": 1025}", 400, "IMG.0055")]
    [InlineData("{\"min_disk\": -1}", 400, "IMG.0055")]
    [InlineData("{\"min_ram\": -1}", 400, "IMG.0055")]
    [InlineData("{\"min_ram\": \"1024\"}", 400, "IMG.0001")]
    [InlineData("{\"name\": \" lead\"}", 400, "IMG.0003")]
    [InlineData("{\"__os_version\": \"\"}", 400, "IMG.0056")]
    [InlineData("{\"tags\": [\"a b=c\"]}", 400, "IMG.0115")]
    [InlineData("{\"tags\": [\"k1\",\"k2\",\"k3\",\"k4\",\"k5\",\"k6\",\"k7\",\"k8\",\"k9\",\"k10\",\"k11\"]}", 400, "IMG.0116")]
    public async Task A_create_request_that_breaks_a_rule_gets_its_error_and_makes_no_image(string body, int status, string code)
    {
        var client = _service.Client(TestAccounts.Bob);
        var before = (await client.GetAsync("/v1/cloudimages/quota")).Expect(200)["quotas"]["resources"]![0]!["used"]!.GetValue<int>();
        (await client.PostAsync(ImageFiles.CreatePath, body)).ExpectImsError(status, code);
        var after = (await client.GetAsync("/v1/cloudimages/quota")).Expect(200)["quotas"]["resources"]![0]!["used"]!.GetValue<int>();
        Assert.Equal(before, after);
    }

    [Fact]
    public async Task Uploads_to_images_that_cannot_take_a_file_are_refused_with_the_reason()
    {
        var alice = _service.Client(TestAccounts.Alice);
        var bob = _service.Client(TestAccounts.Bob);
        var raw = ImageFiles.RawDisk(65536, seed: 4);

        (await ImageFiles.UploadAsync(alice, Guid.NewGuid().ToString(), raw)).ExpectImsError(404, "IMG.0027");
        var bobs = (string)(await ImageFiles.CreateAsync(bob, "raw"))["id"]!;
        (await ImageFiles.UploadAsync(alice, bobs, raw)).ExpectImsError(404, "IMG.0027");
        // A public image is visible but not the caller's.
        (await ImageFiles.UploadAsync(alice, "7d5b8f3a-1c2e-4f60-9b11-18040000a001", raw)).ExpectImsError(403, "IMG.0047");

        var zvhd2 = (string)(await ImageFiles.CreateAsync(alice, "zvhd2"))["id"]!;
        (await ImageFiles.UploadAsync(alice, zvhd2, raw)).ExpectImsError(400, "IMG.0072");

        var queued = (string)(await ImageFiles.CreateAsync(alice, "raw"))["id"]!;
        (await ImageFiles.UploadAsync(alice, queued, raw, "application/json")).ExpectImsError(415, "IMG.0001");
        (await ImageFiles.UploadAsync(alice, queued, [])).ExpectImsError(400, "IMG.0057");
        Assert.Equal("queued", (string?)(await alice.GetAsync($"/v2/images/{queued}")).Expect(200)["status"]);

        (await ImageFiles.UploadAsync(alice, queued, raw)).Expect(204);
        // Only a queued image takes a file.
        (await ImageFiles.UploadAsync(alice, queued, raw)).ExpectImsError(409, "IMG.0046");
    }

    [Fact]
    public async Task A_file_that_is_not_a_qcow2_is_refused_and_the_image_can_take_a_good_one_afterwards()
    {
        var alice = _service.Client(TestAccounts.Alice);
        var id = (string)(await ImageFiles.CreateAsync(alice, "qcow2"))["id"]!;
        var garbage = ImageFiles.RawDisk(1024 * 1024, seed: 5);

        var refused = await ImageFiles.UploadAsync(alice, id, garbage);
        refused.ExpectImsError(400, "IMG.0057");
        // The client learns what is wrong with its file, not where the service keeps scratch files.
        Assert.DoesNotContain("upload-", refused.Body, StringComparison.Ordinal);
        Assert.DoesNotContain(_service.DataDir, refused.Body, StringComparison.Ordinal);
        var shown = (await alice.GetAsync($"/v2/images/{id}")).Expect(200).Json;
        Assert.Equal("queued", (string?)shown["status"]);
        Assert.Null(await ImageFiles.ManifestOfAsync(_service, id));

        var raw = ImageFiles.RawDisk(2 * 1024 * 1024, seed: 6);
        (await ImageFiles.UploadAsync(alice, id, await ImageFiles.ToQcow2Async(raw))).Expect(204);
        var manifest = await ImageFiles.ManifestOfAsync(_service, id);
        Assert.Equal(ImageFiles.Sha256(raw), await ImageFiles.DataPlane(_service).HashManifestAsync(manifest!, CancellationToken.None));
    }

    [Fact]
    public async Task A_whole_image_cannot_be_uploaded_to()
    {
        var alice = _service.Client(TestAccounts.Alice);
        var whole = await TestImages.CreateAsync(_service, alice);
        (await ImageFiles.UploadAsync(alice, whole.Id(), ImageFiles.RawDisk(65536, seed: 7))).ExpectImsError(400, "IMG.0105");
    }

    [Fact]
    public async Task A_queued_image_can_be_deleted_and_then_holds_no_quota()
    {
        var alice = _service.Client(TestAccounts.Alice);
        var id = (string)(await ImageFiles.CreateAsync(alice, "raw"))["id"]!;
        (await alice.DeleteAsync($"/v2/images/{id}")).Expect(204);
        (await alice.GetAsync($"/v2/images/{id}")).ExpectImsError(404, "IMG.0027");
        (await ImageFiles.UploadAsync(alice, id, ImageFiles.RawDisk(65536, seed: 8))).ExpectImsError(404, "IMG.0027");
    }
}

/// <summary>What needs a service of its own: the image quota, the largest file, a restart.</summary>
public sealed class ImageUploadServiceTests
{
    [Fact]
    public async Task An_upload_cut_off_by_a_stop_leaves_the_image_queued_after_a_restart()
    {
        var service = await TestService.StartAsync(TestService.NewDataDir());
        var alice = service.Client(TestAccounts.Alice);
        var id = (string)(await ImageFiles.CreateAsync(alice, "raw"))["id"]!;
        // The state an upload in progress leaves when the process dies: the image saving, a scratch file half written.
        var db = service.App.Services.GetRequiredService<Database>();
        await using (var connection = await db.OpenAsync(CancellationToken.None))
            await connection.ExecuteAsync("UPDATE images SET status = 'saving' WHERE id = @id", new { id });
        var scratch = Path.Combine(service.DataDir, "uploads");
        Directory.CreateDirectory(scratch);
        var leftover = Path.Combine(scratch, $"upload-{id}-cut.raw");
        await File.WriteAllBytesAsync(leftover, new byte[4096]);
        await service.DisposeAsync();

        await using var restarted = await TestService.StartAsync(service.DataDir);
        var again = restarted.Client(TestAccounts.Alice);
        Assert.Equal("queued", (string?)(await again.GetAsync($"/v2/images/{id}")).Expect(200)["status"]);
        Assert.False(File.Exists(leftover));
        (await ImageFiles.UploadAsync(again, id, ImageFiles.RawDisk(65536, seed: 10))).Expect(204);
    }

    [Fact]
    public async Task Creating_metadata_respects_the_image_quota()
    {
        await using var service = await TestService.StartAsync(extra: ["--Ims:ImageQuota=1"]);
        var alice = service.Client(TestAccounts.Alice);
        var first = (string)(await ImageFiles.CreateAsync(alice, "raw"))["id"]!;
        (await alice.PostAsync(ImageFiles.CreatePath, "{\"disk_format\": \"raw\"}")).ExpectImsError(400, "IMG.0015");
        // Deleting the queued image frees its place.
        (await alice.DeleteAsync($"/v2/images/{first}")).Expect(204);
        await ImageFiles.CreateAsync(alice, "raw");
    }

    [Fact]
    public async Task A_file_over_the_limit_is_refused_and_the_image_stays_queued()
    {
        await using var service = await TestService.StartAsync(extra: ["--Ims:MaxImageFileBytes=1048576"]);
        var alice = service.Client(TestAccounts.Alice);
        var id = (string)(await ImageFiles.CreateAsync(alice, "raw"))["id"]!;
        (await ImageFiles.UploadAsync(alice, id, ImageFiles.RawDisk(1024 * 1024 + 512, seed: 9))).ExpectImsError(400, "IMG.0059");
        Assert.Equal("queued", (string?)(await alice.GetAsync($"/v2/images/{id}")).Expect(200)["status"]);
        (await ImageFiles.UploadAsync(alice, id, ImageFiles.RawDisk(1024 * 1024, seed: 9))).Expect(204);
    }
}

/// <summary>The OS attributes IMS derives from <c>__os_version</c>.</summary>
public sealed class NativeImageRulesTests
{
    [Theory]
    [InlineData("Ubuntu 18.04 server 64bit", "Linux", "Ubuntu", "64")]
    [InlineData("Windows Server 2019 Datacenter 64bit English", "Windows", "Windows", "64")]
    [InlineData("CentOS 7.9 64bit", "Linux", "CentOS", "64")]
    [InlineData("Debian GNU/Linux 11.0.0 64bit", "Linux", "Debian", "64")]
    [InlineData("Other Linux(64 bit)", "Linux", "Other", "64")]
    [InlineData("Other Linux(32 bit)", "Linux", "Other", "32")]
    [InlineData("Red Hat Linux 7.4 64bit", "Linux", "RedHat", "64")]
    public void Os_type_platform_and_bits_follow_the_os_version(string osVersion, string osType, string platform, string osBit) =>
        Assert.Equal((osType, platform, osBit), global::Ims.Service.Ims.NativeImageRules.DescribeOs(osVersion));
}
