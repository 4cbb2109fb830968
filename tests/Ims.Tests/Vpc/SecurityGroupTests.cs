using System.Text.Json;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Vpc;

public sealed class SecurityGroupTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task Security_group_goes_through_terraforms_create_read_update_delete(AuthMode mode)
    {
        var client = Service.Client(TestAccounts.Alice, mode);
        var pid = client.ProjectId;
        var name = VpcApi.UniqueName("sg");

        var created = (await client.PostAsync($"/v3/{pid}/vpc/security-groups",
            new { security_group = new { name, enterprise_project_id = "0" } })).Expect(201);
        Assert.Equal(created.Headers.GetValues("X-Request-Id").Single(), (string?)created["request_id"]);
        var group = created["security_group"];
        var id = (string)group["id"]!;
        Assert.Equal(name, (string?)group["name"]);
        Assert.Equal(pid, (string?)group["project_id"]);
        var rules = group["security_group_rules"]!.AsArray();
        Assert.Equal(4, rules.Count);
        Assert.Equal(2, rules.Count(r => (string?)r!["direction"] == "egress"));
        Assert.All(rules.Where(r => (string?)r!["direction"] == "ingress"), r => Assert.Equal(id, (string?)r!["remote_group_id"]));

        // The description goes in through the v3 update, as the provider sends it after create.
        var updated = (await client.PutAsync($"/v3/{pid}/vpc/security-groups/{id}",
            new { security_group = new { description = "web tier" } })).Expect(200)["security_group"];
        Assert.Equal("web tier", (string?)updated["description"]);
        Assert.Equal(name, (string?)updated["name"]);

        // delete_default_rules: each default rule through the v3 rule API.
        foreach (var rule in rules) (await client.DeleteAsync($"/v3/{pid}/vpc/security-group-rules/{rule!["id"]}")).Expect(204);
        (await client.DeleteAsync($"/v3/{pid}/vpc/security-group-rules/{rules[0]!["id"]}")).ExpectV3Error(404, "VPC.0602");

        var v1 = (await client.GetAsync($"/v1/{pid}/security-groups/{id}")).Expect(200)["security_group"];
        Assert.Equal("web tier", (string?)v1["description"]);
        Assert.Equal("0", (string?)v1["enterprise_project_id"]);
        Assert.Empty(v1["security_group_rules"]!.AsArray());
        var v3 = (await client.GetAsync($"/v3/{pid}/vpc/security-groups/{id}")).Expect(200)["security_group"];
        Assert.Empty(v3["security_group_rules"]!.AsArray());

        (await client.DeleteAsync($"/v1/{pid}/security-groups/{id}")).Expect(204);
        (await client.GetAsync($"/v1/{pid}/security-groups/{id}")).ExpectV1Error(404, "VPC.0602");
        (await client.GetAsync($"/v3/{pid}/vpc/security-groups/{id}")).ExpectV3Error(404, "VPC.0602");
        (await client.DeleteAsync($"/v1/{pid}/security-groups/{id}")).ExpectV1Error(404, "VPC.0602");
    }

    [Fact]
    public async Task Security_group_fields_have_the_json_types_the_clients_decode()
    {
        var client = Service.Client(TestAccounts.Alice);
        var group = await VpcApi.CreateSecurityGroupAsync(client);
        VpcApi.AssertWireTime(group, "created_at");
        VpcApi.AssertWireTime(group, "updated_at");
        foreach (var field in new[] { "id", "name", "description", "project_id", "enterprise_project_id" })
            VpcApi.AssertString(group, field);
        foreach (var rule in group["security_group_rules"]!.AsArray())
        {
            Assert.Equal(JsonValueKind.Number, rule!["priority"]!.GetValueKind());
            foreach (var field in new[] { "id", "description", "security_group_id", "direction", "protocol", "ethertype", "action",
                         "remote_group_id", "remote_ip_prefix", "remote_address_group_id", "project_id" })
                VpcApi.AssertString(rule, field);
            VpcApi.AssertWireTime(rule, "created_at");
        }

        var v1 = (await client.GetAsync($"/v1/{client.ProjectId}/security-groups/{group["id"]}")).Expect(200)["security_group"];
        foreach (var rule in v1["security_group_rules"]!.AsArray())
        {
            Assert.True(rule!.AsObject().ContainsKey("port_range_min") && rule["port_range_min"] is null, rule.ToJsonString());
            VpcApi.AssertString(rule, "direction");
            VpcApi.AssertString(rule, "ethertype");
        }
    }

    [Fact]
    public async Task Security_group_in_use_by_a_port_cannot_be_deleted_through_either_version()
    {
        var client = Service.Client(TestAccounts.Alice);
        var pid = client.ProjectId;
        var group = await VpcApi.CreateSecurityGroupAsync(client);
        var vpc = await VpcApi.CreateVpcAsync(client);
        var subnet = await VpcApi.CreateSubnetAsync(client, (string)vpc["id"]!);
        var port = await VpcApi.InsertPortAsync(Service, pid, (string)subnet["id"]!, Guid.NewGuid().ToString(), "192.168.1.30",
            (string)group["id"]!);

        (await client.DeleteAsync($"/v1/{pid}/security-groups/{group["id"]}")).ExpectV1Error(409, "VPC.0602");
        (await client.DeleteAsync($"/v3/{pid}/vpc/security-groups/{group["id"]}")).ExpectV3Error(409, "VPC.0602");

        await VpcApi.DeletePortAsync(Service, port);
        (await client.DeleteAsync($"/v3/{pid}/vpc/security-groups/{group["id"]}")).Expect(204);
        (await client.GetAsync($"/v3/{pid}/vpc/security-groups/{group["id"]}")).ExpectV3Error(404, "VPC.0602");
    }

    [Fact]
    public async Task Security_group_v1_create_is_the_fallback_and_answers_200()
    {
        var client = Service.Client(TestAccounts.Alice, AuthMode.AkSk);
        var created = (await client.PostAsync($"/v1/{client.ProjectId}/security-groups",
            new { security_group = new { name = VpcApi.UniqueName("sg1") } })).Expect(200)["security_group"];
        var rules = created["security_group_rules"]!.AsArray();
        Assert.Equal(4, rules.Count);
        (await client.DeleteAsync($"/v1/{client.ProjectId}/security-group-rules/{rules[0]!["id"]}")).Expect(204);
        var shown = (await client.GetAsync($"/v1/{client.ProjectId}/security-groups/{created["id"]}")).Expect(200);
        Assert.Equal(3, shown["security_group"]["security_group_rules"]!.AsArray().Count);
    }

    [Fact]
    public async Task Security_groups_are_listed_by_name_through_v3()
    {
        var client = Service.Client(TestAccounts.Alice);
        var group = await VpcApi.CreateSecurityGroupAsync(client);
        var listed = (await client.GetAsync($"/v3/{client.ProjectId}/vpc/security-groups?name={group["name"]}")).Expect(200);
        Assert.Equal([(string)group["id"]!], listed["security_groups"].AsArray().Select(g => (string)g!["id"]!));
    }

    [Fact]
    public async Task Dry_run_creates_nothing()
    {
        var client = Service.Client(TestAccounts.Alice);
        var name = VpcApi.UniqueName("dry");
        (await client.PostAsync($"/v3/{client.ProjectId}/vpc/security-groups", new { dry_run = true, security_group = new { name } }))
            .Expect(202);
        var listed = (await client.GetAsync($"/v3/{client.ProjectId}/vpc/security-groups?name={name}")).Expect(200);
        Assert.Empty(listed["security_groups"].AsArray());
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("{}")]
    [InlineData("""{"security_group":{}}""")]
    [InlineData("""{"security_group":{"name":7}}""")]
    [InlineData("""{"security_group":{"name":""}}""")]
    [InlineData("""{"security_group":{"name":"has space"}}""")]
    [InlineData("""{"security_group":{"name":"ok","description":"<script>"}}""")]
    [InlineData("""{"security_group":{"name":"ok","enterprise_project_id":"x"}}""")]
    [InlineData("""{"security_group":{"name":"ok"},"dry_run":"yes"}""")]
    public async Task Malformed_security_group_create_gets_400_in_each_versions_shape(string body)
    {
        var client = Service.Client(TestAccounts.Alice);
        (await client.PostAsync($"/v3/{client.ProjectId}/vpc/security-groups", body)).ExpectV3Error(400, "VPC.0606");
        (await client.PostAsync($"/v1/{client.ProjectId}/security-groups", body)).ExpectV1Error(400, "VPC.0606");
    }

    [Fact]
    public async Task Another_tenant_cannot_see_change_or_delete_a_security_group_or_its_rules()
    {
        var alice = Service.Client(TestAccounts.Alice);
        var bob = Service.Client(TestAccounts.Bob);
        var group = await VpcApi.CreateSecurityGroupAsync(alice);
        var id = (string)group["id"]!;
        var rule = (string)group["security_group_rules"]![0]!["id"]!;
        var bobPid = bob.ProjectId;

        (await bob.GetAsync($"/v3/{bobPid}/vpc/security-groups/{id}")).ExpectV3Error(404, "VPC.0602");
        (await bob.GetAsync($"/v1/{bobPid}/security-groups/{id}")).ExpectV1Error(404, "VPC.0602");
        Assert.Empty((await bob.GetAsync($"/v3/{bobPid}/vpc/security-groups?id={id}")).Expect(200)["security_groups"].AsArray());
        (await bob.PutAsync($"/v3/{bobPid}/vpc/security-groups/{id}", new { security_group = new { name = "x" } })).ExpectV3Error(404, "VPC.0602");
        (await bob.DeleteAsync($"/v3/{bobPid}/vpc/security-group-rules/{rule}")).ExpectV3Error(404, "VPC.0602");
        (await bob.DeleteAsync($"/v1/{bobPid}/security-groups/{id}")).ExpectV1Error(404, "VPC.0602");
        (await bob.DeleteAsync($"/v3/{bobPid}/vpc/security-groups/{id}")).ExpectV3Error(404, "VPC.0602");

        var still = (await alice.GetAsync($"/v3/{alice.ProjectId}/vpc/security-groups/{id}")).Expect(200)["security_group"];
        Assert.Equal(4, still["security_group_rules"]!.AsArray().Count);
    }
}
