using System.Text;
using System.Text.Json.Nodes;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ims;

/// <summary>
/// Issue 11 §3: IMS calls the SDKs and terraform expose that answered 404: batch tag deletion (the SDKs'
/// BatchDeleteTags, signed as the Node SDK signs it), the OS version list (terraform's <c>huaweicloud_ims_os_versions</c>)
/// and the IMS member views (terraform's <c>huaweicloud_ims_image_shared_members</c>).
/// </summary>
public sealed class SdkImsCallTests(SharingFixture fixture) : IClassFixture<SharingFixture>
{
    private TestService Service => fixture.Service;

    private static Dictionary<string, string> Project(TestTenant tenant) => new() { ["X-Project-Id"] = tenant.ProjectId };

    private static async Task<List<(string Key, string Value)>> TagsOfAsync(ApiClient client, string imageId) =>
        [.. (await client.GetAsync($"/v2/{client.ProjectId}/images/{imageId}/tags")).Expect(200)["tags"].AsArray()
            .Select(t => ((string)t!["key"]!, (string)t["value"]!))];

    private Task<string> SharedImageAsync() => fixture.OnceAsync("shared-image", async () =>
    {
        var alice = Service.Client(SharingAccounts.Alice);
        var (imageId, _) = await Sharing.CbrImageAsync(Service, alice);
        (await alice.PostAsync(Sharing.MembersPath(imageId), new { member = SharingAccounts.Bob.ProjectId })).Expect(200);
        foreach (var member in SharingAccounts.Crowd.Take(2))
            (await alice.PostAsync(Sharing.MembersPath(imageId), new { member = member.ProjectId })).Expect(200);
        return imageId;
    });

    [Fact]
    public async Task Batch_tag_deletion_removes_the_named_tags_as_the_sdk_sends_it()
    {
        var alice = Service.Client(SharingAccounts.Alice);
        var image = await TestImages.CreateAsync(Service, alice, new JsonObject
        {
            ["image_tags"] = new JsonArray(
                new JsonObject { ["key"] = "key1", ["value"] = "value1" },
                new JsonObject { ["key"] = "key2", ["value"] = "value2" },
                new JsonObject { ["key"] = "key3", ["value"] = "" },
                new JsonObject { ["key"] = "keep", ["value"] = "me" }),
        });
        var id = image.Id();
        // The reference's example: key1 and key2 with their values, key3 with an empty value; plus a tag the image lacks
        // and one whose value differs (both already "deleted": the API is idempotent).
        var body = """{"tags":[{"key":"key1","value":"value1"},{"key":"key2","value":"value2"},{"key":"key3","value":""},{"key":"absent","value":"x"}]}""";
        var deleted = await SdkRequests.SendAsync(Service.BaseAddress, SharingAccounts.Alice, HttpMethod.Delete,
            $"/v1/{alice.ProjectId}/cloudimages/{id}/tags/delete", Project(SharingAccounts.Alice), body);
        deleted.Expect(204);
        Assert.Equal([("keep", "me")], await TagsOfAsync(alice, id));

        // Again: nothing left to delete is no error.
        (await SdkRequests.SendAsync(Service.BaseAddress, SharingAccounts.Alice, HttpMethod.Delete,
            $"/v1/{alice.ProjectId}/cloudimages/{id}/tags/delete", Project(SharingAccounts.Alice), body)).Expect(204);
        // A value that differs deletes nothing.
        (await alice.DeleteAsync($"/v1/{alice.ProjectId}/cloudimages/{id}/tags/delete", new { tags = new[] { new { key = "keep", value = "other" } } }))
            .Expect(204);
        Assert.Equal([("keep", "me")], await TagsOfAsync(alice, id));
    }

    [Theory]
    [InlineData("""{"tags":[{"key":"","value":"v"}]}""")]
    [InlineData("""{"tags":[{"key":"k","value":"v"},{"key":"k","value":"w"}]}""")]
    public async Task Batch_tag_deletion_refuses_bad_tags_with_IMG_0115(string body)
    {
        var alice = Service.Client(SharingAccounts.Alice);
        var id = await SharedImageAsync();
        (await alice.SendAsync(HttpMethod.Delete, $"/v1/{alice.ProjectId}/cloudimages/{id}/tags/delete", body)).ExpectImsError(400, "IMG.0115");
    }

    [Fact]
    public async Task Batch_tag_deletion_of_an_image_that_is_not_the_callers_is_404()
    {
        var bob = Service.Client(SharingAccounts.Bob);
        var id = await SharedImageAsync();
        (await bob.DeleteAsync($"/v1/{bob.ProjectId}/cloudimages/{id}/tags/delete", new { tags = new[] { new { key = "a", value = "b" } } }))
            .ExpectImsError(404, "IMG.0027");
        (await bob.DeleteAsync($"/v1/{bob.ProjectId}/cloudimages/{Guid.NewGuid()}/tags/delete", new { tags = Array.Empty<object>() }))
            .ExpectImsError(404, "IMG.0027");
    }

