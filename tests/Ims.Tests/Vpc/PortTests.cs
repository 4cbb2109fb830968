using System.Text.Json;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Vpc;

public sealed class PortTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task Unknown_port_is_404_in_the_v1_shape(AuthMode mode)
    {
        var client = Service.Client(TestAccounts.Alice, mode);
        (await client.GetAsync($"/v1/{client.ProjectId}/ports/{Guid.NewGuid()}")).ExpectV1Error(404, "VPC.0704");
    }

    [Fact]
    public async Task Listing_by_an_unknown_device_gives_an_empty_list()
    {
        var client = Service.Client(TestAccounts.Alice);
        var listed = (await client.GetAsync($"/v1/{client.ProjectId}/ports?device_id={Guid.NewGuid()}&limit=100")).Expect(200);
        Assert.Equal(JsonValueKind.Array, listed["ports"].GetValueKind());
        Assert.Empty(listed["ports"].AsArray());
    }

    [Fact]
    public async Task Bad_limit_is_400()
    {
        var client = Service.Client(TestAccounts.Alice);
        (await client.GetAsync($"/v1/{client.ProjectId}/ports?limit=many")).ExpectV1Error(400, "VPC.0101");
    }

    /// <summary>A port as ECS inserts it reads back the way terraform's compute read needs.</summary>
    [Fact]
    public async Task Port_names_the_subnet_as_its_network_and_lists_by_device()
    {
        var alice = Service.Client(TestAccounts.Alice);
        var pid = alice.ProjectId;
        var vpc = await VpcApi.CreateVpcAsync(alice);
        var subnet = await VpcApi.CreateSubnetAsync(alice, (string)vpc["id"]!);
        var group = await VpcApi.CreateSecurityGroupAsync(alice);
        var server = Guid.NewGuid().ToString();
        var portId = await VpcApi.InsertPortAsync(Service, pid, (string)subnet["id"]!, server, "192.168.1.40", (string)group["id"]!);

        var port = (await alice.GetAsync($"/v1/{pid}/ports/{portId}")).Expect(200)["port"];
        Assert.Equal((string?)subnet["id"], (string?)port["network_id"]);
        var fixedIp = port["fixed_ips"]!.AsArray().Single()!;
        Assert.Equal("192.168.1.40", (string?)fixedIp["ip_address"]);
        Assert.Equal((string?)subnet["neutron_subnet_id"], (string?)fixedIp["subnet_id"]);
        Assert.Equal([(string)group["id"]!], port["security_groups"]!.AsArray().Select(g => (string)g!));
        Assert.Empty(port["allowed_address_pairs"]!.AsArray());
        Assert.Equal(JsonValueKind.True, port["admin_state_up"]!.GetValueKind());
        Assert.Equal(server, (string?)port["device_id"]);
        foreach (var field in new[] { "id", "name", "mac_address", "device_owner", "status", "tenant_id", "dns_name", "zone_id" })
            VpcApi.AssertString(port, field);
        Assert.Null(port["binding:profile"]);

        var listed = (await alice.GetAsync($"/v1/{pid}/ports?device_id={server}&limit=100")).Expect(200)["ports"].AsArray();
        Assert.Equal([portId], listed.Select(p => (string)p!["id"]!));

        var bob = Service.Client(TestAccounts.Bob);
        (await bob.GetAsync($"/v1/{bob.ProjectId}/ports/{portId}")).ExpectV1Error(404, "VPC.0704");
        Assert.Empty((await bob.GetAsync($"/v1/{bob.ProjectId}/ports?device_id={server}")).Expect(200)["ports"].AsArray());

        await VpcApi.DeletePortAsync(Service, portId);
    }
}
