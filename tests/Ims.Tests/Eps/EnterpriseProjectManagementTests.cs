using System.Text.Json;
using System.Text.Json.Nodes;
using Ims.Tests.Infrastructure;
using Ims.Tests.Ims;

namespace Ims.Tests.Eps;

/// <summary>
/// Issue 11 §4: EPS's enterprise projects (per account, persistent, <c>0</c> always the default) and the refusal of an
/// <c>enterprise_project_id</c> that names nothing or a disabled project, by every API that takes one.
/// </summary>
public sealed class EnterpriseProjectManagementTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private const string Path = EnterpriseProjectApi.Path;

    private TestService Service => fixture.Service;

    private ApiClient Alice(AuthMode mode = AuthMode.Token) => Service.Client(TestAccounts.Alice, mode);

    private static void ExpectEpsError(ApiResponse response, int status, string code)
    {
        response.Expect(status);
        Assert.Equal(code, (string?)response["error"]["error_code"]);
        Assert.False(string.IsNullOrEmpty((string?)response["error"]["error_msg"]));
    }

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task Terraform_creates_reads_updates_disables_and_enables_an_enterprise_project(AuthMode mode)
    {
        var client = Alice(mode);
        var name = EnterpriseProjectApi.UniqueName();
        var created = (await client.PostAsync(Path, new { name, description = "first", type = "poc" })).Expect(200)["enterprise_project"];
        var id = (string)created["id"]!;
        Assert.True(Guid.TryParseExact(id, "D", out _));
        Assert.Equal((name, "first", "poc", false), ((string?)created["name"], (string?)created["description"], (string?)created["type"], (bool?)created["delete_flag"]));
        Assert.Equal(JsonValueKind.Number, created["status"]!.GetValueKind());
        Assert.Equal(1, (int)created["status"]!);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", (string?)created["created_at"]);

        var shown = (await client.GetAsync($"{Path}/{id}")).Expect(200)["enterprise_project"];
        Assert.Equal(created.ToJsonString(), shown.ToJsonString());

        var renamed = name + "-b";
        var updated = (await client.PutAsync($"{Path}/{id}", new { name = renamed, description = "" })).Expect(200)["enterprise_project"];
        Assert.Equal((renamed, "", "poc"), ((string?)updated["name"], (string?)updated["description"], (string?)updated["type"]));

        await EnterpriseProjectApi.DisableAsync(client, id);
        Assert.Equal(2, (int)(await client.GetAsync($"{Path}/{id}")).Expect(200)["enterprise_project"]["status"]!);
        // terraform disables again on destroy: no error.
        await EnterpriseProjectApi.DisableAsync(client, id);
        ExpectEpsError(await client.PutAsync($"{Path}/{id}", new { name = renamed }), 400, "EPS.0014");

        (await client.PostAsync($"{Path}/{id}/action", new { action = "enable" })).Expect(204);
        Assert.Equal(1, (int)(await client.GetAsync($"{Path}/{id}")).Expect(200)["enterprise_project"]["status"]!);
    }

    [Fact]
    public async Task The_default_project_is_always_there_and_cannot_be_changed()
    {
        var client = Alice();
        var zero = (await client.GetAsync($"{Path}/0")).Expect(200)["enterprise_project"];
        Assert.Equal(("0", "default", 1), ((string?)zero["id"], (string?)zero["name"], (int)zero["status"]!));
        var listed = (await client.GetAsync($"{Path}?id=0")).Expect(200);
        Assert.Equal(1, (int)listed["total_count"]);
        Assert.Equal("0", (string?)listed["enterprise_projects"][0]!["id"]);

        ExpectEpsError(await client.PutAsync($"{Path}/0", new { name = "renamed" }), 400, "EPS.0012");
        ExpectEpsError(await client.PostAsync($"{Path}/0/action", new { action = "disable" }), 400, "EPS.0015");
    }

    [Theory]
    [InlineData("""{"description":"no name"}""", 400, "EPS.0007")]
    [InlineData("""{"name":""}""", 400, "EPS.0007")]
    [InlineData("""{"name":"default"}""", 400, "EPS.0007")]
    [InlineData("""{"name":"DeFault"}""", 400, "EPS.0007")]
    [InlineData("""{"name":"has space"}""", 400, "EPS.0007")]
    [InlineData("""{"name":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}""", 400, "EPS.0007")]
    [InlineData("""{"name":"ok-NAME","type":"test"}""", 400, "EPS.0002")]
    [InlineData("""{"name":1}""", 400, "EPS.0002")]
    [InlineData("""{"name":"ok""", 400, "EPS.0002")]
    public async Task Bad_enterprise_projects_are_refused_with_EPS_codes(string body, int status, string code)
    {
        ExpectEpsError(await Alice().PostAsync(Path, body), status, code);
    }

    [Fact]
    public async Task Names_are_unique_in_an_account_whatever_their_case_and_descriptions_are_bounded()
    {
        var client = Alice();
        var name = EnterpriseProjectApi.UniqueName("Dup");
        await EnterpriseProjectApi.CreateAsync(client, name);
        ExpectEpsError(await client.PostAsync(Path, new { name = name.ToLowerInvariant() }), 409, "EPS.0010");
        ExpectEpsError(await client.PostAsync(Path, new { name = EnterpriseProjectApi.UniqueName(), description = new string('d', 513) }), 400, "EPS.0008");
        // Another account may use the name.
        await EnterpriseProjectApi.CreateAsync(Service.Client(TestAccounts.Bob), name);
        // Chinese characters are allowed.
        await EnterpriseProjectApi.CreateAsync(client, "项目-" + Guid.NewGuid().ToString("N")[..8]);
    }

    [Fact]
    public async Task Unknown_ids_and_actions_are_refused()
    {
        var client = Alice();
        ExpectEpsError(await client.GetAsync($"{Path}/{Guid.NewGuid()}"), 404, "EPS.0005");
        ExpectEpsError(await client.PutAsync($"{Path}/{Guid.NewGuid()}", new { name = "x" }), 404, "EPS.0005");
        ExpectEpsError(await client.PostAsync($"{Path}/{Guid.NewGuid()}/action", new { action = "disable" }), 404, "EPS.0005");
        var id = await EnterpriseProjectApi.CreateAsync(client);
        ExpectEpsError(await client.PostAsync($"{Path}/{id}/action", new { action = "delete" }), 400, "EPS.0013");
        ExpectEpsError(await client.GetAsync($"{Path}?limit=0"), 400, "EPS.0017");
        ExpectEpsError(await client.GetAsync($"{Path}?limit=1001"), 400, "EPS.0017");
        ExpectEpsError(await client.GetAsync($"{Path}?offset=-1"), 400, "EPS.0018");
        ExpectEpsError(await client.GetAsync($"{Path}?sort_dir=up"), 400, "EPS.0002");
    }

    [Fact]
    public async Task Each_account_sees_only_its_own_enterprise_projects()
    {
        var alice = Alice();
        var bob = Service.Client(TestAccounts.Bob, AuthMode.AkSk);
        var id = await EnterpriseProjectApi.CreateAsync(alice);
        ExpectEpsError(await bob.GetAsync($"{Path}/{id}"), 404, "EPS.0005");
        ExpectEpsError(await bob.PostAsync($"{Path}/{id}/action", new { action = "disable" }), 404, "EPS.0005");
        var listed = (await bob.GetAsync(Path)).Expect(200)["enterprise_projects"].AsArray();
        Assert.DoesNotContain(listed, p => (string?)p!["id"] == id);
        Assert.Contains(listed, p => (string?)p!["id"] == "0");
        Assert.Equal(1, (int)(await alice.GetAsync($"{Path}/{id}")).Expect(200)["enterprise_project"]["status"]!);
    }

    [Fact]
    public async Task The_list_filters_sorts_and_pages()
    {
        var client = Service.Client(TestAccounts.Bob);
        var tag = Guid.NewGuid().ToString("N")[..10];
        var ids = new List<string>();
        for (var i = 0; i < 3; i++) ids.Add(await EnterpriseProjectApi.CreateAsync(client, $"list-{tag}-{i}"));
        await EnterpriseProjectApi.DisableAsync(client, ids[1]);

        var byName = (await client.GetAsync($"{Path}?name=LIST-{tag}&sort_key=name&sort_dir=asc")).Expect(200);
        Assert.Equal(3, (int)byName["total_count"]);
        Assert.Equal(ids, byName["enterprise_projects"].AsArray().Select(p => (string)p!["id"]!));

        var enabled = (await client.GetAsync($"{Path}?name={tag}&status=1")).Expect(200)["enterprise_projects"].AsArray();
        Assert.Equal(new[] { ids[0], ids[2] }.Order(), enabled.Select(p => (string)p!["id"]!).Order());

        var page = (await client.GetAsync($"{Path}?name={tag}&sort_key=name&sort_dir=desc&limit=1&offset=1")).Expect(200);
        Assert.Equal(3, (int)page["total_count"]);
        Assert.Equal(ids[1], (string?)Assert.Single(page["enterprise_projects"].AsArray())!["id"]);
    }

    [Fact]
    public async Task An_account_level_sdk_client_manages_enterprise_projects()
    {
        // GlobalCredentials: X-Domain-Id, no project, as the EPS SDK client signs.
        var issued = await ApiClient.IssueTokenAsync(Service.BaseAddress, TestAccounts.Alice.UserName, TestAccounts.Alice.Password,
            TestAccounts.Alice.DomainName, TestAccounts.Alice.ProjectId);
        var domain = new Dictionary<string, string> { ["X-Domain-Id"] = (string)issued.Expect(201)["token"]["user"]!["domain"]!["id"]! };
        var name = EnterpriseProjectApi.UniqueName("sdk");
        var created = await SdkRequests.SendAsync(Service.BaseAddress, TestAccounts.Alice, HttpMethod.Post, Path, domain,
            JsonSerializer.Serialize(new { name }));
        var id = (string)created.Expect(200)["enterprise_project"]["id"]!;
        var listed = await SdkRequests.SendAsync(Service.BaseAddress, TestAccounts.Alice, HttpMethod.Get, $"{Path}?name={name}", domain);
        Assert.Equal(id, (string?)Assert.Single(listed.Expect(200)["enterprise_projects"].AsArray())!["id"]);
    }

    [Fact]
    public async Task Enterprise_projects_survive_a_restart()
    {
        var dataDir = TestService.NewDataDir();
        string id;
        await using (var first = await TestService.StartAsync(dataDir))
        {
            id = await EnterpriseProjectApi.CreateAsync(first.Client(TestAccounts.Alice));
            await EnterpriseProjectApi.DisableAsync(first.Client(TestAccounts.Alice), id);
        }
        await using var second = await TestService.StartAsync(dataDir);
        var shown = (await second.Client(TestAccounts.Alice).GetAsync($"{Path}/{id}")).Expect(200)["enterprise_project"];
        Assert.Equal(2, (int)shown["status"]!);
        var all = (await second.Client(TestAccounts.Alice).GetAsync(Path)).Expect(200)["enterprise_projects"].AsArray();
        Assert.Equal(1, all.Count(p => (string?)p!["id"] == "0"));
    }

    // ----- every API that takes an enterprise_project_id ------------------------------------------------------------

    [Fact]
    public async Task Whole_image_creation_refuses_an_unknown_or_disabled_enterprise_project()
    {
        var client = Alice();
        var disabled = await EnterpriseProjectApi.CreateAsync(client);
        await EnterpriseProjectApi.DisableAsync(client, disabled);
        var bobs = await EnterpriseProjectApi.CreateAsync(Service.Client(TestAccounts.Bob));
        foreach (var eps in new[] { Guid.NewGuid().ToString(), disabled, bobs })
        {
            var body = await TestImages.BodyAsync(Service, client, new JsonObject { ["enterprise_project_id"] = eps });
            (await client.PostAsync("/v1/cloudimages/wholeimages/action", body)).ExpectImsError(400, "IMG.0155");
        }

        var usable = await EnterpriseProjectApi.CreateAsync(client);
        var image = await TestImages.CreateAsync(Service, client, new JsonObject { ["enterprise_project_id"] = usable });
        Assert.Equal(usable, (string?)image["enterprise_project_id"]);
    }

    [Fact]
    public async Task Image_update_refuses_to_move_an_image_into_an_unknown_or_disabled_enterprise_project()
    {
        var client = Alice();
        var home = await EnterpriseProjectApi.CreateAsync(client);
        var image = await TestImages.CreateAsync(Service, client, new JsonObject { ["enterprise_project_id"] = home });
        var disabled = await EnterpriseProjectApi.CreateAsync(client);
        await EnterpriseProjectApi.DisableAsync(client, disabled);
        foreach (var eps in new[] { Guid.NewGuid().ToString(), disabled })
        {
            (await client.SendAsync(HttpMethod.Patch, $"/v2/cloudimages/{image.Id()}", new[] { new { op = "replace", path = "/enterprise_project_id", value = eps } }))
                .ExpectImsError(400, "IMG.0155");
        }
        Assert.Equal(home, (string?)(await TestImages.ReadAsync(client, image.Id()))["enterprise_project_id"]);

        // An image stays in its project when that is disabled: other updates still work.
        await EnterpriseProjectApi.DisableAsync(client, home);
        (await client.SendAsync(HttpMethod.Patch, $"/v2/cloudimages/{image.Id()}", new[] { new { op = "replace", path = "/name", value = "still-here" } }))
            .Expect(200);
        (await client.SendAsync(HttpMethod.Patch, $"/v2/cloudimages/{image.Id()}", new[] { new { op = "replace", path = "/enterprise_project_id", value = "0" } }))
            .Expect(200);
    }

    [Fact]
    public async Task Eps_migration_and_filter_refuse_an_unknown_or_disabled_enterprise_project()
    {
        var client = Alice(AuthMode.AkSk);
        var image = await TestImages.CreateAsync(Service, Alice());
        var disabled = await EnterpriseProjectApi.CreateAsync(client);
        await EnterpriseProjectApi.DisableAsync(client, disabled);
        var migration = new { resource_type = "images", resource_id = image.Id(), project_id = client.ProjectId, region_id = "cn-north-4" };
        var filter = new { projects = new[] { client.ProjectId }, resource_types = new[] { "images" } };

        var unknown = Guid.NewGuid().ToString();
        ExpectEpsError(await client.PostAsync($"{Path}/{unknown}/resources-migrate", migration), 404, "EPS.0005");
        ExpectEpsError(await client.PostAsync($"{Path}/not-a-uuid/resources-migrate", migration), 400, "EPS.0002");
        ExpectEpsError(await client.PostAsync($"{Path}/{disabled}/resources-migrate", migration), 400, "EPS.0014");
        ExpectEpsError(await client.PostAsync($"{Path}/{unknown}/resources/filter", filter), 404, "EPS.0005");
        ExpectEpsError(await client.PostAsync($"{Path}/{disabled}/resources/filter", filter), 400, "EPS.0014");
        Assert.Equal("0", (string?)(await TestImages.ReadAsync(client, image.Id()))["enterprise_project_id"]);
    }

    [Fact]
    public async Task Image_copies_refuse_an_unknown_enterprise_project()
    {
        var client = Alice();
        var image = await TestImages.CreateAsync(Service, client);
        (await client.PostAsync($"/v1/cloudimages/{image.Id()}/copy", new { name = "copy", enterprise_project_id = Guid.NewGuid().ToString() }))
            .ExpectImsError(400, "IMG.0155");
    }
}
