using Ims.Tests.Infrastructure;

namespace Ims.Tests.Auth;

/// <summary>
/// Issue 11 §2: account-level (domain) AK/SK and the SDKs' own look-ups, with requests exactly as the Huawei Node SDK
/// sends them (<see cref="SdkRequests"/>). GlobalCredentials sign <c>X-Domain-Id</c> and no project; a client built
/// without ids first calls <c>GET /v3/projects?name={region}</c> or <c>GET /v3/auth/domains</c>, signed with neither.
/// </summary>
public sealed class DomainCredentialTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;

    private static readonly TestTenant Alice = TestAccounts.Alice;

    private async Task<string> DomainIdOfAsync(TestTenant tenant)
    {
        var issued = await ApiClient.IssueTokenAsync(Service.BaseAddress, tenant.UserName, tenant.Password, tenant.DomainName, tenant.ProjectId);
        return (string)issued.Expect(201)["token"]["user"]!["domain"]!["id"]!;
    }

    private static Dictionary<string, string> Domain(string id) => new() { ["X-Domain-Id"] = id };

    [Fact]
    public async Task A_client_without_a_project_id_finds_it_by_region_name()
    {
        // BasicCredentials(ak, sk) with a region: the SDK's look-up, a GET carrying a signed "{}" body and no id header.
        var found = await SdkRequests.SendAsync(Service.BaseAddress, Alice, HttpMethod.Get, "/v3/projects?name=cn-north-4", body: "{}");
        var projects = found.Expect(200)["projects"].AsArray();
        Assert.Single(projects);
        Assert.Equal(Alice.ProjectId, (string?)projects[0]!["id"]);
        Assert.Equal("cn-north-4", (string?)projects[0]!["name"]);

        // It then calls the service with what it found.
        var job = await SdkRequests.SendAsync(Service.BaseAddress, Alice, HttpMethod.Get, $"/v1/{Alice.ProjectId}/jobs/{Guid.NewGuid():N}",
            new Dictionary<string, string> { ["X-Project-Id"] = Alice.ProjectId });
        job.ExpectImsError(404, "IMG.0031");
    }

    [Fact]
    public async Task The_project_look_up_finds_nothing_for_a_region_the_account_has_no_project_in()
    {
        var found = await SdkRequests.SendAsync(Service.BaseAddress, Alice, HttpMethod.Get, "/v3/projects?name=eu-de", body: "{}");
        Assert.Empty(found.Expect(200)["projects"].AsArray());
    }

    [Fact]
    public async Task A_client_without_a_domain_id_finds_its_account()
    {
        var domains = await SdkRequests.SendAsync(Service.BaseAddress, Alice, HttpMethod.Get, "/v3/auth/domains", body: "{}");
        var list = domains.Expect(200)["domains"].AsArray();
        Assert.Single(list);
        Assert.Equal(await DomainIdOfAsync(Alice), (string?)list[0]!["id"]);
        Assert.Equal(Alice.DomainName, (string?)list[0]!["name"]);
        Assert.True((bool?)list[0]!["enabled"]);
    }

    [Fact]
    public async Task Each_account_sees_only_its_own_domain_and_projects()
    {
        var bob = TestAccounts.Bob;
        var domains = await SdkRequests.SendAsync(Service.BaseAddress, bob, HttpMethod.Get, "/v3/auth/domains", body: "{}");
        Assert.Equal(await DomainIdOfAsync(bob), (string?)domains.Expect(200)["domains"][0]!["id"]);
        var projects = await SdkRequests.SendAsync(Service.BaseAddress, bob, HttpMethod.Get, "/v3/projects", body: "{}");
        Assert.Equal([bob.ProjectId], projects.Expect(200)["projects"].AsArray().Select(p => (string?)p!["id"]));
    }

    [Theory]
    [InlineData("/v3/projects")]
    [InlineData("/v3/auth/projects")]
    public async Task Keystone_project_lists_accept_domain_level_signing(string path)
    {
        var response = await SdkRequests.SendAsync(Service.BaseAddress, Alice, HttpMethod.Get, path, Domain(await DomainIdOfAsync(Alice)));
        var projects = response.Expect(200)["projects"].AsArray();
        Assert.Equal([Alice.ProjectId], projects.Select(p => (string?)p!["id"]));
        Assert.Equal(await DomainIdOfAsync(Alice), (string?)projects[0]!["domain_id"]);
    }

    [Fact]
    public async Task Keystone_validate_token_accepts_domain_level_signing()
    {
        var token = await Service.Client(Alice).TokenAsync();
        var headers = Domain(await DomainIdOfAsync(Alice));
        headers["X-Subject-Token"] = token;
        var response = await SdkRequests.SendAsync(Service.BaseAddress, Alice, HttpMethod.Get, "/v3/auth/tokens", headers);
        response.Expect(200);
        Assert.Equal(Alice.ProjectId, (string?)response["token"]["project"]!["id"]);
        Assert.Equal(token, response.Headers.GetValues("X-Subject-Token").Single());
        Assert.NotNull(response["token"]["catalog"]);

        var bare = await SdkRequests.SendAsync(Service.BaseAddress, Alice, HttpMethod.Get, "/v3/auth/tokens?nocatalog=true", headers);
        Assert.Null(bare.Expect(200)["token"]["catalog"]);
    }

    [Fact]
    public async Task Validating_another_accounts_token_finds_nothing()
    {
        var bobsToken = await Service.Client(TestAccounts.Bob).TokenAsync();
        var headers = Domain(await DomainIdOfAsync(Alice));
        headers["X-Subject-Token"] = bobsToken;
        var response = await SdkRequests.SendAsync(Service.BaseAddress, Alice, HttpMethod.Get, "/v3/auth/tokens", headers);
        response.Expect(404);
    }

    [Fact]
    public async Task Another_accounts_domain_id_is_refused()
    {
        var response = await SdkRequests.SendAsync(Service.BaseAddress, Alice, HttpMethod.Get, "/v3/projects",
            Domain(await DomainIdOfAsync(TestAccounts.Bob)));
        response.Expect(401);
        Assert.Equal("APIGW.0301", (string?)response["error_code"]);
    }

    [Fact]
    public async Task Project_apis_still_need_a_project_with_domain_level_signing()
    {
        // The images API is project-level: a domain-signed request names no project, so it is refused as before.
        var response = await SdkRequests.SendAsync(Service.BaseAddress, Alice, HttpMethod.Get, "/v2/cloudimages",
            Domain(await DomainIdOfAsync(Alice)));
        response.Expect(401);
        Assert.Equal("APIGW.0301", (string?)response["error_code"]);
    }
}
