using System.Text.Json;
using Ims.Service.Storage;
using Ims.Service.Vpc;
using Ims.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Ims.Tests.Vpc;

public sealed class SubnetTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task Subnet_is_created_read_updated_and_deleted(AuthMode mode)
    {
        var client = Service.Client(TestAccounts.Alice, mode);
        var pid = client.ProjectId;
        var vpc = await VpcApi.CreateVpcAsync(client, "192.168.0.0/16");
        var vpcId = (string)vpc["id"]!;

        var subnet = await VpcApi.CreateSubnetAsync(client, vpcId, "192.168.10.0/24", "192.168.10.1");
        var id = (string)subnet["id"]!;
        Assert.Equal("ACTIVE", (string?)subnet["status"]);
        Assert.Equal(vpcId, (string?)subnet["vpc_id"]);
        Assert.Equal("192.168.10.0/24", (string?)subnet["cidr"]);
        Assert.Equal("192.168.10.1", (string?)subnet["gateway_ip"]);
        Assert.Equal(id, (string?)subnet["neutron_network_id"]);
        Assert.NotEqual(id, (string?)subnet["neutron_subnet_id"]);
        Assert.True(Guid.TryParse((string?)subnet["neutron_subnet_id"], out _));
        Assert.Equal(VpcApi.TerraformDns, subnet["dnsList"]!.AsArray().Select(d => (string)d!));
        Assert.Equal(VpcApi.TerraformDns[0], (string?)subnet["primary_dns"]);
        Assert.Equal(VpcApi.TerraformDns[1], (string?)subnet["secondary_dns"]);

        // terraform reads subnet.vpc_id from the GET by subnet id before it creates a server.
        var shown = (await client.GetAsync($"/v1/{pid}/subnets/{id}")).Expect(200)["subnet"];
        Assert.Equal(vpcId, (string?)shown["vpc_id"]);
        Assert.Equal((string?)subnet["neutron_subnet_id"], (string?)shown["neutron_subnet_id"]);

        var listed = (await client.GetAsync($"/v1/{pid}/subnets?vpc_id={vpcId}")).Expect(200)["subnets"].AsArray();
        Assert.Equal([id], listed.Select(s => (string)s!["id"]!));

        // terraform's update body: name and dhcp_enable always, the rest only when changed.
        var update = (await client.PutAsync($"/v1/{pid}/vpcs/{vpcId}/subnets/{id}", new
        {
            subnet = new
            {
                name = "renamed",
                dhcp_enable = true,
                description = "now described",
                primary_dns = "100.125.1.250",
                secondary_dns = "8.8.8.8",
                extra_dhcp_opts = new object[] { new { opt_name = "ntp", opt_value = "10.0.0.5" } },
            },
        })).Expect(200)["subnet"];
        Assert.Equal(id, (string?)update["id"]);
        Assert.Equal("ACTIVE", (string?)update["status"]);

        shown = (await client.GetAsync($"/v1/{pid}/subnets/{id}")).Expect(200)["subnet"];
        Assert.Equal("renamed", (string?)shown["name"]);
        Assert.Equal("now described", (string?)shown["description"]);
        Assert.Equal("8.8.8.8", (string?)shown["secondary_dns"]);
        Assert.Equal(["100.125.1.250", "8.8.8.8"], shown["dnsList"]!.AsArray().Select(d => (string)d!));
        var options = shown["extra_dhcp_opts"]!.AsArray();
        Assert.Contains(options, o => (string?)o!["opt_name"] == "ntp" && (string?)o["opt_value"] == "10.0.0.5");

        // An option sent without a value is removed (how terraform clears ntp_server_address).
        (await client.PutAsync($"/v1/{pid}/vpcs/{vpcId}/subnets/{id}",
            new { subnet = new { name = "renamed", dhcp_enable = false, extra_dhcp_opts = new object[] { new { opt_name = "ntp" } } } }))
            .Expect(200);
        shown = (await client.GetAsync($"/v1/{pid}/subnets/{id}")).Expect(200)["subnet"];
        Assert.DoesNotContain(shown["extra_dhcp_opts"]!.AsArray(), o => (string?)o!["opt_name"] == "ntp");
        Assert.False((bool)shown["dhcp_enable"]!);

        (await client.DeleteAsync($"/v1/{pid}/vpcs/{vpcId}/subnets/{id}")).Expect(204);
        (await client.GetAsync($"/v1/{pid}/subnets/{id}")).ExpectV1Error(404, "VPC.0202");
        (await client.DeleteAsync($"/v1/{pid}/vpcs/{vpcId}/subnets/{id}")).ExpectV1Error(404, "VPC.0202");
        Assert.Empty((await client.GetAsync($"/v1/{pid}/subnets?vpc_id={vpcId}")).Expect(200)["subnets"].AsArray());
    }

    [Fact]
    public async Task Subnet_fields_have_the_json_types_golangsdk_decodes()
    {
        var client = Service.Client(TestAccounts.Alice);
        var vpc = await VpcApi.CreateVpcAsync(client);
        var subnet = await VpcApi.CreateSubnetAsync(client, (string)vpc["id"]!);
        foreach (var field in new[] { "id", "name", "description", "cidr", "gateway_ip", "primary_dns", "secondary_dns",
                     "availability_zone", "vpc_id", "status", "neutron_network_id", "neutron_subnet_id" })
            VpcApi.AssertString(subnet, field);
        Assert.Equal(JsonValueKind.True, subnet["dhcp_enable"]!.GetValueKind());
        Assert.Equal(JsonValueKind.False, subnet["ipv6_enable"]!.GetValueKind());
        Assert.Equal(JsonValueKind.Array, subnet["dnsList"]!.GetValueKind());
        Assert.All(subnet["extra_dhcp_opts"]!.AsArray(), o =>
        {
            VpcApi.AssertString(o, "opt_name");
            VpcApi.AssertString(o, "opt_value");
        });
        VpcApi.AssertWireTime(subnet, "created_at");
    }

    [Theory]
    [InlineData("10.0.0.0/24", "10.0.0.1", 400, "VPC.0203")]         // outside the VPC
    [InlineData("192.168.0.0/15", "192.168.0.1", 400, "VPC.0203")]   // larger than the VPC
    [InlineData("192.168.5.0/24", "192.168.5.1", 400, "VPC.0204")]   // the sibling's own range
    [InlineData("192.168.4.0/22", "192.168.4.1", 400, "VPC.0204")]   // contains the sibling
    [InlineData("192.168.5.128/25", "192.168.5.129", 400, "VPC.0204")] // inside the sibling
    [InlineData("192.168.6.0/29", "192.168.6.1", 400, "VPC.0212")]   // mask longer than 28
    [InlineData("192.168.6.1/24", "192.168.6.1", 400, "VPC.0212")]   // host bits set
    [InlineData("192.168.6.0/", "192.168.6.1", 400, "VPC.0212")]
    [InlineData("192.168.300.0/24", "192.168.6.1", 400, "VPC.0212")]
    [InlineData("192.168.6.0/24", "192.168.7.1", 400, "VPC.0201")]   // gateway outside the subnet
    [InlineData("192.168.6.0/24", "192.168.6.0", 400, "VPC.0201")]   // gateway is the network address
    [InlineData("192.168.6.0/24", "192.168.6.255", 400, "VPC.0201")] // gateway is the broadcast address
    [InlineData("192.168.6.0/24", "192.168.6", 400, "VPC.0201")]
    public async Task Subnet_ranges_are_checked_against_the_vpc_and_its_siblings(string cidr, string gateway, int status, string code)
    {
        var client = Service.Client(TestAccounts.Alice);
        var vpc = await VpcApi.CreateVpcAsync(client, "192.168.0.0/16");
        await VpcApi.CreateSubnetAsync(client, (string)vpc["id"]!, "192.168.5.0/24", "192.168.5.1");

        var response = await client.PostAsync($"/v1/{client.ProjectId}/subnets", new
        {
            subnet = new { name = "s", cidr, gateway_ip = gateway, vpc_id = (string)vpc["id"]!, dhcp_enable = true },
        });
        response.ExpectV1Error(status, code);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("{}")]
    [InlineData("""{"subnet":[]}""")]
    [InlineData("""{"subnet":{"cidr":"192.168.1.0/24","gateway_ip":"192.168.1.1","vpc_id":"VPC"}}""")]
    [InlineData("""{"subnet":{"name":"s","gateway_ip":"192.168.1.1","vpc_id":"VPC"}}""")]
    [InlineData("""{"subnet":{"name":"s","cidr":"192.168.1.0/24","vpc_id":"VPC"}}""")]
    [InlineData("""{"subnet":{"name":"s","cidr":"192.168.1.0/24","gateway_ip":"192.168.1.1"}}""")]
    [InlineData("""{"subnet":{"name":"s","cidr":"192.168.1.0/24","gateway_ip":"192.168.1.1","vpc_id":"VPC","dhcp_enable":"true"}}""")]
    [InlineData("""{"subnet":{"name":"s","cidr":"192.168.1.0/24","gateway_ip":"192.168.1.1","vpc_id":"VPC","dnsList":"8.8.8.8"}}""")]
    [InlineData("""{"subnet":{"name":"s","cidr":"192.168.1.0/24","gateway_ip":"192.168.1.1","vpc_id":"VPC","dnsList":["8.8.8"]}}""")]
    [InlineData("""{"subnet":{"name":"s","cidr":"192.168.1.0/24","gateway_ip":"192.168.1.1","vpc_id":"VPC","primary_dns":"1.1.1.1","dnsList":["8.8.8.8"]}}""")]
    [InlineData("""{"subnet":{"name":"s","cidr":"192.168.1.0/24","gateway_ip":"192.168.1.1","vpc_id":"VPC","extra_dhcp_opts":[{"opt_name":"bogus","opt_value":"1"}]}}""")]
    [InlineData("""{"subnet":{"name":"s","cidr":"192.168.1.0/24","gateway_ip":"192.168.1.1","vpc_id":"VPC","ipv6_enable":true}}""")]
    [InlineData("""{"subnet":{"name":"","cidr":"192.168.1.0/24","gateway_ip":"192.168.1.1","vpc_id":"VPC"}}""")]
    public async Task Malformed_subnet_create_gets_400_in_the_v1_shape(string body)
    {
        var client = Service.Client(TestAccounts.Alice);
        var vpc = await VpcApi.CreateVpcAsync(client);
        var response = await client.PostAsync($"/v1/{client.ProjectId}/subnets", body.Replace("VPC", (string)vpc["id"]!, StringComparison.Ordinal));
        response.ExpectV1Error(400, "VPC.0201");
    }

    [Fact]
    public async Task Subnet_under_an_unknown_vpc_is_404()
    {
        var client = Service.Client(TestAccounts.Alice);
        var response = await client.PostAsync($"/v1/{client.ProjectId}/subnets", new
        {
            subnet = new { name = "s", cidr = "192.168.1.0/24", gateway_ip = "192.168.1.1", vpc_id = Guid.NewGuid().ToString(), dhcp_enable = true },
        });
        response.ExpectV1Error(404, "VPC.0003");
    }

    [Fact]
    public async Task Subnet_paths_under_the_wrong_vpc_are_refused()
    {
        var client = Service.Client(TestAccounts.Alice);
        var pid = client.ProjectId;
        var vpc = await VpcApi.CreateVpcAsync(client);
        var other = await VpcApi.CreateVpcAsync(client);
        var subnet = await VpcApi.CreateSubnetAsync(client, (string)vpc["id"]!);

        (await client.PutAsync($"/v1/{pid}/vpcs/{other["id"]}/subnets/{subnet["id"]}", new { subnet = new { name = "x", dhcp_enable = true } }))
            .ExpectV1Error(400, "VPC.0207");
        (await client.DeleteAsync($"/v1/{pid}/vpcs/{other["id"]}/subnets/{subnet["id"]}")).ExpectV1Error(400, "VPC.0207");
        (await client.GetAsync($"/v1/{pid}/subnets/{subnet["id"]}")).Expect(200);
    }

    [Fact]
    public async Task Subnet_with_a_port_cannot_be_deleted_until_the_port_goes()
    {
        var client = Service.Client(TestAccounts.Alice);
        var pid = client.ProjectId;
        var vpc = await VpcApi.CreateVpcAsync(client);
        var subnet = await VpcApi.CreateSubnetAsync(client, (string)vpc["id"]!);
        var port = await VpcApi.InsertPortAsync(Service, pid, (string)subnet["id"]!, Guid.NewGuid().ToString(), "192.168.1.20");
        var path = $"/v1/{pid}/vpcs/{vpc["id"]}/subnets/{subnet["id"]}";

        (await client.DeleteAsync(path)).ExpectV1Error(500, "VPC.0209");
        await VpcApi.DeletePortAsync(Service, port);
        (await client.DeleteAsync(path)).Expect(204);
    }

    [Fact]
    public async Task Another_tenant_cannot_see_change_or_delete_a_subnet()
    {
        var alice = Service.Client(TestAccounts.Alice);
        var bob = Service.Client(TestAccounts.Bob, AuthMode.AkSk);
        var vpc = await VpcApi.CreateVpcAsync(alice);
        var subnet = await VpcApi.CreateSubnetAsync(alice, (string)vpc["id"]!);
        var bobPid = bob.ProjectId;

        (await bob.GetAsync($"/v1/{bobPid}/subnets/{subnet["id"]}")).ExpectV1Error(404, "VPC.0202");
        Assert.Empty((await bob.GetAsync($"/v1/{bobPid}/subnets?vpc_id={vpc["id"]}")).Expect(200)["subnets"].AsArray());
        Assert.DoesNotContain((await bob.GetAsync($"/v1/{bobPid}/subnets")).Expect(200)["subnets"].AsArray(),
            s => (string?)s!["id"] == (string?)subnet["id"]);
        (await bob.PutAsync($"/v1/{bobPid}/vpcs/{vpc["id"]}/subnets/{subnet["id"]}", new { subnet = new { name = "x", dhcp_enable = true } }))
            .ExpectV1Error(404, "VPC.0202");
        (await bob.DeleteAsync($"/v1/{bobPid}/vpcs/{vpc["id"]}/subnets/{subnet["id"]}")).ExpectV1Error(404, "VPC.0202");
        (await alice.GetAsync($"/v1/{alice.ProjectId}/subnets/{subnet["id"]}")).Expect(200);
    }

    [Fact]
    public async Task Subnets_FindAsync_finds_a_subnet_only_in_its_own_project()
    {
        var alice = Service.Client(TestAccounts.Alice);
        var vpc = await VpcApi.CreateVpcAsync(alice);
        var subnet = await VpcApi.CreateSubnetAsync(alice, (string)vpc["id"]!);
        var db = Service.App.Services.GetRequiredService<Database>();
        await using var connection = await db.OpenAsync(CancellationToken.None);

        var found = await Subnets.FindAsync(connection, TestAccounts.Alice.ProjectId, (string)subnet["id"]!);
        Assert.NotNull(found);
        Assert.Equal((string?)vpc["id"], found.VpcId);
        Assert.Equal((string?)subnet["neutron_subnet_id"], found.NeutronSubnetId);
        Assert.Null(await Subnets.FindAsync(connection, TestAccounts.Bob.ProjectId, (string)subnet["id"]!));
        Assert.Null(await Subnets.FindAsync(connection, TestAccounts.Alice.ProjectId, Guid.NewGuid().ToString()));
    }
}
