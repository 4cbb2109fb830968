using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ims.Tests.Eps;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ims;

/// <summary>The EPS slice terraform uses to move an image between enterprise projects, and the image's side of it.</summary>
public sealed class EnterpriseProjectTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    /// <summary>Alice's account id, as <see cref="TestAccounts.WriteFile"/> numbers them.</summary>
    private const string AliceDomainId = "d0000000000000000000000000000000";

    private TestService Service => fixture.Service;

    private static string MigratePath(string eps) => $"/v1.0/enterprise-projects/{eps}/resources-migrate";

    private static string FilterPath(string eps) => $"/v1.0/enterprise-projects/{eps}/resources/filter";

    private static object Migration(ApiClient client, string imageId, string? projectId = null) => new
    {
        resource_type = "images",
        resource_id = imageId,
        project_id = projectId ?? client.ProjectId,
        region_id = "cn-north-4",
    };

    /// <summary>terraform's wait: page through the enterprise project's images (offset += page size) until the image shows.</summary>
    private static async Task<JsonNode?> FindInEnterpriseProjectAsync(ApiClient client, string eps, string imageId, int limit = 1000)
    {
        for (var offset = 0; ;)
        {
            var page = (await client.PostAsync(FilterPath(eps), new { limit, offset, projects = new[] { client.ProjectId }, resource_types = new[] { "images" } }))
                .Expect(200);
            var resources = page["resources"].AsArray();
            Assert.True((int)page["total_count"] >= resources.Count);
            if (resources.Count == 0) return null;
            if (resources.FirstOrDefault(r => (string?)r!["resource_id"] == imageId) is { } found) return found;
            offset += resources.Count;
        }
    }

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task Terraform_migrates_an_image_then_finds_it_in_the_enterprise_project(AuthMode mode)
    {
        var client = Service.Client(TestAccounts.Alice, mode);
        var image = await TestImages.CreateAsync(Service, client);
        Assert.Equal("0", (string?)image["enterprise_project_id"]);
        var eps = await EnterpriseProjectApi.CreateAsync(client);

        var migrated = (await client.PostAsync(MigratePath(eps), Migration(client, image.Id()))).Expect(204);
        Assert.Equal("", migrated.Body);

        var found = await FindInEnterpriseProjectAsync(client, eps, image.Id(), limit: 1);
        Assert.NotNull(found);
        Assert.Equal("images", (string?)found["resource_type"]);
        Assert.Equal((string?)image["name"], (string?)found["resource_name"]);
        Assert.Equal(client.ProjectId, (string?)found["project_id"]);
        Assert.Equal("cn-north-4", (string?)found["project_name"]);
        Assert.Equal(eps, (string?)found["enterprise_project_id"]);

        // The IMS list shows the new enterprise project, with or without the filter.
        Assert.Equal(eps, (string?)(await TestImages.ReadAsync(client, image.Id()))["enterprise_project_id"]);
        var byEps = (await client.GetAsync($"/v2/cloudimages?enterprise_project_id={eps}")).Expect(200)["images"].AsArray();
        Assert.Equal([image.Id()], byEps.Select(i => (string)i!["id"]!));
        Assert.Null(await FindInEnterpriseProjectAsync(client, "0", image.Id()));

        // Removing enterprise_project_id from the config migrates it back to "0".
        (await client.PostAsync(MigratePath("0"), Migration(client, image.Id()))).Expect(204);
        Assert.NotNull(await FindInEnterpriseProjectAsync(client, "0", image.Id()));
        Assert.Null(await FindInEnterpriseProjectAsync(client, eps, image.Id()));
        Assert.Equal("0", (string?)(await TestImages.ReadAsync(client, image.Id()))["enterprise_project_id"]);
    }

    [Fact]
    public async Task A_domain_scoped_AK_SK_client_needs_no_project_header()
    {
        var client = Service.Client(TestAccounts.Alice);
        var image = await TestImages.CreateAsync(Service, client);
        var eps = await EnterpriseProjectApi.CreateAsync(client);

        (await SendDomainScopedAsync(MigratePath(eps), Migration(client, image.Id()), AliceDomainId)).Expect(204);
        Assert.Equal(eps, (string?)(await TestImages.ReadAsync(client, image.Id()))["enterprise_project_id"]);
        var filtered = (await SendDomainScopedAsync(FilterPath(eps), new { projects = new[] { client.ProjectId }, resource_types = new[] { "images" } }, AliceDomainId)).Expect(200);
        Assert.Equal(1, (int)filtered["total_count"]);
        // An X-Domain-Id of another account is refused like any bad credential.
        (await SendDomainScopedAsync(MigratePath("0"), Migration(client, image.Id()), "d0000000000000000000000000000001")).Expect(401);
    }

    private async Task<ApiResponse> SendDomainScopedAsync(string path, object body, string domainId)
    {
        var tenant = TestAccounts.Alice;
        var bytes = JsonSerializer.SerializeToUtf8Bytes(body);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Service.BaseAddress, path)) { Content = new ByteArrayContent(bytes) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json");
        request.Headers.TryAddWithoutValidation("X-Domain-Id", domainId);
        ClientSigner.Sign(request, bytes, tenant.AccessKey, tenant.SecretKey, DateTime.UtcNow);
        using var http = new HttpClient();
        using var response = await http.SendAsync(request);
        return new ApiResponse(response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers);
    }

    [Fact]
    public async Task The_image_update_api_moves_it_too()
    {
        var client = Service.Client(TestAccounts.Alice);
        var image = await TestImages.CreateAsync(Service, client, new JsonObject { ["enterprise_project_id"] = await EnterpriseProjectApi.CreateAsync(client) });
        var eps = await EnterpriseProjectApi.CreateAsync(client);
        (await client.SendAsync(HttpMethod.Patch, $"/v2/cloudimages/{image.Id()}", new[] { new { op = "replace", path = "/enterprise_project_id", value = eps } })).Expect(200);
        Assert.NotNull(await FindInEnterpriseProjectAsync(client, eps, image.Id()));
    }

    [Fact]
    public async Task Filter_pages_and_matches_by_name()
    {
        var client = Service.Client(TestAccounts.Bob);
        var eps = await EnterpriseProjectApi.CreateAsync(client);
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var image = await TestImages.CreateAsync(Service, client, new JsonObject { ["enterprise_project_id"] = eps });
            ids.Add(image.Id());
        }
        var body = new { limit = 2, offset = 0, projects = new[] { client.ProjectId }, resource_types = new[] { "images" } };
        var first = (await client.PostAsync(FilterPath(eps), body)).Expect(200);
        Assert.Equal(3, (int)first["total_count"]);
        Assert.Equal(2, first["resources"].AsArray().Count);
        Assert.Empty(first["errors"].AsArray());
        var second = (await client.PostAsync(FilterPath(eps), body with { offset = 2 })).Expect(200);
        Assert.Equal(ids.Order(), first["resources"].AsArray().Concat(second["resources"].AsArray()).Select(r => (string)r!["resource_id"]!).Order());
        Assert.Empty((await client.PostAsync(FilterPath(eps), body with { offset = 3 })).Expect(200)["resources"].AsArray());

        var name = (string)(await TestImages.ReadAsync(client, ids[1]))["name"]!;
        var matched = (await client.PostAsync(FilterPath(eps), new
        {
            projects = new[] { client.ProjectId },
            resource_types = new[] { "images" },
            matches = new[] { new { key = "resource_name", value = name[3..] } },
        })).Expect(200);
        Assert.Equal([ids[1]], matched["resources"].AsArray().Select(r => (string)r!["resource_id"]!));
    }

    [Theory]
    [InlineData("not-a-uuid", "{\"resource_type\":\"images\",\"resource_id\":\"IMAGE\",\"project_id\":\"PROJECT\"}", 400, "EPS.0002")]
    [InlineData("0", "{\"resource_id\":\"IMAGE\",\"project_id\":\"PROJECT\"}", 400, "EPS.0002")]
    [InlineData("0", "{\"resource_type\":\"ecs\",\"resource_id\":\"IMAGE\",\"project_id\":\"PROJECT\"}", 400, "EPS.0002")]
    [InlineData("0", "{\"resource_type\":\"images\",\"project_id\":\"PROJECT\"}", 400, "EPS.0002")]
    [InlineData("0", "{\"resource_type\":\"images\",\"resource_id\":\"IMAGE\"}", 400, "EPS.0002")]
    [InlineData("0", "{\"resource_type\":\"images\",\"resource_id\":\"IMAGE\",\"project_id\":\"PROJECT\",\"region_id\":\"eu-de\"}", 400, "EPS.0002")]
    [InlineData("0", "{\"resource_type\":\"images\",\"resource_id\":\"IMAGE\",\"project_id\":\"PROJECT\",\"associated\":\"no\"}", 400, "EPS.0002")]
    [InlineData("0", "{\"resource_type\":\"images\",\"resource_id\":\"IMAGE\"", 400, "EPS.0002")]
    [InlineData("0", "", 400, "EPS.0002")]
    [InlineData("0", "{\"resource_type\":\"images\",\"resource_id\":\"7d5b8f3a-1c2e-4f60-9b11-18040000a001\",\"project_id\":\"PROJECT\"}", 404, "EPS.0005")]
    [InlineData("0", "{\"resource_type\":\"images\",\"resource_id\":\"IMAGE\",\"project_id\":\"00000000000000000000000000000000\"}", 404, "EPS.0005")]
    public async Task Bad_migrations_are_refused_in_the_EPS_error_shape(string eps, string body, int status, string code)
    {
        var client = Service.Client(TestAccounts.Alice);
        var image = await SharedImageAsync(client);
        body = body.Replace("IMAGE", image.Id(), StringComparison.Ordinal).Replace("PROJECT", client.ProjectId, StringComparison.Ordinal);
        var response = (await client.PostAsync(MigratePath(eps), body)).Expect(status);
        Assert.Equal(code, (string?)response["error"]["error_code"]);
        Assert.False(string.IsNullOrEmpty((string?)response["error"]["error_msg"]));
        Assert.Equal("0", (string?)(await TestImages.ReadAsync(client, image.Id()))["enterprise_project_id"]);
    }

    [Theory]
    [InlineData("{\"projects\":[\"PROJECT\"]}", "EPS.0002")]
    [InlineData("{\"projects\":[\"PROJECT\"],\"resource_types\":[]}", "EPS.0002")]
    [InlineData("{\"projects\":[\"PROJECT\"],\"resource_types\":[\"ecs\"]}", "EPS.0002")]
    [InlineData("{\"resource_types\":[\"images\"]}", "EPS.0020")]
    [InlineData("{\"projects\":[],\"resource_types\":[\"images\"]}", "EPS.0020")]
    [InlineData("{\"projects\":[\"PROJECT\"],\"resource_types\":[\"images\"],\"limit\":0}", "EPS.0017")]
    [InlineData("{\"projects\":[\"PROJECT\"],\"resource_types\":[\"images\"],\"limit\":1001}", "EPS.0017")]
    [InlineData("{\"projects\":[\"PROJECT\"],\"resource_types\":[\"images\"],\"offset\":-1}", "EPS.0018")]
    [InlineData("{\"projects\":[\"PROJECT\"],\"resource_types\":[\"images\"],\"limit\":\"10\"}", "EPS.0002")]
    [InlineData("{\"projects\":[\"PROJECT\"],\"resource_types\":[\"images\"],\"matches\":[{\"key\":\"resource_id\",\"value\":\"x\"}]}", "EPS.0002")]
    [InlineData("{\"projects\":[\"PROJECT\"],\"resource_types\":[\"images\"],\"matches\":[{\"key\":\"resource_name\",\"value\":\"\"}]}", "EPS.0002")]
    public async Task Bad_filters_are_refused(string body, string code)
    {
        var client = Service.Client(TestAccounts.Alice, AuthMode.AkSk);
        var response = (await client.PostAsync(FilterPath("0"), body.Replace("PROJECT", client.ProjectId, StringComparison.Ordinal))).Expect(400);
        Assert.Equal(code, (string?)response["error"]["error_code"]);
    }

    [Fact]
    public async Task Bob_can_neither_migrate_nor_list_Alices_image()
    {
        var alice = Service.Client(TestAccounts.Alice);
        var bob = Service.Client(TestAccounts.Bob, AuthMode.AkSk);
        var image = await TestImages.CreateAsync(Service, alice);
        var eps = await EnterpriseProjectApi.CreateAsync(bob);

        var asAlice = (await bob.PostAsync(MigratePath(eps), Migration(alice, image.Id()))).Expect(404);
        Assert.Equal("EPS.0005", (string?)asAlice["error"]["error_code"]);
        (await bob.PostAsync(MigratePath(eps), Migration(bob, image.Id()))).Expect(404);
        Assert.Equal("0", (string?)(await TestImages.ReadAsync(alice, image.Id()))["enterprise_project_id"]);

        var listed = (await bob.PostAsync(FilterPath("0"), new { projects = new[] { alice.ProjectId }, resource_types = new[] { "images" } })).Expect(200);
        Assert.Equal(0, (int)listed["total_count"]);
        Assert.Empty(listed["resources"].AsArray());
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<Task<JsonObject>>> Shared = new(StringComparer.Ordinal);

    private Task<JsonObject> SharedImageAsync(ApiClient client) =>
        Shared.GetOrAdd($"{Service.BaseAddress}|{client.ProjectId}", _ => new(() => TestImages.CreateAsync(Service, client))).Value;
}
