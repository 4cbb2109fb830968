using System.Text.Json;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Vpc;

public sealed class VpcTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task Vpc_is_created_read_updated_and_deleted(AuthMode mode)
    {
        var client = Service.Client(TestAccounts.Alice, mode);
        var pid = client.ProjectId;
        var name = VpcApi.UniqueName("vpc");

        var created = (await client.PostAsync($"/v1/{pid}/vpcs",
            new { vpc = new { name, cidr = "10.10.0.0/16", description = "first", enterprise_project_id = "0" } })).Expect(200)["vpc"];
        var id = (string)created["id"]!;
        Assert.Equal(name, (string?)created["name"]);
        Assert.Equal("10.10.0.0/16", (string?)created["cidr"]);
        Assert.Equal("OK", (string?)created["status"]);
        Assert.Equal("first", (string?)created["description"]);

        var shown = (await client.GetAsync($"/v1/{pid}/vpcs/{id}")).Expect(200)["vpc"];
        Assert.Equal(id, (string?)shown["id"]);
        Assert.Equal("OK", (string?)shown["status"]);

        var v3 = (await client.GetAsync($"/v3/{pid}/vpc/vpcs/{id}")).Expect(200);
        Assert.Equal(v3.Headers.GetValues("X-Request-Id").Single(), (string?)v3["request_id"]);
        Assert.Equal(id, (string?)v3["vpc"]["id"]);
        Assert.Equal("ACTIVE", (string?)v3["vpc"]["status"]);
        Assert.Equal(JsonValueKind.Array, v3["vpc"]["extend_cidrs"]!.GetValueKind());
        Assert.Equal(pid, (string?)v3["vpc"]["project_id"]);

        var listed = (await client.GetAsync($"/v1/{pid}/vpcs")).Expect(200)["vpcs"].AsArray();
        Assert.Contains(listed, v => (string?)v!["id"] == id);

        var renamed = VpcApi.UniqueName("vpc");
        var updated = (await client.PutAsync($"/v1/{pid}/vpcs/{id}",
            new { vpc = new { name = renamed, cidr = "10.10.0.0/16", description = "second" } })).Expect(200)["vpc"];
        Assert.Equal(renamed, (string?)updated["name"]);
        Assert.Equal("second", (string?)updated["description"]);
        Assert.Equal("second", (string?)(await client.GetAsync($"/v1/{pid}/vpcs/{id}")).Expect(200)["vpc"]["description"]);

        (await client.DeleteAsync($"/v1/{pid}/vpcs/{id}")).Expect(204);
        (await client.GetAsync($"/v1/{pid}/vpcs/{id}")).ExpectV1Error(404, "VPC.0003");
        (await client.GetAsync($"/v3/{pid}/vpc/vpcs/{id}")).ExpectV3Error(404, "VPC.0003");
        (await client.DeleteAsync($"/v1/{pid}/vpcs/{id}")).ExpectV1Error(404, "VPC.0003");
    }

    [Fact]
    public async Task Vpc_fields_have_the_json_types_golangsdk_decodes()
    {
        var client = Service.Client(TestAccounts.Alice);
        var vpc = await VpcApi.CreateVpcAsync(client, "172.16.0.0/12");
        foreach (var field in new[] { "id", "name", "description", "cidr", "status", "enterprise_project_id", "tenant_id" })
            VpcApi.AssertString(vpc, field);
        Assert.Equal("0", (string?)vpc["enterprise_project_id"]);
        Assert.Equal(JsonValueKind.Array, vpc["routes"]!.GetValueKind());
        Assert.Equal(JsonValueKind.False, vpc["enable_shared_snat"]!.GetValueKind());
        VpcApi.AssertWireTime(vpc, "created_at");
        VpcApi.AssertWireTime(vpc, "updated_at");

        var v3 = (await client.GetAsync($"/v3/{client.ProjectId}/vpc/vpcs/{vpc["id"]}")).Expect(200)["vpc"];
        VpcApi.AssertWireTime(v3, "created_at");
        var resources = v3["cloud_resources"]!.AsArray();
        Assert.All(resources, r => Assert.Equal(JsonValueKind.Number, r!["resource_count"]!.GetValueKind()));
    }

    [Fact]
    public async Task Vpc_with_a_subnet_is_refused_deletion_with_409_until_the_subnet_goes()
    {
        var client = Service.Client(TestAccounts.Alice);
        var pid = client.ProjectId;
        var vpc = await VpcApi.CreateVpcAsync(client);
        var subnet = await VpcApi.CreateSubnetAsync(client, (string)vpc["id"]!);

        (await client.DeleteAsync($"/v1/{pid}/vpcs/{vpc["id"]}")).ExpectV1Error(409, "VPC.0104");
        (await client.GetAsync($"/v1/{pid}/vpcs/{vpc["id"]}")).Expect(200);

        (await client.DeleteAsync($"/v1/{pid}/vpcs/{vpc["id"]}/subnets/{subnet["id"]}")).Expect(204);
        (await client.DeleteAsync($"/v1/{pid}/vpcs/{vpc["id"]}")).Expect(204);
    }

    [Fact]
    public async Task Vpc_names_are_unique_within_a_project_but_not_across_projects()
    {
        var alice = Service.Client(TestAccounts.Alice);
        var bob = Service.Client(TestAccounts.Bob);
        var name = VpcApi.UniqueName("dup");
        await VpcApi.CreateVpcAsync(alice, name: name);

        (await alice.PostAsync($"/v1/{alice.ProjectId}/vpcs", new { vpc = new { name, cidr = "10.0.0.0/8" } }))
            .ExpectV1Error(400, "VPC.0115");
        await VpcApi.CreateVpcAsync(bob, name: name);
    }

    [Fact]
    public async Task Vpc_range_cannot_change_to_one_that_leaves_a_subnet_out()
    {
        var client = Service.Client(TestAccounts.Alice);
        var vpc = await VpcApi.CreateVpcAsync(client, "192.168.0.0/16");
        await VpcApi.CreateSubnetAsync(client, (string)vpc["id"]!, "192.168.200.0/24", "192.168.200.1");
        var path = $"/v1/{client.ProjectId}/vpcs/{vpc["id"]}";

        (await client.PutAsync(path, new { vpc = new { name = (string)vpc["name"]!, cidr = "192.168.0.0/17" } }))
            .ExpectV1Error(400, "VPC.0117");
        var grown = (await client.PutAsync(path, new { vpc = new { name = (string)vpc["name"]!, cidr = "192.168.0.0/16" } })).Expect(200);
        Assert.Equal("192.168.0.0/16", (string?)grown["vpc"]["cidr"]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData("""{"vpc":"x"}""")]
    [InlineData("""{"vpc":{"name":1,"cidr":"10.0.0.0/8"}}""")]
    [InlineData("""{"vpc":{"name":"a b","cidr":"10.0.0.0/8"}}""")]
    [InlineData("""{"vpc":{"name":"ok","cidr":"10.0.0.0/33"}}""")]
    [InlineData("""{"vpc":{"name":"ok","cidr":"8.8.8.0/24"}}""")]
    [InlineData("""{"vpc":{"name":"ok","cidr":"192.168.1.0/16"}}""")]
    [InlineData("""{"vpc":{"name":"ok","cidr":"192.168.0.0"}}""")]
    [InlineData("""{"vpc":{"name":"ok","cidr":"10.0.0.0/8","description":"<b>"}}""")]
    [InlineData("""{"vpc":{"name":"ok","cidr":"10.0.0.0/8","enterprise_project_id":"not-a-uuid"}}""")]
    public async Task Malformed_vpc_create_gets_400_in_the_v1_shape(string body)
    {
        var client = Service.Client(TestAccounts.Alice);
        (await client.PostAsync($"/v1/{client.ProjectId}/vpcs", body)).ExpectV1Error(400, "VPC.0101");
    }

    [Fact]
    public async Task Bad_list_arguments_get_400()
    {
        var client = Service.Client(TestAccounts.Alice);
        (await client.GetAsync($"/v1/{client.ProjectId}/vpcs?limit=abc")).ExpectV1Error(400, "VPC.0101");
        (await client.GetAsync($"/v1/{client.ProjectId}/vpcs?limit=-1")).ExpectV1Error(400, "VPC.0101");
    }

    [Fact]
    public async Task Vpc_list_pages_with_limit_and_marker_and_ends_with_an_empty_page()
    {
        var client = Service.Client(TestAccounts.Bob, AuthMode.AkSk);
        for (var i = 0; i < 3; i++) await VpcApi.CreateVpcAsync(client);
        var all = (await client.GetAsync($"/v1/{client.ProjectId}/vpcs")).Expect(200)["vpcs"].AsArray()
            .Select(v => (string)v!["id"]!).ToList();
        Assert.True(all.Count >= 3);

        var seen = new List<string>();
        string? marker = null;
        for (var pages = 0; pages < 100; pages++)
        {
            var page = (await client.GetAsync($"/v1/{client.ProjectId}/vpcs?limit=2" + (marker is null ? "" : $"&marker={marker}")))
                .Expect(200)["vpcs"].AsArray();
            if (page.Count == 0) break;
            Assert.True(page.Count <= 2);
            seen.AddRange(page.Select(v => (string)v!["id"]!));
            marker = seen[^1];
        }
        Assert.Equal(all, seen);
    }

    [Fact]
    public async Task Another_tenant_cannot_see_change_delete_or_build_on_a_vpc()
    {
        var alice = Service.Client(TestAccounts.Alice);
        var bob = Service.Client(TestAccounts.Bob);
        var vpc = await VpcApi.CreateVpcAsync(alice);
        var id = (string)vpc["id"]!;
        var bobPid = bob.ProjectId;

        (await bob.GetAsync($"/v1/{bobPid}/vpcs/{id}")).ExpectV1Error(404, "VPC.0003");
        (await bob.GetAsync($"/v3/{bobPid}/vpc/vpcs/{id}")).ExpectV3Error(404, "VPC.0003");
        Assert.DoesNotContain((await bob.GetAsync($"/v1/{bobPid}/vpcs")).Expect(200)["vpcs"].AsArray(), v => (string?)v!["id"] == id);
        Assert.Empty((await bob.GetAsync($"/v1/{bobPid}/vpcs?id={id}")).Expect(200)["vpcs"].AsArray());
        (await bob.PutAsync($"/v1/{bobPid}/vpcs/{id}", new { vpc = new { name = "stolen" } })).ExpectV1Error(404, "VPC.0003");
        (await bob.DeleteAsync($"/v1/{bobPid}/vpcs/{id}")).ExpectV1Error(404, "VPC.0003");
        (await bob.PostAsync($"/v1/{bobPid}/subnets", new
        {
            subnet = new { name = "s", cidr = "192.168.1.0/24", gateway_ip = "192.168.1.1", vpc_id = id, dhcp_enable = true },
        })).ExpectV1Error(404, "VPC.0003");

        // Bob's credentials on Alice's project path are refused before any look-up.
        var crossed = await bob.GetAsync($"/v1/{alice.ProjectId}/vpcs/{id}");
        crossed.ExpectV1Error(403, "VPC.2701");

        var still = (await alice.GetAsync($"/v1/{alice.ProjectId}/vpcs/{id}")).Expect(200)["vpc"];
        Assert.Equal((string?)vpc["name"], (string?)still["name"]);
    }

    [Fact]
    public async Task Vpc_without_a_range_can_be_created_and_takes_private_subnets()
    {
        var client = Service.Client(TestAccounts.Alice);
        var vpc = (await client.PostAsync($"/v1/{client.ProjectId}/vpcs", new { vpc = new { name = VpcApi.UniqueName("open") } }))
            .Expect(200)["vpc"];
        Assert.Equal("", (string?)vpc["cidr"]);
        var subnet = await VpcApi.CreateSubnetAsync(client, (string)vpc["id"]!, "10.1.2.0/24", "10.1.2.1");
        Assert.Equal("10.1.2.0/24", (string?)subnet["cidr"]);
    }
}
