using System.Text.Json.Nodes;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ims;

/// <summary>Every image tag API: the v2 project-scoped family, the v1 pair and the native pair, with their rules.</summary>
public sealed class ImageTagTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private const string Ubuntu = "7d5b8f3a-1c2e-4f60-9b11-18040000a001";

    private TestService Service => fixture.Service;

    private static string TagsPath(ApiClient client, string imageId) => $"/v2/{client.ProjectId}/images/{imageId}/tags";

    private static async Task<List<(string Key, string Value)>> TagsOfAsync(ApiClient client, string imageId) =>
        [.. (await client.GetAsync(TagsPath(client, imageId))).Expect(200)["tags"].AsArray()
            .Select(t => ((string)t!["key"]!, (string)t["value"]!))];

    private static object Tag(string key, string? value) => new { key, value };

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task Terraform_replaces_all_tags_by_deleting_the_old_ones_then_creating_the_new(AuthMode mode)
    {
        var client = Service.Client(TestAccounts.Alice, mode);
        var image = await TestImages.CreateAsync(Service, client, new JsonObject
        {
            ["image_tags"] = new JsonArray(new JsonObject { ["key"] = "foo", ["value"] = "bar" }, new JsonObject { ["key"] = "key", ["value"] = "value" }),
        });
        var id = image.Id();
        Assert.Equal([("foo", "bar"), ("key", "value")], await TagsOfAsync(client, id));

        var old = await TagsOfAsync(client, id);
        (await client.PostAsync($"{TagsPath(client, id)}/action", new { action = "delete", tags = old.Select(t => Tag(t.Key, t.Value)) })).Expect(204);
        Assert.Empty(await TagsOfAsync(client, id));
        (await client.PostAsync($"{TagsPath(client, id)}/action", new
        {
            action = "create",
            tags = new[] { Tag("foo", "baz"), Tag("owner", "team_b"), Tag("empty", "") },
        })).Expect(204);
        Assert.Equal([("foo", "baz"), ("owner", "team_b"), ("empty", "")], await TagsOfAsync(client, id));
        // The image renders them as key=value strings.
        Assert.Equal(["foo=baz", "owner=team_b", "empty="], (await TestImages.ReadAsync(client, id))["tags"]!.AsArray().Select(t => (string)t!));
    }

    [Fact]
    public async Task Adding_one_tag_overwrites_the_same_key_and_deleting_an_absent_key_is_404()
    {
        var client = Service.Client(TestAccounts.Alice);
        var id = (await TestImages.CreateAsync(Service, client)).Id();
        (await client.PostAsync(TagsPath(client, id), new { tag = Tag("key1", "value1") })).Expect(204);
        (await client.PostAsync(TagsPath(client, id), new { tag = Tag(" key1 ", " value2 ") })).Expect(204);
        (await client.PostAsync(TagsPath(client, id), new { tag = Tag("key2", "") })).Expect(204);
        Assert.Equal([("key1", "value2"), ("key2", "")], await TagsOfAsync(client, id));

        (await client.DeleteAsync($"{TagsPath(client, id)}/key1")).Expect(204);
        (await client.DeleteAsync($"{TagsPath(client, id)}/key1")).ExpectImsError(404, "IMG.0121");
        Assert.Equal([("key2", "")], await TagsOfAsync(client, id));

        // Batch deletion of absent tags, or of a tag with another value, succeeds and keeps what does not match.
        (await client.PostAsync($"{TagsPath(client, id)}/action", new { action = "delete", tags = new[] { Tag("nope", null), Tag("key2", "other") } })).Expect(204);
        Assert.Equal([("key2", "")], await TagsOfAsync(client, id));
        (await client.PostAsync($"{TagsPath(client, id)}/action", new { action = "delete", tags = new[] { Tag("key2", null) } })).Expect(204);
        Assert.Empty(await TagsOfAsync(client, id));
    }

    [Fact]
    public async Task An_image_holds_at_most_ten_tags_IMG_0116()
    {
        var client = Service.Client(TestAccounts.Alice);
        var id = (await TestImages.CreateAsync(Service, client)).Id();
        (await client.PostAsync($"{TagsPath(client, id)}/action", new
        {
            action = "create",
            tags = Enumerable.Range(0, 10).Select(i => Tag($"k{i}", $"v{i}")),
        })).Expect(204);
        (await client.PostAsync(TagsPath(client, id), new { tag = Tag("k10", "v") })).ExpectImsError(400, "IMG.0116");
        (await client.PutAsync($"/v2/images/{id}/tags/k11", null)).ExpectImsError(400, "IMG.0116");
        (await client.PutAsync("/v1/cloudimages/tags", new { image_id = id, tag = "k12.v" })).ExpectImsError(400, "IMG.0116");
        // Overwriting an existing key of a full image is fine.
        (await client.PostAsync(TagsPath(client, id), new { tag = Tag("k0", "changed") })).Expect(204);
        (await client.PostAsync($"{TagsPath(client, id)}/action", new
        {
            action = "create",
            tags = Enumerable.Range(0, 11).Select(i => Tag($"n{i}", "v")),
        })).ExpectImsError(400, "IMG.0116");
        Assert.Equal(10, (await TagsOfAsync(client, id)).Count);
    }

    [Theory]
    [InlineData("{\"tag\":{\"key\":\"\",\"value\":\"v\"}}", "IMG.0115")]
    [InlineData("{\"tag\":{\"key\":\"   \",\"value\":\"v\"}}", "IMG.0115")]
    [InlineData("{\"tag\":{\"key\":\"k\"}}", "IMG.0115")]
    [InlineData("{\"tag\":{\"key\":\"a=b\",\"value\":\"v\"}}", "IMG.0115")]
    [InlineData("{\"tag\":{\"key\":\"k\",\"value\":\"line\\nbreak\"}}", "IMG.0115")]
    [InlineData("{\"tag\":{\"key\":\"K37\",\"value\":\"v\"}}", "IMG.0115")]
    [InlineData("{\"tag\":{\"key\":\"k\",\"value\":\"V44\"}}", "IMG.0115")]
    [InlineData("{\"tag\":{\"key\":1,\"value\":\"v\"}}", "IMG.0001")]
    [InlineData("{}", "IMG.0001")]
    [InlineData("[]", "IMG.0001")]
    [InlineData("", "IMG.0007")]
    public async Task Bad_tags_for_POST_tags_are_refused(string body, string code)
    {
        var client = Service.Client(TestAccounts.Alice);
        var id = (await SharedImageAsync(client)).Id();
        body = body.Replace("K37", new string('k', 37), StringComparison.Ordinal).Replace("V44", new string('v', 44), StringComparison.Ordinal);
        (await client.PostAsync(TagsPath(client, id), body)).ExpectImsError(400, code);
    }

    [Theory]
    [InlineData("{\"action\":\"Create\",\"tags\":[{\"key\":\"k\",\"value\":\"v\"}]}", "IMG.0001")]
    [InlineData("{\"action\":\"update\",\"tags\":[{\"key\":\"k\",\"value\":\"v\"}]}", "IMG.0001")]
    [InlineData("{\"action\":\"create\"}", "IMG.0001")]
    [InlineData("{\"tags\":[{\"key\":\"k\",\"value\":\"v\"}]}", "IMG.0001")]
    [InlineData("{\"action\":\"create\",\"tags\":[{\"key\":\"k\",\"value\":\"v\"},{\"key\":\"k\",\"value\":\"w\"}]}", "IMG.0115")]
    [InlineData("{\"action\":\"create\",\"tags\":[{\"key\":\"k\"}]}", "IMG.0115")]
    [InlineData("{\"action\":\"create\",\"tags\":[null]}", "IMG.0115")]
    [InlineData("{\"action\":\"delete\",\"tags\":[{\"key\":\"\"}]}", "IMG.0115")]
    [InlineData("{\"action\":\"delete\",\"tags\":[{\"key\":\"K128\"}]}", "IMG.0115")]
    [InlineData("{\"action\":\"delete\",\"tags\":[{\"key\":\"k\",\"value\":\"V256\"}]}", "IMG.0115")]
    [InlineData("{\"action\":\"delete\",\"tags\":[{\"key\":\"k\"},{\"key\":\"k\"}]}", "IMG.0115")]
    public async Task Bad_batches_are_refused(string body, string code)
    {
        var client = Service.Client(TestAccounts.Alice);
        var id = (await SharedImageAsync(client)).Id();
        body = body.Replace("K128", new string('k', 128), StringComparison.Ordinal).Replace("V256", new string('v', 256), StringComparison.Ordinal);
        (await client.PostAsync($"{TagsPath(client, id)}/action", body)).ExpectImsError(400, code);
    }

    [Fact]
    public async Task Batch_deletion_checks_lengths_but_not_characters()
    {
        var client = Service.Client(TestAccounts.Alice);
        var id = (await SharedImageAsync(client)).Id();
        (await client.PostAsync($"{TagsPath(client, id)}/action", new
        {
            action = "delete",
            tags = new[] { Tag("odd key = with <chars>", new string('v', 255)), Tag(new string('k', 127), null) },
        })).Expect(204);
    }

    [Fact]
    public async Task The_v1_put_takes_an_old_style_tag_or_an_image_tag()
    {
        var client = Service.Client(TestAccounts.Alice, AuthMode.AkSk);
        var id = (await TestImages.CreateAsync(Service, client)).Id();
        (await client.PutAsync("/v1/cloudimages/tags", new { image_id = id, tag = "aaaa.1111" })).Expect(204);
        (await client.PutAsync("/v1/cloudimages/tags", new { image_id = id, image_tag = Tag("key1", "value1") })).Expect(204);
        (await client.PutAsync("/v1/cloudimages/tags", new { image_id = id, tag = "aaaa=2222" })).Expect(204);
        Assert.Equal([("aaaa", "2222"), ("key1", "value1")], await TagsOfAsync(client, id));

        (await client.PutAsync("/v1/cloudimages/tags", new { image_id = id })).ExpectImsError(400, "IMG.0001");
        (await client.PutAsync("/v1/cloudimages/tags", new { image_id = id, tag = "a.b", image_tag = Tag("c", "d") })).ExpectImsError(400, "IMG.0001");
        (await client.PutAsync("/v1/cloudimages/tags", new { tag = "a.b" })).ExpectImsError(400, "IMG.0001");
        (await client.PutAsync("/v1/cloudimages/tags", new { image_id = id, tag = "bad key.v" })).ExpectImsError(400, "IMG.0115");
        (await client.PutAsync("/v1/cloudimages/tags", new { image_id = id, image_tag = Tag("", "v") })).ExpectImsError(400, "IMG.0115");
        (await client.PutAsync("/v1/cloudimages/tags", new { image_id = Guid.NewGuid().ToString(), tag = "a.b" })).ExpectImsError(404, "IMG.0027");
    }

    [Fact]
    public async Task The_v1_get_lists_key_value_strings_of_the_images_the_filters_select()
    {
        var client = Service.Client(TestAccounts.Bob);
        var first = await TestImages.CreateAsync(Service, client, new JsonObject { ["tags"] = new JsonArray("team.red", "tier.gold") });
        var second = await TestImages.CreateAsync(Service, client, new JsonObject { ["image_tags"] = new JsonArray(new JsonObject { ["key"] = "team", ["value"] = "red" }) });

        var all = (await client.GetAsync("/v1/cloudimages/tags")).Expect(200)["tags"].AsArray().Select(t => (string)t!).ToList();
        Assert.Contains("team=red", all);
        Assert.Contains("tier=gold", all);
        Assert.Equal(all.Count, all.Distinct().Count());

        var one = (await client.GetAsync($"/v1/cloudimages/tags?id={second.Id()}")).Expect(200)["tags"].AsArray().Select(t => (string)t!);
        Assert.Equal(["team=red"], one);
        var whole = (await client.GetAsync($"/v1/cloudimages/tags?__whole_image=true&name={first["name"]}")).Expect(200)["tags"].AsArray().Select(t => (string)t!);
        Assert.Equal(["team=red", "tier=gold"], whole);
        // limit and page walk the images: page 2 of one image per page is the older image's tags.
        var page2 = (await client.GetAsync("/v1/cloudimages/tags?limit=1&page=2&__imagetype=private")).Expect(200)["tags"].AsArray().Select(t => (string)t!);
        Assert.NotEmpty(page2);

        (await client.GetAsync("/v1/cloudimages/tags?page=0")).ExpectImsError(400, "IMG.0001");
        (await client.GetAsync("/v1/cloudimages/tags?limit=abc")).ExpectImsError(400, "IMG.0001");
        (await client.GetAsync("/v1/cloudimages/tags?__whole_image=maybe")).ExpectImsError(400, "IMG.0001");
        // Alice sees none of Bob's tags.
        var alice = (await Service.Client(TestAccounts.Alice).GetAsync($"/v1/cloudimages/tags?id={first.Id()}")).Expect(200)["tags"].AsArray();
        Assert.Empty(alice);
    }

    [Fact]
    public async Task Image_lists_filter_by_tag()
    {
        var client = Service.Client(TestAccounts.Alice);
        var key = Servers.UniqueName("list_tag");
        var tagged = await TestImages.CreateAsync(Service, client, new JsonObject { ["tags"] = new JsonArray($"{key}.v_1") });
        var other = await TestImages.CreateAsync(Service, client, new JsonObject { ["tags"] = new JsonArray($"{key}.v-1") });

        async Task<List<string>> ListAsync(string query) =>
            [.. (await client.GetAsync($"/v2/cloudimages?{query}")).Expect(200)["images"].AsArray().Select(i => (string)i!["id"]!)];

        Assert.Equal([tagged.Id()], await ListAsync($"tag={key}=v_1"));
        Assert.Equal([other.Id()], await ListAsync($"tag={key}=v-1&__whole_image=true"));
        Assert.Empty(await ListAsync($"tag={key}=V_1"));
        Assert.Empty(await ListAsync($"tag={key}=v%25"));
        Assert.Empty(await ListAsync($"tag={key}"));
        Assert.Equal([tagged.Id()], (await client.GetAsync($"/v2/images?tag={key}=v_1")).Expect(200)["images"].AsArray().Select(i => (string)i!["id"]!));
        // A key alone matches a bare tag (the native tags).
        (await client.PutAsync($"/v2/images/{other.Id()}/tags/{key}-bare", null)).Expect(204);
        Assert.Equal([other.Id()], await ListAsync($"tag={key}-bare"));
    }

    [Fact]
    public async Task The_native_pair_adds_and_deletes_a_key()
    {
        var client = Service.Client(TestAccounts.Alice);
        var id = (await TestImages.CreateAsync(Service, client, new JsonObject { ["tags"] = new JsonArray("kept.value") })).Id();
        (await client.PutAsync($"/v2/images/{id}/tags/aaaa", null)).Expect(204);
        (await client.PutAsync($"/v2/images/{id}/tags/aaaa", null)).Expect(204);
        // Adding a key the image has keeps its value.
        (await client.PutAsync($"/v2/images/{id}/tags/kept", null)).Expect(204);
        Assert.Equal([("kept", "value"), ("aaaa", "")], await TagsOfAsync(client, id));
        // A bare tag reads back bare (Glance's tags are plain strings), the key/value API shows it with an empty value.
        Assert.Contains("aaaa", (await client.GetAsync($"/v2/images/{id}")).Expect(200)["tags"].AsArray().Select(t => (string)t!));

        (await client.PutAsync($"/v2/images/{id}/tags/bad=tag", null)).ExpectImsError(400, "IMG.0115");
        (await client.PutAsync($"/v2/images/{id}/tags/{new string('t', 256)}", null)).ExpectImsError(400, "IMG.0115");
        (await client.PutAsync($"/v2/images/{id}/tags/{new string('t', 255)}", null)).Expect(204);

        (await client.DeleteAsync($"/v2/images/{id}/tags/aaaa")).Expect(204);
        (await client.DeleteAsync($"/v2/images/{id}/tags/aaaa")).ExpectImsError(404, "IMG.0121");
        Assert.DoesNotContain(await TagsOfAsync(client, id), t => t.Key == "aaaa");
    }

    [Fact]
    public async Task All_tags_of_the_project_are_aggregated_by_key()
    {
        var client = Service.Client(TestAccounts.Bob, AuthMode.AkSk);
        var key = Servers.UniqueName("agg");
        var a = (await TestImages.CreateAsync(Service, client)).Id();
        var b = (await TestImages.CreateAsync(Service, client)).Id();
        (await client.PostAsync(TagsPath(client, a), new { tag = Tag(key, "v1") })).Expect(204);
        (await client.PostAsync(TagsPath(client, b), new { tag = Tag(key, "v2") })).Expect(204);
        (await client.PostAsync(TagsPath(client, b), new { tag = Tag(key + "-empty", "") })).Expect(204);

        var tags = (await client.GetAsync($"/v2/{client.ProjectId}/images/tags")).Expect(200)["tags"].AsArray();
        var entry = tags.Single(t => (string?)t!["key"] == key)!;
        Assert.Equal(["v1", "v2"], entry["values"]!.AsArray().Select(v => (string)v!).Order());
        Assert.Equal([""], tags.Single(t => (string?)t!["key"] == key + "-empty")!["values"]!.AsArray().Select(v => (string)v!));
        // Alice's project shows none of Bob's.
        var alice = Service.Client(TestAccounts.Alice);
        Assert.DoesNotContain((await alice.GetAsync($"/v2/{alice.ProjectId}/images/tags")).Expect(200)["tags"].AsArray(), t => (string?)t!["key"] == key);
    }

    [Fact]
    public async Task Resource_instances_filter_and_count_images_by_tag()
    {
        var client = Service.Client(TestAccounts.Alice);
        var team = Servers.UniqueName("team");
        var red = await TestImages.CreateAsync(Service, client, new JsonObject
        {
            ["image_tags"] = new JsonArray(new JsonObject { ["key"] = team, ["value"] = "red" }, new JsonObject { ["key"] = "env", ["value"] = "prod" }),
        });
        var blue = await TestImages.CreateAsync(Service, client, new JsonObject
        {
            ["image_tags"] = new JsonArray(new JsonObject { ["key"] = team, ["value"] = "blue" }),
        });
        var path = $"/v2/{client.ProjectId}/images/resource_instances/action";

        async Task<List<string>> FilterAsync(object body) =>
            [.. (await client.PostAsync(path, body)).Expect(200)["resources"].AsArray().Select(r => (string)r!["resource_id"]!)];

        // gophertelekomcloud's count call, limit as a string.
        var count = (await client.PostAsync(path, new { action = "count", tags = new[] { new { key = team, values = new[] { "red" } } }, limit = "1" })).Expect(200);
        Assert.Equal(1, (int)count["total_count"]);
        Assert.Null(count.Json["resources"]);

        var filtered = (await client.PostAsync(path, new { action = "filter", tags = new[] { new { key = team, values = Array.Empty<string>() } }, limit = "10", offset = "0" })).Expect(200);
        Assert.Equal(2, (int)filtered["total_count"]);
        var first = filtered["resources"].AsArray().Single(r => (string?)r!["resource_id"] == red.Id())!;
        Assert.Equal((string?)red["name"], (string?)first["resource_name"]);
        Assert.Equal("active", (string?)first["resource_detail"]!["status"]);
        Assert.Contains(first["tags"]!.AsArray(), t => (string?)t!["key"] == "env" && (string?)t["value"] == "prod");

        Assert.Equal([blue.Id()], await FilterAsync(new { action = "filter", tags = new[] { new { key = team, values = new[] { "blue" } } } }));
        Assert.Equal([red.Id()], await FilterAsync(new
        {
            action = "filter",
            tags_any = new[] { new { key = team, values = new[] { "red", "green" } } },
        }));
        Assert.Equal([blue.Id()], await FilterAsync(new
        {
            action = "filter",
            tags = new[] { new { key = team, values = Array.Empty<string>() } },
            not_tags_any = new[] { new { key = "env", values = Array.Empty<string>() } },
        }));
        Assert.Equal([red.Id()], await FilterAsync(new
        {
            action = "filter",
            tags = new[] { new { key = team, values = Array.Empty<string>() } },
            not_tags = new[] { new { key = team, values = new[] { "blue" } } },
        }));
        Assert.Equal([red.Id()], await FilterAsync(new
        {
            action = "filter",
            tags = new[] { new { key = team, values = Array.Empty<string>() } },
            matches = new[] { new { key = "resource_name", value = ((string)red["name"]!)[4..] } },
        }));
        Assert.Equal([blue.Id()], await FilterAsync(new
        {
            action = "filter",
            matches = new[] { new { key = "resource_id", value = blue.Id() } },
        }));
        // Paging: one a page, offset as a string.
        var page1 = await FilterAsync(new { action = "filter", tags = new[] { new { key = team, values = Array.Empty<string>() } }, limit = "1", offset = "0" });
        var page2 = await FilterAsync(new { action = "filter", tags = new[] { new { key = team, values = Array.Empty<string>() } }, limit = "1", offset = "1" });
        Assert.Equal(new[] { red.Id(), blue.Id() }.Order(), page1.Concat(page2).Order());

        var untagged = await TestImages.CreateAsync(Service, client);
        Assert.Contains(untagged.Id(), await FilterAsync(new { action = "filter", without_any_tag = true, limit = "1000", tags = new[] { new { key = team, values = Array.Empty<string>() } } }));
        // Bob's project sees none of Alice's images.
        var bob = Service.Client(TestAccounts.Bob);
        var theirs = (await bob.PostAsync($"/v2/{bob.ProjectId}/images/resource_instances/action", new { action = "count", tags = new[] { new { key = team, values = Array.Empty<string>() } } })).Expect(200);
        Assert.Equal(0, (int)theirs["total_count"]);
    }

    [Theory]
    [InlineData("{\"action\":\"Filter\"}", "IMG.0001")]
    [InlineData("{}", "IMG.0001")]
    [InlineData("{\"action\":\"filter\",\"limit\":\"0\"}", "IMG.0001")]
    [InlineData("{\"action\":\"filter\",\"limit\":\"1001\"}", "IMG.0001")]
    [InlineData("{\"action\":\"filter\",\"limit\":\"ten\"}", "IMG.0001")]
    [InlineData("{\"action\":\"filter\",\"offset\":\"-1\"}", "IMG.0001")]
    [InlineData("{\"action\":\"filter\",\"matches\":[{\"key\":\"owner\",\"value\":\"x\"}]}", "IMG.0001")]
    [InlineData("{\"action\":\"filter\",\"matches\":[{\"key\":\"resource_name\",\"value\":\"\"}]}", "IMG.0001")]
    [InlineData("{\"action\":\"filter\",\"matches\":[{\"key\":\"resource_id\",\"value\":\"a\"},{\"key\":\"resource_id\",\"value\":\"b\"}]}", "IMG.0001")]
    [InlineData("{\"action\":\"filter\",\"tags\":[{\"key\":\"\",\"values\":[]}]}", "IMG.0115")]
    [InlineData("{\"action\":\"filter\",\"tags\":[{\"key\":\"K129\",\"values\":[]}]}", "IMG.0115")]
    [InlineData("{\"action\":\"filter\",\"tags_any\":[{\"key\":\"k\",\"values\":[\"a\",\"a\"]}]}", "IMG.0115")]
    [InlineData("{\"action\":\"filter\",\"not_tags\":[{\"key\":\"k\",\"values\":[]},{\"key\":\"k\",\"values\":[]}]}", "IMG.0115")]
    [InlineData("{\"action\":\"filter\",\"not_tags_any\":[{\"key\":\"k\",\"values\":[\"V256\"]}]}", "IMG.0115")]
    [InlineData("{\"action\":\"filter\",\"tags\":ELEVEN}", "IMG.0115")]
    [InlineData("{\"action\":\"filter\",\"without_any_tag\":\"yes\"}", "IMG.0001")]
    public async Task Bad_resource_queries_are_refused(string body, string code)
    {
        var client = Service.Client(TestAccounts.Alice);
        body = body.Replace("K129", new string('k', 129), StringComparison.Ordinal)
            .Replace("V256", new string('v', 256), StringComparison.Ordinal)
            .Replace("ELEVEN", new JsonArray([.. Enumerable.Range(0, 11).Select(i => (JsonNode)new JsonObject { ["key"] = $"k{i}", ["values"] = new JsonArray() })]).ToJsonString(), StringComparison.Ordinal);
        (await client.PostAsync($"/v2/{client.ProjectId}/images/resource_instances/action", body)).ExpectImsError(400, code);
    }

    [Fact]
    public async Task Nobody_tags_or_reads_the_tags_of_another_projects_image()
    {
        var alice = Service.Client(TestAccounts.Alice);
        var bob = Service.Client(TestAccounts.Bob, AuthMode.AkSk);
        var id = (await TestImages.CreateAsync(Service, alice, new JsonObject { ["tags"] = new JsonArray("secret.1") })).Id();

        (await bob.GetAsync(TagsPath(bob, id))).ExpectImsError(404, "IMG.0027");
        (await bob.PostAsync(TagsPath(bob, id), new { tag = Tag("k", "v") })).ExpectImsError(404, "IMG.0027");
        (await bob.PostAsync($"{TagsPath(bob, id)}/action", new { action = "delete", tags = new[] { Tag("secret", null) } })).ExpectImsError(404, "IMG.0027");
        (await bob.DeleteAsync($"{TagsPath(bob, id)}/secret")).ExpectImsError(404, "IMG.0027");
        (await bob.PutAsync("/v1/cloudimages/tags", new { image_id = id, tag = "k.v" })).ExpectImsError(404, "IMG.0027");
        (await bob.PutAsync($"/v2/images/{id}/tags/k", null)).ExpectImsError(404, "IMG.0027");
        (await bob.DeleteAsync($"/v2/images/{id}/tags/secret")).ExpectImsError(404, "IMG.0027");
        // Bob naming Alice's project in the path is refused before anything else.
        (await bob.GetAsync(TagsPath(alice, id))).Expect(403);
        // Public images carry no tags of anyone's.
        (await bob.PostAsync(TagsPath(bob, Ubuntu), new { tag = Tag("k", "v") })).ExpectImsError(404, "IMG.0027");
        Assert.Equal([("secret", "1")], await TagsOfAsync(alice, id));
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<Task<JsonObject>>> Shared = new(StringComparer.Ordinal);

    /// <summary>One image per service and project for the tests that only see refusals.</summary>
    private Task<JsonObject> SharedImageAsync(ApiClient client) =>
        Shared.GetOrAdd($"{Service.BaseAddress}|{client.ProjectId}", _ => new(() => TestImages.CreateAsync(Service, client))).Value;
}
