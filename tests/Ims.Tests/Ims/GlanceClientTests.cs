using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ims;

/// <summary>
/// What the OpenStack tooling sends (openstacksdk 0.101 / keystoneauth 5 behind <c>openstack</c>, glanceclient behind
/// <c>glance</c>, python-otcextensions), request for request: version discovery from the token alone, the catalog URLs
/// they join paths to, the Glance schemas, tags added bare and read back bare, and image downloads.
/// </summary>
public sealed class GlanceClientTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private static readonly HttpClient Http = new();

    private readonly TestService _service = fixture.Service;

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? token = null, Action<HttpRequestMessage>? edit = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(_service.BaseAddress, path));
        // keystoneauth's discovery requests: Accept: application/json, no token.
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (token is not null) request.Headers.Add("X-Auth-Token", token);
        edit?.Invoke(request);
        return await Http.SendAsync(request);
    }

    private static async Task<JsonNode> JsonOf(HttpResponseMessage response) => JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

    [Fact]
    public async Task The_image_versions_are_discovered_from_the_versionless_catalog_url_without_credentials()
    {
        // keystoneauth GETs the catalog's image URL; 300 with the IMS versions document, links on this host.
        using var root = await SendAsync(HttpMethod.Get, "/");
        Assert.Equal(HttpStatusCode.MultipleChoices, root.StatusCode);
        var versions = (await JsonOf(root))["versions"]!.AsArray();
        Assert.Equal(["v2.2", "v2.1", "v2.0", "v1.1", "v1.0"], versions.Select(v => (string)v!["id"]!));
        Assert.Equal("CURRENT", (string?)versions[0]!["status"]);
        Assert.Equal(new Uri(_service.BaseAddress, "/v2/").ToString(), (string?)versions[0]!["links"]![0]!["href"]);
        Assert.Equal("self", (string?)versions[0]!["links"]![0]!["rel"]);

        using var v2 = await SendAsync(HttpMethod.Get, "/v2");
        Assert.Equal(HttpStatusCode.MultipleChoices, v2.StatusCode);
        Assert.Equal("v2.2", (string?)Assert.Single((await JsonOf(v2))["versions"]!.AsArray())!["id"]);

        // The glance CLI reads Glance's /versions first and needs a v2 entry.
        using var listing = await SendAsync(HttpMethod.Get, "/versions");
        Assert.Equal(HttpStatusCode.OK, listing.StatusCode);
        Assert.Contains((await JsonOf(listing))["versions"]!.AsArray(), v => ((string)v!["id"]!).StartsWith("v2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_identity_version_answers_at_v3_as_keystone_does()
    {
        using var response = await SendAsync(HttpMethod.Get, "/v3");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var version = (await JsonOf(response))["version"]!;
        Assert.Equal("stable", (string?)version["status"]);
        Assert.StartsWith("v3", (string?)version["id"], StringComparison.Ordinal);
        Assert.Equal(new Uri(_service.BaseAddress, "/v3/").ToString(), (string?)version["links"]![0]!["href"]);
        Assert.Equal("application/vnd.openstack.identity-v3+json", (string?)version["media-types"]![0]!["type"]);
    }

    [Fact]
    public async Task The_token_catalog_gives_every_service_the_url_its_clients_join_paths_to()
    {
        var alice = _service.Client(TestAccounts.Alice);
        var token = await ApiClient.IssueTokenAsync(_service.BaseAddress, alice.Tenant.UserName, alice.Tenant.Password,
            alice.Tenant.DomainName, alice.ProjectId);
        var catalog = token.Expect(201)["token"]!["catalog"]!.AsArray();
        var urls = catalog.ToDictionary(s => (string)s!["type"]!, s => (string)Assert.Single(s!["endpoints"]!.AsArray())!["url"]!);
        var root = _service.BaseAddress.ToString().TrimEnd('/');
        var project = alice.ProjectId;
        Assert.Equal(new Dictionary<string, string>
        {
            ["identity"] = $"{root}/v3",
            ["image"] = root,
            ["ecs"] = $"{root}/v1/{project}",
            ["compute"] = $"{root}/v2.1/{project}",
            ["evs"] = $"{root}/v2/{project}",
            ["volumev2"] = $"{root}/v2/{project}",
            ["vpc"] = $"{root}/v1/{project}",
            ["network"] = root,
            ["cbr"] = $"{root}/v3/{project}",
            ["data-protect"] = $"{root}/v1/{project}",
            ["eps"] = $"{root}/v1.0",
        }, urls);
        Assert.All(catalog, s => Assert.Equal("public", (string?)s!["endpoints"]![0]!["interface"]));

        // Each joined path is a route of this service: python-otcextensions' CBR vault list (it appends the project id
        // only when the URL does not end with it), ECS's flavors, EVS's volumes, VPC's vpcs, CSBS's checkpoint items.
        var auth = await alice.TokenAsync();
        foreach (var path in new[]
                 {
                     $"{urls["cbr"]}/vaults", $"{urls["ecs"]}/cloudservers/flavors", $"{urls["evs"]}/cloudvolumes/detail",
                     $"{urls["vpc"]}/vpcs", $"{urls["data-protect"]}/checkpoint_items", $"{urls["compute"]}/os-availability-zone",
                     $"{urls["image"]}/v2/cloudimages", $"{urls["network"]}/v1/{project}/vpcs",
                 })
        {
            using var response = await SendAsync(HttpMethod.Get, new Uri(path).PathAndQuery, auth);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    [Fact]
    public async Task The_glance_schemas_describe_the_records_the_service_writes()
    {
        var alice = _service.Client(TestAccounts.Alice);
        var auth = await alice.TokenAsync();
        using var imageSchema = await SendAsync(HttpMethod.Get, "/v2/schemas/image", auth);
        Assert.Equal(HttpStatusCode.OK, imageSchema.StatusCode);
        var schema = await JsonOf(imageSchema);
        Assert.Equal("image", (string?)schema["name"]);
        Assert.Equal("string", (string?)schema["additionalProperties"]!["type"]);
        var properties = schema["properties"]!.AsObject();

        // warlock (glanceclient) validates every image it changes against this schema: every attribute of a real record
        // must have the type and value the schema allows.
        var image = await ImageFiles.CreateAsync(alice, "raw", new JsonObject { ["tags"] = new JsonArray("bare", "k=v") });
        foreach (var (name, value) in image)
        {
            var rule = properties[name];
            var types = rule?["type"] is JsonArray many ? many.Select(t => (string)t!).ToArray() : [(string?)rule?["type"] ?? "string"];
            var actual = value?.GetValueKind() switch
            {
                null or System.Text.Json.JsonValueKind.Null => "null",
                System.Text.Json.JsonValueKind.String => "string",
                System.Text.Json.JsonValueKind.Number => "integer",
                System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False => "boolean",
                System.Text.Json.JsonValueKind.Array => "array",
                _ => "object",
            };
            Assert.True(types.Contains(actual), $"{name} is {actual}, the schema says {string.Join('|', types)}");
            if (rule?["enum"] is JsonArray allowed && actual == "string")
                Assert.Contains((string)value!, allowed.Select(a => (string?)a));
        }

        foreach (var (path, name) in new[] { ("/v2/schemas/images", "images"), ("/v2/schemas/member", "member"), ("/v2/schemas/members", "members") })
        {
            using var response = await SendAsync(HttpMethod.Get, path, auth);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(name, (string?)(await JsonOf(response))["name"]);
        }
    }

    [Fact]
    public async Task A_bare_tag_added_the_glance_ways_reads_back_bare_and_key_value_tags_keep_their_shapes()
    {
        var alice = _service.Client(TestAccounts.Alice);
        var id = (string)(await ImageFiles.CreateAsync(alice, "raw"))["id"]!;
        (await ImageFiles.UploadAsync(alice, id, ImageFiles.RawDisk(1 << 20, 7))).Expect(204);
        (await alice.PostAsync($"/v2/{alice.ProjectId}/images/{id}/tags", new { tag = new { key = "env", value = "prod" } })).Expect(204);

        // openstacksdk add_tag: PUT .../tags/sdktag, then reads the image.
        (await alice.PutAsync($"/v2/images/{id}/tags/sdktag", null)).Expect(204);
        Assert.Equal(["env=prod", "sdktag"], Tags((await alice.GetAsync($"/v2/images/{id}")).Expect(200).Json));

        // openstack image set --tag extra: the whole list (as read, plus the new tag) in one add of /tags.
        var patched = (await alice.SendAsync(HttpMethod.Patch, $"/v2/images/{id}",
            """[{"op": "add", "path": "/tags", "value": ["sdktag", "extra", "env=prod"]}]""",
            "application/openstack-images-v2.1-json-patch")).Expect(200).Json;
        Assert.Equal(["sdktag", "extra", "env=prod"], Tags(patched));
        // openstack image unset --tag extra: the list without it.
        (await alice.SendAsync(HttpMethod.Patch, $"/v2/images/{id}", """[{"op": "replace", "path": "/tags", "value": ["sdktag", "env=prod"]}]""",
            "application/openstack-images-v2.1-json-patch")).Expect(200);

        // The IMS key/value API shows a bare tag with an empty value and the valued one as it was set.
        var kv = (await alice.GetAsync($"/v2/{alice.ProjectId}/images/{id}/tags")).Expect(200)["tags"].AsArray()
            .Select(t => ((string)t!["key"]!, (string)t["value"]!)).ToList();
        Assert.Equal([("sdktag", ""), ("env", "prod")], kv);
        // The tag filter takes the string the image shows.
        Assert.Contains(id, (await alice.GetAsync("/v2/images?tag=sdktag")).Expect(200)["images"].AsArray().Select(i => (string)i!["id"]!));
        Assert.Contains(id, (await alice.GetAsync("/v2/images?tag=env=prod")).Expect(200)["images"].AsArray().Select(i => (string)i!["id"]!));

        // A tag no tag API accepts, eleven tags, or removing the list are refused, and the tags stay.
        (await alice.SendAsync(HttpMethod.Patch, $"/v2/images/{id}", """[{"op": "add", "path": "/tags", "value": ["no spaces"]}]""",
            "application/openstack-images-v2.1-json-patch")).ExpectImsError(400, "IMG.0115");
        (await alice.SendAsync(HttpMethod.Patch, $"/v2/images/{id}",
            $"[{{\"op\": \"add\", \"path\": \"/tags\", \"value\": [{string.Join(", ", Enumerable.Range(0, 11).Select(i => $"\"t{i}\""))}]}}]",
            "application/openstack-images-v2.1-json-patch")).ExpectImsError(400, "IMG.0115");
        (await alice.SendAsync(HttpMethod.Patch, $"/v2/images/{id}", """[{"op": "remove", "path": "/tags"}]""",
            "application/openstack-images-v2.1-json-patch")).ExpectImsError(400, "IMG.0035");
        Assert.Equal(["sdktag", "env=prod"], Tags((await alice.GetAsync($"/v2/images/{id}")).Expect(200).Json));
    }

    [Fact]
    public async Task Downloading_answers_the_uploaded_file_with_its_md5_and_byte_ranges()
    {
        var alice = _service.Client(TestAccounts.Alice);
        var auth = await alice.TokenAsync();
        var raw = ImageFiles.RawDisk(6 << 20, 11);
        var qcow2 = await ImageFiles.ToQcow2Async(raw);
        foreach (var (format, file) in new[] { ("raw", raw), ("qcow2", qcow2) })
        {
            var id = (string)(await ImageFiles.CreateAsync(alice, format))["id"]!;
            // Nothing uploaded yet: Glance's 204.
            using (var empty = await SendAsync(HttpMethod.Get, ImageFiles.FilePath(id), auth))
                Assert.Equal(HttpStatusCode.NoContent, empty.StatusCode);
            (await ImageFiles.UploadAsync(alice, id, file)).Expect(204);

            using var whole = await SendAsync(HttpMethod.Get, ImageFiles.FilePath(id), auth);
            Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
            Assert.Equal("application/octet-stream", whole.Content.Headers.ContentType?.MediaType);
            Assert.Equal(file.Length, whole.Content.Headers.ContentLength);
            // openstacksdk checks the bytes against Content-MD5 (else the image's checksum).
            Assert.Equal(ImageFiles.Md5(file), Assert.Single(whole.Content.Headers.GetValues("Content-MD5")));
            Assert.Equal(ImageFiles.Md5(file), ImageFiles.Md5(await whole.Content.ReadAsByteArrayAsync()));

            // A range across the first chunk boundary of the stored disk, and a suffix range.
            using var part = await SendAsync(HttpMethod.Get, ImageFiles.FilePath(id), auth, r => r.Headers.Range = new RangeHeaderValue(100, 200));
            Assert.Equal(HttpStatusCode.PartialContent, part.StatusCode);
            Assert.Equal($"bytes 100-200/{file.Length}", part.Content.Headers.ContentRange?.ToString());
            Assert.Equal(file[100..201], await part.Content.ReadAsByteArrayAsync());
            using var tail = await SendAsync(HttpMethod.Get, ImageFiles.FilePath(id), auth, r => r.Headers.Range = new RangeHeaderValue(null, 10));
            Assert.Equal(file[^10..], await tail.Content.ReadAsByteArrayAsync());
            using var outside = await SendAsync(HttpMethod.Get, ImageFiles.FilePath(id), auth,
                r => r.Headers.Range = new RangeHeaderValue(file.Length, file.Length + 5));
            Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, outside.StatusCode);
            Assert.Equal($"bytes */{file.Length}", outside.Content.Headers.ContentRange?.ToString());

            // Another account cannot reach it.
            var bob = await _service.Client(TestAccounts.Bob).TokenAsync();
            using var stranger = await SendAsync(HttpMethod.Get, ImageFiles.FilePath(id), bob);
            Assert.Equal(HttpStatusCode.NotFound, stranger.StatusCode);
        }
    }

    [Fact]
    public async Task A_collection_keeps_the_uploaded_qcow2_file_a_download_answers()
    {
        var alice = _service.Client(TestAccounts.Alice);
        var qcow2 = await ImageFiles.ToQcow2Async(ImageFiles.RawDisk(5 << 20, 13));
        var id = (string)(await ImageFiles.CreateAsync(alice, "qcow2"))["id"]!;
        (await ImageFiles.UploadAsync(alice, id, qcow2)).Expect(204);
        (await alice.PostAsync("/admin/v1/data/gc", null)).Expect(200);
        using var download = await SendAsync(HttpMethod.Get, ImageFiles.FilePath(id), await alice.TokenAsync());
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal(qcow2, await download.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Images_without_a_file_of_their_own_refuse_a_download_as_ims_refuses_an_export()
    {
        var alice = _service.Client(TestAccounts.Alice);
        (await alice.GetAsync(ImageFiles.FilePath("7d5b8f3a-1c2e-4f60-9b11-18040000a001"))).ExpectImsError(400, "IMG.0077");
        var whole = await TestImages.CreateAsync(_service, alice);
        (await alice.GetAsync(ImageFiles.FilePath(whole.Id()))).ExpectImsError(400, "IMG.0128");
        (await alice.GetAsync(ImageFiles.FilePath(Guid.NewGuid().ToString()))).ExpectImsError(404, "IMG.0027");
    }

    private static List<string> Tags(JsonNode image) => [.. image["tags"]!.AsArray().Select(t => (string)t!)];
}
