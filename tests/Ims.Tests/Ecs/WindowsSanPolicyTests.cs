using Dapper;
using Ims.Service.Storage;
using Ims.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Ims.Tests.Ecs;

/// <summary>
/// The SAN policy of a Windows guest: OnlineAll unless the client declares another one through metadata,
/// at creation or later; Linux servers have none.
/// </summary>
public sealed class WindowsSanPolicyTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;

    [Fact]
    public async Task Windows_servers_default_to_OnlineAll_and_take_a_declared_policy()
    {
        var client = Service.Client(TestAccounts.Alice);
        var network = await Servers.CreateNetworkAsync(client);
        var plain = await Servers.CreateServerAsync(client, network, image: Servers.Windows2019);
        Assert.Equal("OnlineAll", await SanPolicyAsync(plain));
        var metadata = (await Servers.GetServerAsync(client, plain))["metadata"]!;
        Assert.Equal("Windows", (string?)metadata["os_type"]);
        Assert.Null(metadata["san_policy"]);

        var declared = await Servers.CreateServerAsync(client, network, image: Servers.Windows2019,
            metadata: new Dictionary<string, string> { ["san_policy"] = "OfflineShared" });
        Assert.Equal("OfflineShared", await SanPolicyAsync(declared));

        (await client.PostAsync($"/v1/{client.ProjectId}/cloudservers/{plain}/metadata", new { metadata = new { san_policy = "OfflineInternal" } }))
            .Expect(200);
        Assert.Equal("OfflineInternal", await SanPolicyAsync(plain));
        Assert.Equal("OfflineInternal", (string?)(await Servers.GetServerAsync(client, plain))["metadata"]!["san_policy"]);
        (await client.PostAsync($"/v1/{client.ProjectId}/cloudservers/{plain}/metadata", new { metadata = new { san_policy = "Sometimes" } }))
            .ExpectError(400, "Ecs.0005");
        Assert.Equal("OfflineInternal", await SanPolicyAsync(plain));
    }

    [Fact]
    public async Task An_unknown_policy_is_refused_and_linux_servers_have_none()
    {
        var client = Service.Client(TestAccounts.Alice);
        var network = await Servers.CreateNetworkAsync(client);
        var body = Servers.ServerBody(network, image: Servers.Windows2019, metadata: new Dictionary<string, string> { ["san_policy"] = "AllOnline" });
        (await client.PostAsync($"/v1.1/{client.ProjectId}/cloudservers", body.ToJsonString())).ExpectError(400, "Ecs.0005");

        var linux = await Servers.CreateServerAsync(client, network, image: Servers.Debian11);
        Assert.Null(await SanPolicyAsync(linux));
    }

    [Fact]
    public async Task Windows_root_disks_respect_the_image_minimum()
    {
        var client = Service.Client(TestAccounts.Alice);
        var network = await Servers.CreateNetworkAsync(client);
        var serverId = await Servers.CreateServerAsync(client, network, image: Servers.Windows2019);
        var root = (await Servers.GetServerAsync(client, serverId))["os-extended-volumes:volumes_attached"]![0]!;
        var disk = (await client.GetAsync($"/v2/{client.ProjectId}/cloudvolumes/{(string)root["id"]!}")).Expect(200)["volume"];
        Assert.Equal(40, (int)disk["size"]!);
    }

    private async Task<string?> SanPolicyAsync(string serverId)
    {
        await using var connection = await Service.App.Services.GetRequiredService<Database>().OpenAsync(CancellationToken.None);
        return await connection.QuerySingleAsync<string?>("SELECT san_policy FROM servers WHERE id = @serverId", new { serverId });
    }
}