    [Fact]
    public async Task Os_versions_are_listed_by_platform_in_the_documented_shape()
    {
        var client = Service.Client(SharingAccounts.Alice);
        var all = (await client.GetAsync("/v1/cloudimages/os_version")).Expect(200).Json.AsArray();
        Assert.NotEmpty(all);
        var versions = new List<JsonNode>();
        foreach (var platform in all)
        {
            var list = platform!["version_list"]!.AsArray();
            Assert.NotEmpty(list);
            foreach (var version in list)
            {
                Assert.Equal((string?)platform["platform"], (string?)version!["platform"]);
                Assert.Equal(System.Text.Json.JsonValueKind.Number, version["os_bit"]!.GetValueKind());
                Assert.Contains((string?)version["os_type"], new[] { "Linux", "Windows" });
                Assert.Equal((string?)version["os_version"], (string?)version["os_version_key"]);
                versions.Add(version);
            }
        }
        // The seeded public images' versions are among them, described as the images are.
        var ubuntu = versions.Single(v => (string?)v["os_version"] == "Ubuntu 18.04 server 64bit");
        Assert.Equal(("Ubuntu", 64, "Linux"), ((string?)ubuntu["platform"], (int)ubuntu["os_bit"]!, (string?)ubuntu["os_type"]));
        var windows = versions.Single(v => (string?)v["os_version"] == "Windows Server 2019 Datacenter 64bit English");
        Assert.Equal(("Windows", "Windows"), ((string?)windows["platform"], (string?)windows["os_type"]));
        Assert.Contains(versions, v => (string?)v["os_version"] == "Debian GNU/Linux 11.0.0 64bit");
    }

    [Fact]
    public async Task Os_version_tags_filter_and_all_must_hold()
    {
        var client = Service.Client(SharingAccounts.Alice, AuthMode.AkSk);
        int Count(JsonNode list) => list.AsArray().Sum(p => p!["version_list"]!.AsArray().Count);
        var all = Count((await client.GetAsync("/v1/cloudimages/os_version")).Expect(200).Json);
        var uefi = (await client.GetAsync("/v1/cloudimages/os_version?tag=uefi")).Expect(200).Json;
        Assert.InRange(Count(uefi), 1, all - 1);
        Assert.DoesNotContain(uefi.AsArray().SelectMany(p => p!["version_list"]!.AsArray()), v => (string?)v!["os_version"] == "Ubuntu 18.04 server 64bit");
        // terraform sends each tag of "kvm,uefi" as its own parameter (the reference's example).
        Assert.Equal(Count(uefi), Count((await client.GetAsync("/v1/cloudimages/os_version?tag=kvm&tag=uefi")).Expect(200).Json));
        Assert.Empty((await client.GetAsync("/v1/cloudimages/os_version?tag=arm")).Expect(200).Json.AsArray());
    }

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task The_owner_lists_every_member_with_ims_paging(AuthMode mode)
    {
        var alice = Service.Client(SharingAccounts.Alice, mode);
        var id = await SharedImageAsync();
        var path = $"/v1/{alice.ProjectId}/cloudimages/{id}/members";
        var all = (await alice.GetAsync(path)).Expect(200);
        Assert.Equal("/v2/schemas/members", (string?)all["schema"]);
        var members = all["members"].AsArray();
        var expected = new[] { SharingAccounts.Bob.ProjectId }.Concat(SharingAccounts.Crowd.Take(2).Select(c => c.ProjectId)).Order().ToList();
        Assert.Equal(expected, members.Select(m => (string)m!["member_id"]!).Order());
        foreach (var m in members)
        {
            Assert.Equal(("pending", id, "project", "/v2/schemas/member"),
                ((string?)m!["status"], (string?)m["image_id"], (string?)m["member_type"], (string?)m["schema"]));
            Assert.EndsWith("Z", (string?)m["created_at"]);
        }
        Assert.Equal(3, (int)all["page_info"]["current_count"]!);
        Assert.Null(all["page_info"]["next_marker"]);

        // Page by two: the marker of the first page leads to the last member.
        var first = (await alice.GetAsync($"{path}?limit=2")).Expect(200);
        Assert.Equal(2, first["members"].AsArray().Count);
        var marker = (string)first["page_info"]["next_marker"]!;
        Assert.Equal((string?)first["members"][1]!["member_id"], Encoding.UTF8.GetString(Convert.FromBase64String(marker)));
        var second = (await alice.GetAsync($"{path}?limit=2&marker={Uri.EscapeDataString(marker)}")).Expect(200);
        Assert.Equal((string?)members[2]!["member_id"], (string?)Assert.Single(second["members"].AsArray())!["member_id"]);
        Assert.Null(second["page_info"]["next_marker"]);

        var one = (await alice.GetAsync($"{path}/{SharingAccounts.Bob.ProjectId}")).Expect(200);
        Assert.Equal((SharingAccounts.Bob.ProjectId, "project"), ((string?)one["member_id"], (string?)one["member_type"]));
    }

    [Fact]
    public async Task A_member_sees_only_itself_and_a_stranger_nothing()
    {
        var id = await SharedImageAsync();
        var bob = Service.Client(SharingAccounts.Bob);
        var seen = (await bob.GetAsync($"/v1/{bob.ProjectId}/cloudimages/{id}/members")).Expect(200)["members"].AsArray();
        Assert.Equal(SharingAccounts.Bob.ProjectId, (string?)Assert.Single(seen)!["member_id"]);
        (await bob.GetAsync($"/v1/{bob.ProjectId}/cloudimages/{id}/members/{SharingAccounts.Crowd[0].ProjectId}")).ExpectImsError(404, "IMG.0114");

        var stranger = Service.Client(SharingAccounts.Crowd[5]);
        (await stranger.GetAsync($"/v1/{stranger.ProjectId}/cloudimages/{id}/members")).ExpectImsError(404, "IMG.0027");
    }

    [Theory]
    [InlineData("?limit=0")]
    [InlineData("?limit=1001")]
    [InlineData("?marker=%%%")]
    [InlineData("?marker=bm9ib2R5")] // Base64 of "nobody"
    public async Task Bad_paging_is_IMG_0001(string query)
    {
        var alice = Service.Client(SharingAccounts.Alice);
        var id = await SharedImageAsync();
        (await alice.GetAsync($"/v1/{alice.ProjectId}/cloudimages/{id}/members{query}")).ExpectImsError(400, "IMG.0001");
    }
}
