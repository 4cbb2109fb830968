using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Ims.Service.Storage;
using Ims.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Ims.Tests.Ims;

/// <summary>PATCH /v2/cloudimages/{id} and PATCH /v2/images/{id}: terraform's sequences, both dialects, every rule.</summary>
public sealed class ImageUpdateTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private const string Ubuntu = "7d5b8f3a-1c2e-4f60-9b11-18040000a001";

    private TestService Service => fixture.Service;

    private static Task<ApiResponse> PatchAsync(ApiClient client, string imageId, object operations,
        string contentType = "application/json", bool native = false) =>
        client.SendAsync(HttpMethod.Patch, native ? $"/v2/images/{imageId}" : $"/v2/cloudimages/{imageId}", operations, contentType);

    private static object Op(string op, string path, object? value) => new { op, path, value };

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task Terraform_updates_name_description_max_ram_and_min_ram_falling_back_from_replace_to_add(AuthMode mode)
    {
        var client = Service.Client(TestAccounts.Alice, mode);
        var image = await TestImages.CreateAsync(Service, client, new JsonObject { ["description"] = "" });
        var id = image.Id();
        Assert.Null(image["__description"]);
        Assert.Null(image["max_ram"]);

        // 1. name: one replace, 200 with the whole image.
        var renamed = (await PatchAsync(client, id, new[] { Op("replace", "/name", "tf_test_renamed") })).Expect(200);
        Assert.Equal("tf_test_renamed", (string?)renamed["name"]);
        Assert.Equal(id, (string?)renamed["id"]);
        Assert.Equal("true", (string?)renamed["__whole_image"]);

        // 2. description: replace of an attribute the image lacks is IMG.0035, then add works.
        (await PatchAsync(client, id, new[] { Op("replace", "/__description", "updated by terraform") })).ExpectImsError(400, "IMG.0035");
        var described = (await PatchAsync(client, id, new[] { Op("add", "/__description", "updated by terraform") })).Expect(200);
        Assert.Equal("updated by terraform", (string?)described["__description"]);

        // 3. max_ram as an int: same fallback; the answer keeps max_ram a JSON string.
        (await PatchAsync(client, id, new[] { Op("replace", "/max_ram", 4096) })).ExpectImsError(400, "IMG.0035");
        var limited = (await PatchAsync(client, id, new[] { Op("add", "/max_ram", 4096) })).Expect(200);
        Assert.Equal(JsonValueKind.String, limited["max_ram"].GetValueKind());
        Assert.Equal("4096", (string?)limited["max_ram"]);

        // The deprecated resource sends max_ram as a string, with the v2.1 JSON-Patch content type.
        var raised = (await PatchAsync(client, id, new[] { Op("replace", "/max_ram", "8192") }, "application/openstack-images-v2.1-json-patch")).Expect(200);
        Assert.Equal("8192", (string?)raised["max_ram"]);

        // 4. min_ram: replace, no fallback needed (always present); 0 is allowed.
        var minimum = (await PatchAsync(client, id, new[] { Op("replace", "/min_ram", 2048) })).Expect(200);
        Assert.Equal(JsonValueKind.Number, minimum["min_ram"].GetValueKind());
        Assert.Equal(2048, (int)minimum["min_ram"]);
        (await PatchAsync(client, id, new[] { Op("replace", "/min_ram", 0) })).Expect(200);

        var read = await TestImages.ReadAsync(client, id);
        Assert.Equal("tf_test_renamed", (string?)read["name"]);
        Assert.Equal("updated by terraform", (string?)read["__description"]);
        Assert.Equal("8192", (string?)read["max_ram"]);
        Assert.Equal(0, (int)read["min_ram"]!);
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$", (string?)read["updated_at"]);
    }

    [Fact]
    public async Task A_description_replaced_with_nothing_goes_away_and_must_be_added_again()
    {
        var client = Service.Client(TestAccounts.Alice);
        var id = (await TestImages.CreateAsync(Service, client, new JsonObject { ["description"] = "first" })).Id();
        var cleared = (await PatchAsync(client, id, new[] { Op("replace", "/__description", "") })).Expect(200);
        Assert.Null(cleared.Json["__description"]);
        (await PatchAsync(client, id, new[] { Op("replace", "/__description", "second") })).ExpectImsError(400, "IMG.0035");
        (await PatchAsync(client, id, new[] { Op("add", "/__description", "second") })).Expect(200);
    }

    [Fact]
    public async Task Max_ram_zero_or_removed_means_no_maximum()
    {
        var client = Service.Client(TestAccounts.Alice);
        var id = (await TestImages.CreateAsync(Service, client, new JsonObject { ["max_ram"] = 4096, ["min_ram"] = 1024 })).Id();
        Assert.Null((await PatchAsync(client, id, new[] { Op("replace", "/max_ram", 0) })).Expect(200).Json["max_ram"]);
        (await PatchAsync(client, id, new[] { Op("add", "/max_ram", "2048") })).Expect(200);
        Assert.Null((await PatchAsync(client, id, new[] { Op("remove", "/max_ram", null) })).Expect(200).Json["max_ram"]);
        (await PatchAsync(client, id, new[] { Op("remove", "/max_ram", null) })).ExpectImsError(400, "IMG.0035");
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/json;charset=UTF-8")]
    [InlineData("application/openstack-images-v2.1-json-patch")]
    public async Task The_native_patch_takes_the_v2_1_dialect(string contentType)
    {
        var client = Service.Client(TestAccounts.Alice);
        var id = (await TestImages.CreateAsync(Service, client)).Id();
        var name = Servers.UniqueName("native");
        var updated = (await PatchAsync(client, id, new[] { Op("replace", "/name", name) }, contentType, native: true)).Expect(200);
        Assert.Equal(name, (string?)updated["name"]);
        Assert.Equal("/v2/schemas/image", (string?)updated["schema"]);
    }

    [Fact]
    public async Task The_v2_0_dialect_names_the_operation_as_the_key()
    {
        var client = Service.Client(TestAccounts.Alice, AuthMode.AkSk);
        var id = (await TestImages.CreateAsync(Service, client)).Id();
        const string v20 = "application/openstack-images-v2.0-json-patch";
        var updated = (await PatchAsync(client, id, """[{"replace":"/name","value":"v20-name"},{"add":"/__support_kvm_infiniband","value":"true"}]""", v20, native: true)).Expect(200);
        Assert.Equal("v20-name", (string?)updated["name"]);
        Assert.Equal("true", (string?)updated["__support_kvm_infiniband"]);
        var removed = (await PatchAsync(client, id, """[{"remove":"/__support_kvm_infiniband"}]""", v20)).Expect(200);
        Assert.Null(removed.Json["__support_kvm_infiniband"]);
        // The v2.1 shape under the v2.0 type names no operation.
        (await PatchAsync(client, id, new[] { Op("replace", "/name", "x") }, v20)).ExpectImsError(400, "IMG.0001");
        (await PatchAsync(client, id, """[{"replace":"/name","add":"/name","value":"x"}]""", v20)).ExpectImsError(400, "IMG.0001");
    }

    [Fact]
    public async Task Other_content_types_are_415()
    {
        var client = Service.Client(TestAccounts.Alice);
        (await PatchAsync(client, Ubuntu, new[] { Op("replace", "/name", "x") }, "text/plain")).ExpectImsError(415, "IMG.0001");
    }

    [Theory]
    [InlineData("__whole_image")]
    [InlineData("__backup_id")]
    [InlineData("id")]
    [InlineData("status")]
    [InlineData("owner")]
    [InlineData("visibility")]
    [InlineData("__imagetype")]
    [InlineData("__isregistered")]
    [InlineData("__os_type")]
    [InlineData("__platform")]
    [InlineData("disk_format")]
    [InlineData("__originalimagename")]
    [InlineData("__data_origin")]
    public async Task Reserved_attributes_are_IMG_0035(string attribute)
    {
        var client = Service.Client(TestAccounts.Alice);
        var id = (await ImageAsync(client)).Id();
        foreach (var op in new[] { "replace", "add", "remove" })
            (await PatchAsync(client, id, new[] { Op(op, "/" + attribute, "x") })).ExpectImsError(400, "IMG.0035");
    }

    [Theory]
    [InlineData("/name", "", "IMG.0013")]
    [InlineData("/name", "bad/name", "IMG.0003")]
    [InlineData("/name", " leading-space", "IMG.0003")]
    [InlineData("/name", "LONG", "IMG.0002")]
    [InlineData("/__description", "LONG", "IMG.0004")]
    [InlineData("/__description", "has <html>", "IMG.0054")]
    [InlineData("/__description", "two\nlines", "IMG.0054")]
    [InlineData("/min_ram", "abc", "IMG.0055")]
    [InlineData("/min_ram", "-1", "IMG.0055")]
    [InlineData("/min_ram", "99999999999", "IMG.0055")]
    [InlineData("/min_disk", "0", "IMG.0055")]
    [InlineData("/min_disk", "1025", "IMG.0055")]
    [InlineData("/hw_firmware_type", "efi", "IMG.0141")]
    [InlineData("/enterprise_project_id", "not-a-uuid", "IMG.0155")]
    [InlineData("/__os_version", "", "IMG.0056")]
    [InlineData("/Custom_Attr", "x", "IMG.0001")]
    public async Task Values_follow_the_create_rules(string path, string value, string code)
    {
        var client = Service.Client(TestAccounts.Alice);
        var image = await ImageAsync(client);
        value = value == "LONG" ? new string('n', path == "/name" ? 129 : 1025) : value;
        (await PatchAsync(client, image.Id(), new[] { Op("add", path, value) })).ExpectImsError(400, code);
        // Nothing changed.
        Assert.Equal((string?)image["name"], (string?)(await TestImages.ReadAsync(client, image.Id()))["name"]);
    }

    [Fact]
    public async Task Min_ram_above_max_ram_is_IMG_0055_also_across_operations()
    {
        var client = Service.Client(TestAccounts.Alice);
        var id = (await ImageAsync(client)).Id();
        (await PatchAsync(client, id, new[] { Op("add", "/max_ram", 1024), Op("replace", "/min_ram", 2048) })).ExpectImsError(400, "IMG.0055");
        // All or nothing: the max_ram of the refused request was not kept.
        Assert.Null((await TestImages.ReadAsync(client, id))["max_ram"]);
        var both = (await PatchAsync(client, id, new[] { Op("add", "/max_ram", "4096"), Op("replace", "/min_ram", "2048") })).Expect(200);
        Assert.Equal(2048, (int)both["min_ram"]);
    }

    [Fact]
    public async Task The_other_updatable_attributes_change_and_custom_ones_can_be_removed()
    {
        var client = Service.Client(TestAccounts.Alice);
        var id = (await ImageAsync(client)).Id();
        var eps = await Eps.EnterpriseProjectApi.CreateAsync(client);
        var updated = (await PatchAsync(client, id, new[]
        {
            Op("replace", "/hw_firmware_type", "uefi"),
            Op("add", "/min_disk", 60),
            Op("replace", "/__os_version", "Ubuntu 22.04 server 64bit"),
            Op("add", "/__support_largememory", "true"),
            Op("add", "/hw_vif_multiqueue_enabled", true),
            Op("add", "/__is_config_init", "true"),
            Op("add", "/__support_amd", "false"),
            Op("add", "/my_extension", "value-1"),
            Op("replace", "/enterprise_project_id", eps),
        })).Expect(200);
        Assert.Equal("uefi", (string?)updated["hw_firmware_type"]);
        Assert.Equal(60, (int)updated["min_disk"]);
        Assert.Equal("Ubuntu 22.04 server 64bit", (string?)updated["__os_version"]);
        Assert.Equal("true", (string?)updated["__support_largememory"]);
        Assert.Equal("true", (string?)updated["hw_vif_multiqueue_enabled"]);
        Assert.Equal("value-1", (string?)updated["my_extension"]);
        Assert.Equal(eps, (string?)updated["enterprise_project_id"]);

        var removed = (await PatchAsync(client, id, new[] { Op("remove", "/my_extension", null), Op("remove", "/__support_largememory", null) })).Expect(200);
        Assert.Null(removed.Json["my_extension"]);
        Assert.Null(removed.Json["__support_largememory"]);
        (await PatchAsync(client, id, new[] { Op("remove", "/my_extension", null) })).ExpectImsError(400, "IMG.0035");
        (await PatchAsync(client, id, new[] { Op("replace", "/never_set", "x") })).ExpectImsError(400, "IMG.0035");
        foreach (var core in new[] { "/name", "/min_ram", "/min_disk", "/enterprise_project_id", "/__os_version" })
            (await PatchAsync(client, id, new[] { Op("remove", core, null) })).ExpectImsError(400, "IMG.0035");
    }

    [Theory]
    [InlineData("", "IMG.0007")]
    [InlineData("{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"x\"}", "IMG.0001")]
    [InlineData("[{\"op\":\"replace\",\"path\":\"/name\"", "IMG.0001")]
    [InlineData("[{\"op\":\"move\",\"path\":\"/name\",\"value\":\"x\"}]", "IMG.0001")]
    [InlineData("[{\"op\":\"replace\",\"path\":\"name\",\"value\":\"x\"}]", "IMG.0001")]
    [InlineData("[{\"op\":\"replace\",\"path\":\"/a/b\",\"value\":\"x\"}]", "IMG.0001")]
    [InlineData("[{\"op\":\"replace\",\"path\":\"/name\"}]", "IMG.0001")]
    [InlineData("[{\"op\":\"add\",\"path\":\"/name\",\"value\":null}]", "IMG.0003")]
    [InlineData("[\"replace\"]", "IMG.0001")]
    [InlineData("[{\"op\":\"add\",\"path\":\"/my_ext\",\"value\":{\"a\":1}}]", "IMG.0001")]
    public async Task Malformed_bodies_are_refused(string body, string code)
    {
        var client = Service.Client(TestAccounts.Alice);
        var id = (await ImageAsync(client)).Id();
        (await client.SendAsync(HttpMethod.Patch, $"/v2/cloudimages/{id}", body)).ExpectImsError(400, code);
    }

    [Fact]
    public async Task An_empty_patch_changes_nothing()
    {
        var client = Service.Client(TestAccounts.Alice);
        var image = await ImageAsync(client);
        Assert.Equal((string?)image["name"], (string?)(await PatchAsync(client, image.Id(), Array.Empty<object>())).Expect(200)["name"]);
    }

    [Fact]
    public async Task Only_the_owner_updates_another_project_gets_404_and_public_images_are_IMG_0047()
    {
        var alice = Service.Client(TestAccounts.Alice);
        var bob = Service.Client(TestAccounts.Bob, AuthMode.AkSk);
        var image = await ImageAsync(alice);
        (await PatchAsync(bob, image.Id(), new[] { Op("replace", "/name", "stolen") })).ExpectImsError(404, "IMG.0027");
        (await PatchAsync(bob, image.Id(), new[] { Op("replace", "/name", "stolen") }, native: true)).ExpectImsError(404, "IMG.0027");
        Assert.Equal((string?)image["name"], (string?)(await TestImages.ReadAsync(alice, image.Id()))["name"]);
        (await PatchAsync(bob, Ubuntu, new[] { Op("replace", "/name", "mine") })).ExpectImsError(400, "IMG.0047");
        (await PatchAsync(alice, Guid.NewGuid().ToString(), new[] { Op("replace", "/name", "x") })).ExpectImsError(404, "IMG.0027");
    }

    [Fact]
    public async Task An_image_still_being_made_is_IMG_0046()
    {
        var client = Service.Client(TestAccounts.Alice);
        var faults = new Faults(Service.BaseAddress);
        var rule = await faults.CreateAsync(new { job_type = "imsCreateWholeImageByBackupJob", delay_ms = 3000, count = 1 });
        var creating = TestImages.CreateAsync(Service, client);
        string? imageId = null;
        await Poll.UntilAsync(async () =>
        {
            imageId = await QueuedImageAsync(Service);
            return imageId is not null;
        }, TimeSpan.FromSeconds(30), "the image to be queued");
        (await PatchAsync(client, imageId!, new[] { Op("replace", "/name", "early") })).ExpectImsError(400, "IMG.0046");
        await faults.SendAsync(HttpMethod.Delete, $"{Faults.Path}/{(string)rule["id"]!}");
        await creating;
    }

    private static async Task<string?> QueuedImageAsync(TestService service)
    {
        var db = service.App.Services.GetRequiredService<Database>();
        await using var connection = await db.OpenAsync(CancellationToken.None);
        return await connection.ExecuteScalarAsync<string?>(
            "SELECT id FROM images WHERE status IN ('queued', 'saving') ORDER BY created_at DESC LIMIT 1");
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<Task<JsonObject>>> Shared = new(StringComparer.Ordinal);

    /// <summary>One image per service and project for the tests that only see refusals (nothing they send is kept).</summary>
    private Task<JsonObject> ImageAsync(ApiClient client) =>
        Shared.GetOrAdd($"{Service.BaseAddress}|{client.ProjectId}", _ => new(() => TestImages.CreateAsync(Service, client))).Value;
}
