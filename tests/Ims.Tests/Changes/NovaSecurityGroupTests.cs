using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Changes;

/// <summary>
/// Nova's addSecurityGroup and removeSecurityGroup server actions (terraform's huaweicloud_compute_instance update, the
/// openstack CLI's server add/remove security group): the change shows in ECS's server detail and on the server's ports.
/// </summary>
public sealed class NovaSecurityGroupTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;
    private ApiClient Alice => Service.Client(TestAccounts.Alice);

    private static async Task<string> GroupAsync(ApiClient client, string name) =>
        (string)(await client.PostAsync($"/v3/{client.ProjectId}/vpc/security-groups", new { security_group = new { name } }))
            .Expect(201)["security_group"]["id"]!;

    private static async Task<string[]> ServerGroupsAsync(ApiClient client, string serverId) =>
        (await Servers.GetServerAsync(client, serverId))["security_groups"]!.AsArray().Select(g => (string)g!["id"]!).ToArray();

    private static async Task<string[]> PortGroupsAsync(ApiClient client, string serverId) =>
        (await client.GetAsync($"/v1/{client.ProjectId}/ports?device_id={serverId}")).Expect(200)["ports"].AsArray()
            .SelectMany(p => p!["security_groups"]!.AsArray().Select(g => (string)g!)).Distinct().ToArray();

    private static void ExpectFault(ApiResponse response, int status, string fault)
    {
        response.Expect(status);
        var body = response.Json[fault];
        Assert.True(body is not null, $"expected {fault}: {response.Body}");
        Assert.Equal(status, (int)body["code"]!);
        Assert.False(string.IsNullOrEmpty((string?)body["message"]), response.Body);
    }

    [Fact]
    public async Task Adding_and_removing_a_group_by_id_or_name_shows_in_the_server_detail_and_its_ports()
    {
        var pid = Alice.ProjectId;
        var server = await TestServers.CreateAsync(Service, Alice);
        var original = await ServerGroupsAsync(Alice, server.Id);
        Assert.NotEmpty(original);
        var webName = Servers.UniqueName("web");
        var web = await GroupAsync(Alice, webName);
        var db = await GroupAsync(Alice, Servers.UniqueName("db"));
        var action = $"/v2.1/{pid}/servers/{server.Id}/action";

        var added = await Alice.PostAsync(action, new { addSecurityGroup = new { name = web } });
        added.Expect(202);
        Assert.Equal("", added.Body);
        // Again, by name: the server stays in it once.
        (await Alice.PostAsync(action, new { addSecurityGroup = new { name = webName } })).Expect(202);
        (await Alice.PostAsync(action, new { addSecurityGroup = new { name = db } })).Expect(202);
        string[] all = [.. original, web, db];
        Assert.Equal(all, await ServerGroupsAsync(Alice, server.Id));
        Assert.Equal(all, await PortGroupsAsync(Alice, server.Id));

        // By name; removing what the server is not in is refused, and changes nothing.
        (await Alice.PostAsync(action, new { removeSecurityGroup = new { name = webName } })).Expect(202);
        string[] withoutWeb = [.. original, db];
        Assert.Equal(withoutWeb, await ServerGroupsAsync(Alice, server.Id));
        ExpectFault(await Alice.PostAsync(action, new { removeSecurityGroup = new { name = web } }), 400, "badRequest");
        (await Alice.PostAsync(action, new { removeSecurityGroup = new { name = db } })).Expect(202);
        Assert.Equal(original, await ServerGroupsAsync(Alice, server.Id));
        Assert.Equal(original, await PortGroupsAsync(Alice, server.Id));
    }

    [Fact]
    public async Task Refusals_are_Nova_faults()
    {
        var pid = Alice.ProjectId;
        var server = await TestServers.CreateAsync(Service, Alice);
        var before = await ServerGroupsAsync(Alice, server.Id);
        var action = $"/v2.1/{pid}/servers/{server.Id}/action";
        var twin = Servers.UniqueName("twin");
        await GroupAsync(Alice, twin);
        await GroupAsync(Alice, twin);
        var bob = Service.Client(TestAccounts.Bob);
        var bobs = await GroupAsync(bob, Servers.UniqueName("bobs"));

        ExpectFault(await Alice.PostAsync($"/v2.1/{pid}/servers/{Guid.NewGuid()}/action", new { addSecurityGroup = new { name = twin } }), 404, "itemNotFound");
        ExpectFault(await Alice.PostAsync(action, new { addSecurityGroup = new { name = Servers.UniqueName("none") } }), 404, "itemNotFound");
        ExpectFault(await Alice.PostAsync(action, new { addSecurityGroup = new { name = bobs } }), 404, "itemNotFound");
        ExpectFault(await Alice.PostAsync(action, new { addSecurityGroup = new { name = twin } }), 409, "conflict");
        ExpectFault(await Alice.PostAsync(action, new { addSecurityGroup = new { } }), 400, "badRequest");
        ExpectFault(await Alice.PostAsync(action, new { addSecurityGroup = new { name = "" } }), 400, "badRequest");
        ExpectFault(await Alice.PostAsync(action, new { lock_ = new { } }), 400, "badRequest");
        ExpectFault(await Alice.PostAsync(action, new { }), 400, "badRequest");
        // Another tenant's server does not exist for Bob.
        ExpectFault(await bob.PostAsync($"/v2.1/{bob.ProjectId}/servers/{server.Id}/action", new { addSecurityGroup = new { name = bobs } }), 404, "itemNotFound");
        Assert.Equal(before, await ServerGroupsAsync(Alice, server.Id));
    }
}
