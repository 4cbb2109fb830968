using System.Text.Json.Nodes;
using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;
using Ims.Tests.Vpc;

namespace Ims.Tests.Changes;

/// <summary>The calls terraform's huaweicloud_compute_instance update makes, against servers created here.</summary>
public sealed class ServerChangeTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;
    private ApiClient Alice => Service.Client(TestAccounts.Alice);

    [Fact]
    public async Task Rename_and_description_change_answer_the_server_and_show_on_the_next_read()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var pid = Alice.ProjectId;
        var name = Servers.UniqueName("renamed");
        var updated = (await Alice.PutAsync($"/v1/{pid}/cloudservers/{server.Id}",
            new { server = new { name, description = "web tier" } })).Expect(200)["server"];
        Assert.Equal(name, (string?)updated["name"]);
        Assert.Equal("web tier", (string?)updated["description"]);

        var read = await Servers.GetServerAsync(Alice, server.Id);
        Assert.Equal(name, (string?)read["name"]);
        Assert.Equal("web tier", (string?)read["description"]);
        // terraform sends the description always, even empty: it clears it, and an absent name stays.
        (await Alice.PutAsync($"/v1/{pid}/cloudservers/{server.Id}", new { server = new { description = "" } })).Expect(200);
        read = await Servers.GetServerAsync(Alice, server.Id);
        Assert.Equal(name, (string?)read["name"]);
        Assert.Equal("", (string?)read["description"]);
    }

    [Fact]
    public async Task Rename_refusals_have_ECS_codes()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var pid = Alice.ProjectId;
        (await Alice.PutAsync($"/v1/{pid}/cloudservers/{server.Id}", new { server = new { name = "bad name!" } })).ExpectError(400, "Ecs.0005");
        (await Alice.PutAsync($"/v1/{pid}/cloudservers/{server.Id}", new { server = new { description = new string('d', 86) } }))
            .ExpectError(400, "Ecs.0005");
        (await Alice.PutAsync($"/v1/{pid}/cloudservers/{server.Id}", new { name = "x" })).ExpectError(400, "Ecs.0005");
        (await Alice.PutAsync($"/v1/{pid}/cloudservers/{Guid.NewGuid()}", new { server = new { name = "x" } })).ExpectError(404, "Ecs.0114");
        Assert.Equal(server.Name, (string?)(await Servers.GetServerAsync(Alice, server.Id))["name"]);
    }

    [Fact]
    public async Task A_metadata_key_is_deleted_and_an_unknown_or_reserved_one_is_refused()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var pid = Alice.ProjectId;
        (await Alice.PostAsync($"/v1/{pid}/cloudservers/{server.Id}/metadata",
            new { metadata = new Dictionary<string, string> { ["team"] = "ims", ["tier"] = "web" } })).Expect(200);

        (await Alice.DeleteAsync($"/v1/{pid}/cloudservers/{server.Id}/metadata/team")).Expect(204);
        var metadata = (await Servers.GetServerAsync(Alice, server.Id))["metadata"]!.AsObject();
        Assert.False(metadata.ContainsKey("team"));
        Assert.Equal("web", (string?)metadata["tier"]);

        (await Alice.DeleteAsync($"/v1/{pid}/cloudservers/{server.Id}/metadata/team")).ExpectError(404, "Ecs.0005");
        (await Alice.DeleteAsync($"/v1/{pid}/cloudservers/{server.Id}/metadata/image_name")).ExpectError(400, "Ecs.0005");
        (await Alice.DeleteAsync($"/v1/{pid}/cloudservers/{Guid.NewGuid()}/metadata/tier")).ExpectError(404, "Ecs.0114");
        Assert.Equal("web", (string?)(await Servers.GetServerAsync(Alice, server.Id))["metadata"]!["tier"]);
    }

    [Fact]
    public async Task Tags_are_replaced_as_terraform_does_delete_old_then_create_new()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var pid = Alice.ProjectId;
        var path = $"/v1/{pid}/cloudservers/{server.Id}/tags";
        (await Alice.PostAsync($"{path}/action", new { action = "create", tags = new[] { new { key = "env", value = "dev" }, new { key = "team", value = "ims" } } }))
            .Expect(204);
        Assert.Equal(["env=dev", "team=ims"], Tags(await Servers.GetServerAsync(Alice, server.Id)));

        (await Alice.PostAsync($"{path}/action", new { action = "delete", tags = new[] { new { key = "env", value = "dev" }, new { key = "team", value = "ims" } } }))
            .Expect(204);
        (await Alice.PostAsync($"{path}/action", new { action = "create", tags = new[] { new { key = "env", value = "prod" } } })).Expect(204);

        var listed = (await Alice.GetAsync(path)).Expect(200)["tags"].AsArray();
        var only = Assert.Single(listed);
        Assert.Equal("env", (string?)only!["key"]);
        Assert.Equal("prod", (string?)only["value"]);
        Assert.Equal(["env=prod"], Tags(await Servers.GetServerAsync(Alice, server.Id)));
    }

    [Fact]
    public async Task Tag_refusals_have_ECS_codes_and_change_nothing()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var path = $"/v1/{Alice.ProjectId}/cloudservers/{server.Id}/tags";
        (await Alice.PostAsync($"{path}/action", new { action = "update", tags = new[] { new { key = "a", value = "b" } } })).ExpectError(400, "Ecs.0005");
        (await Alice.PostAsync($"{path}/action", new { action = "create", tags = Array.Empty<object>() })).ExpectError(400, "Ecs.0005");
        (await Alice.PostAsync($"{path}/action", new { action = "create", tags = new[] { new { key = "", value = "b" } } })).ExpectError(400, "Ecs.0005");
        (await Alice.PostAsync($"{path}/action", new { action = "create", tags = new[] { new { key = "k", value = new string('v', 44) } } }))
            .ExpectError(400, "Ecs.0005");
        var tooMany = Enumerable.Range(0, 21).Select(i => new { key = $"k{i}", value = "v" }).ToArray();
        (await Alice.PostAsync($"{path}/action", new { action = "create", tags = tooMany })).ExpectError(400, "Ecs.0005");
        (await Alice.PostAsync($"/v1/{Alice.ProjectId}/cloudservers/{Guid.NewGuid()}/tags/action",
            new { action = "create", tags = new[] { new { key = "a", value = "b" } } })).ExpectError(404, "Ecs.0114");
        (await Alice.GetAsync($"/v1/{Alice.ProjectId}/cloudservers/{Guid.NewGuid()}/tags")).ExpectError(404, "Ecs.0114");
        Assert.Empty((await Alice.GetAsync(path)).Expect(200)["tags"].AsArray());
    }

    [Theory]
    [InlineData("v1")]
    [InlineData("v1.1")]
    public async Task Resize_is_a_job_that_changes_the_flavor_and_keeps_the_power_state(string version)
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var pid = Alice.ProjectId;
        var accepted = (await Alice.PostAsync($"/{version}/{pid}/cloudservers/{server.Id}/resize",
            new { resize = new { flavorRef = "s6.xlarge.2", mode = "withStopServer", extendparam = new { isAutoPay = "true" } } })).Expect(200);
        var job = await Alice.WaitForJobSuccessAsync((string)accepted["job_id"]!);
        Assert.Equal("resizeServer", (string?)job["job_type"]);
        Assert.Equal(server.Id, (string?)job["entities"]!["sub_jobs"]![0]!["entities"]!["server_id"]);

        var read = await Servers.GetServerAsync(Alice, server.Id);
        Assert.Equal("s6.xlarge.2", (string?)read["flavor"]!["id"]);
        Assert.Equal("4", (string?)read["flavor"]!["vcpus"]);
        Assert.Equal("ACTIVE", (string?)read["status"]);
        Assert.Null(await TestServers.TaskStateAsync(Alice, server.Id));

        await Servers.PowerAsync(Alice, "os-stop", server.Id);
        accepted = (await Alice.PostAsync($"/{version}/{pid}/cloudservers/{server.Id}/resize", new { resize = new { flavorRef = "s6.large.2" } })).Expect(200);
        await Alice.WaitForJobSuccessAsync((string)accepted["job_id"]!);
        read = await Servers.GetServerAsync(Alice, server.Id);
        Assert.Equal("s6.large.2", (string?)read["flavor"]!["id"]);
        Assert.Equal("SHUTOFF", (string?)read["status"]);
    }

    [Fact]
    public async Task Resize_refusals_have_ECS_codes()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var path = $"/v1.1/{Alice.ProjectId}/cloudservers/{server.Id}/resize";
        (await Alice.PostAsync(path, new { resize = new { flavorRef = "no.such.flavor" } })).ExpectError(400, "Ecs.0005");
        (await Alice.PostAsync(path, new { resize = new { flavorRef = Servers.Flavor } })).ExpectError(400, "Ecs.0005");
        (await Alice.PostAsync(path, new { resize = new { flavorRef = "s6.xlarge.2", mode = "live" } })).ExpectError(400, "Ecs.0005");
        (await Alice.PostAsync(path, new { resize = new { } })).ExpectError(400, "Ecs.0005");
        (await Alice.PostAsync($"/v1.1/{Alice.ProjectId}/cloudservers/{Guid.NewGuid()}/resize", new { resize = new { flavorRef = "s6.xlarge.2" } }))
            .ExpectError(404, "Ecs.0114");
        await TestServers.ForceAsync(Service, server.Id, taskState: "rebooting");
        (await Alice.PostAsync(path, new { resize = new { flavorRef = "s6.xlarge.2" } })).ExpectError(409, "Ecs.0100");
        await TestServers.ForceAsync(Service, server.Id, status: "ERROR");
        Assert.Equal(Servers.Flavor, (string?)(await Servers.GetServerAsync(Alice, server.Id))["flavor"]!["id"]);
    }

    [Fact]
    public async Task Primary_NIC_security_groups_change_through_the_port_as_terraform_does()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var pid = Alice.ProjectId;
        var read = await Servers.GetServerAsync(Alice, server.Id);
        var vpcId = (string)read["metadata"]!["vpc_id"]!;
        var primaryPort = read["addresses"]![vpcId]!.AsArray().Single(a => (bool)a!["primary"]!)!["OS-EXT-IPS:port_id"]!.GetValue<string>();
        var extra = (string)(await Alice.PostAsync($"/v3/{pid}/vpc/security-groups", new { security_group = new { name = Servers.UniqueName("sg") } }))
            .Expect(201)["security_group"]["id"]!;

        var port = (await Alice.PutAsync($"/v1/{pid}/ports/{primaryPort}", new { port = new { security_groups = new[] { extra } } })).Expect(200)["port"];
        Assert.Equal([extra], port["security_groups"]!.AsArray().Select(g => (string)g!).ToArray());
        var listed = (await Alice.GetAsync($"/v1/{pid}/ports?device_id={server.Id}")).Expect(200)["ports"].AsArray();
        Assert.Equal([extra], listed.Single(p => (string?)p!["id"] == primaryPort)!["security_groups"]!.AsArray().Select(g => (string)g!).ToArray());
        Assert.Equal([extra], (await Servers.GetServerAsync(Alice, server.Id))["security_groups"]!.AsArray().Select(g => (string)g!["id"]!).ToArray());

        // source_dest_check = false is the pair 1.1.1.1/0; true clears the pairs.
        port = (await Alice.PutAsync($"/v1/{pid}/ports/{primaryPort}", new { port = new { allowed_address_pairs = new[] { new { ip_address = "1.1.1.1/0" } } } }))
            .Expect(200)["port"];
        Assert.Equal("1.1.1.1/0", (string?)port["allowed_address_pairs"]![0]!["ip_address"]);
        port = (await Alice.PutAsync($"/v1/{pid}/ports/{primaryPort}", new { port = new { allowed_address_pairs = Array.Empty<object>() } })).Expect(200)["port"];
        Assert.Empty(port["allowed_address_pairs"]!.AsArray());
        Assert.Equal([extra], port["security_groups"]!.AsArray().Select(g => (string)g!).ToArray());

        (await Alice.PutAsync($"/v1/{pid}/ports/{primaryPort}", new { port = new { security_groups = new[] { Guid.NewGuid().ToString() } } }))
            .ExpectV1Error(404, "VPC.0602");
        (await Alice.PutAsync($"/v1/{pid}/ports/{primaryPort}", new { port = new { security_groups = Array.Empty<string>() } })).ExpectV1Error(400, "VPC.0101");
        (await Alice.PutAsync($"/v1/{pid}/ports/{primaryPort}", new { port = new { allowed_address_pairs = new[] { new { ip_address = "nope" } } } }))
            .ExpectV1Error(400, "VPC.0101");
        (await Alice.PutAsync($"/v1/{pid}/ports/{Guid.NewGuid()}", new { port = new { security_groups = new[] { extra } } })).ExpectV1Error(404, "VPC.0704");
        Assert.Equal([extra], (await Servers.GetServerAsync(Alice, server.Id))["security_groups"]!.AsArray().Select(g => (string)g!["id"]!).ToArray());
    }

    private static string[] Tags(JsonNode server) => [.. server["tags"]!.AsArray().Select(t => (string)t!).Order(StringComparer.Ordinal)];
}
