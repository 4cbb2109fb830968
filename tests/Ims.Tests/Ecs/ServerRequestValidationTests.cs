using System.Text.Json.Nodes;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ecs;

/// <summary>Bad input for every ECS endpoint gets a 400 (or 404) in ECS's own error shape, and changes nothing.</summary>
public sealed class ServerRequestValidationTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>, IAsyncLifetime
{
    private TestService Service => fixture.Service;
    private ApiClient Client => Service.Client(TestAccounts.Alice);
    private string Pid => TestAccounts.Alice.ProjectId;
    private TestNetwork _network = null!;

    public async Task InitializeAsync() => _network = await Servers.CreateNetworkAsync(Client);

    public Task DisposeAsync() => Task.CompletedTask;

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData("""{"server":null}""")]
    [InlineData("""{"server":"x"}""")]
    public async Task Malformed_create_bodies_are_400(string body) =>
        (await Client.PostAsync($"/v1.1/{Pid}/cloudservers", body)).ExpectError(400, "Ecs.0005");

    [Theory]
    [InlineData("data size as a string")]
    [InlineData("root size as a string")]
    [InlineData("count as a string")]
    [InlineData("metadata value as a number")]
    [InlineData("no name")]
    [InlineData("bad name")]
    [InlineData("long description")]
    [InlineData("no imageRef")]
    [InlineData("imageRef not a uuid")]
    [InlineData("unknown image")]
    [InlineData("no flavorRef")]
    [InlineData("unknown flavor")]
    [InlineData("no vpcid")]
    [InlineData("unknown vpc")]
    [InlineData("no nics")]
    [InlineData("empty nics")]
    [InlineData("nic without subnet")]
    [InlineData("unknown subnet")]
    [InlineData("bad ip_address")]
    [InlineData("ipv6")]
    [InlineData("unknown security group")]
    [InlineData("unknown zone")]
    [InlineData("no root_volume")]
    [InlineData("unknown root volume type")]
    [InlineData("system disk below the image minimum")]
    [InlineData("system disk too large")]
    [InlineData("unknown data volume type")]
    [InlineData("data disk too small")]
    [InlineData("data disk without size")]
    [InlineData("user_data not base64")]
    [InlineData("count zero")]
    [InlineData("count too large")]
    [InlineData("fixed ip with count")]
    [InlineData("publicip")]
    [InlineData("prePaid")]
    [InlineData("san_policy on linux")]
    [InlineData("reserved metadata key")]
    [InlineData("server tag without key")]
    public async Task Invalid_create_requests_are_400_and_create_nothing(string problem)
    {
        var body = Servers.ServerBody(_network, name: Servers.UniqueName("bad"));
        var server = body["server"]!.AsObject();
        var name = (string)server["name"]!;
        switch (problem)
        {
            case "data size as a string": server["data_volumes"] = Parse("""[{"volumetype":"SAS","size":"10"}]"""); break;
            case "root size as a string": server["root_volume"] = Parse("""{"volumetype":"SAS","size":"40"}"""); break;
            case "count as a string": server["count"] = "2"; break;
            case "metadata value as a number": server["metadata"] = Parse("""{"a":1}"""); break;
            case "no name": server.Remove("name"); break;
            case "bad name": server["name"] = "no spaces allowed"; break;
            case "long description": server["description"] = new string('d', 86); break;
            case "no imageRef": server.Remove("imageRef"); break;
            case "imageRef not a uuid": server["imageRef"] = "ubuntu"; break;
            case "unknown image": server["imageRef"] = Guid.NewGuid().ToString(); break;
            case "no flavorRef": server.Remove("flavorRef"); break;
            case "unknown flavor": server["flavorRef"] = "s6.huge.99"; break;
            case "no vpcid": server.Remove("vpcid"); break;
            case "unknown vpc": server["vpcid"] = Guid.NewGuid().ToString(); break;
            case "no nics": server.Remove("nics"); break;
            case "empty nics": server["nics"] = new JsonArray(); break;
            case "nic without subnet": server["nics"] = Parse("""[{"ip_address":"192.168.1.9"}]"""); break;
            case "unknown subnet": server["nics"]![0]!["subnet_id"] = Guid.NewGuid().ToString(); break;
            case "bad ip_address": server["nics"]![0]!["ip_address"] = "192.168.1"; break;
            case "ipv6": server["nics"]![0]!["ipv6_enable"] = true; break;
            case "unknown security group": server["security_groups"]![0]!["id"] = Guid.NewGuid().ToString(); break;
            case "unknown zone": server["availability_zone"] = "cn-north-4z"; break;
            case "no root_volume": server.Remove("root_volume"); break;
            case "unknown root volume type": server["root_volume"]!["volumetype"] = "NVME"; break;
            case "system disk below the image minimum": server["root_volume"]!["size"] = 20; break;
            case "system disk too large": server["root_volume"]!["size"] = 2048; break;
            case "unknown data volume type": server["data_volumes"] = Parse("""[{"volumetype":"TAPE","size":10}]"""); break;
            case "data disk too small": server["data_volumes"] = Parse("""[{"volumetype":"SAS","size":5}]"""); break;
            case "data disk without size": server["data_volumes"] = Parse("""[{"volumetype":"SAS"}]"""); break;
            case "user_data not base64": server["user_data"] = "#!/bin/sh"; break;
            case "count zero": server["count"] = 0; break;
            case "count too large": server["count"] = 101; break;
            case "fixed ip with count": server["count"] = 2; server["nics"]![0]!["ip_address"] = "192.168.1.50"; break;
            case "publicip": server["publicip"] = Parse("""{"eip":{"iptype":"5_bgp","bandwidth":{"size":5,"sharetype":"PER"}}}"""); break;
            case "prePaid": server["extendparam"] = Parse("""{"chargingMode":"prePaid","periodType":"month","periodNum":1}"""); break;
            case "san_policy on linux": server["metadata"] = Parse("""{"san_policy":"OnlineAll"}"""); break;
            case "reserved metadata key": server["metadata"] = Parse("""{"vpc_id":"x"}"""); break;
            case "server tag without key": server["server_tags"] = Parse("""[{"value":"v"}]"""); break;
            default: throw new ArgumentOutOfRangeException(nameof(problem));
        }
        (await Client.PostAsync($"/v1.1/{Pid}/cloudservers", body.ToJsonString())).ExpectError(400, "Ecs.0005");
        Assert.Equal(0, (int)(await Client.GetAsync($"/v1/{Pid}/cloudservers/detail?name={name}")).Expect(200)["count"]);
    }

    [Fact]
    public async Task A_subnet_of_another_vpc_is_refused()
    {
        var other = await Servers.CreateNetworkAsync(Client, "172.16.0.0/16", "172.16.1.0/24", "172.16.1.1");
        var body = Servers.ServerBody(_network);
        body["server"]!["nics"]![0]!["subnet_id"] = other.SubnetId;
        (await Client.PostAsync($"/v1.1/{Pid}/cloudservers", body.ToJsonString())).ExpectError(400, "Ecs.0005");
    }

    [Theory]
    [InlineData("{")]
    [InlineData("{}")]
    [InlineData("""{"os-stop":{"servers":[]}}""")]
    [InlineData("""{"os-stop":{"servers":"all"}}""")]
    [InlineData("""{"os-stop":{"servers":[{}]}}""")]
    [InlineData("""{"os-stop":{"servers":[{"id":"x"}],"type":"GENTLE"}}""")]
    [InlineData("""{"os-stop":{"servers":[{"id":"x"}]},"os-start":{"servers":[{"id":"x"}]}}""")]
    [InlineData("""{"reboot":{"servers":[{"id":1}]}}""")]
    public async Task Malformed_actions_are_400(string body) =>
        (await Client.PostAsync($"/v1/{Pid}/cloudservers/action", body)).ExpectError(400, "Ecs.0005");

    [Theory]
    [InlineData("os-stop")]
    [InlineData("os-start")]
    [InlineData("reboot")]
    public async Task Actions_on_an_unknown_server_are_404(string action) =>
        (await Client.PostAsync($"/v1/{Pid}/cloudservers/action", $$$"""{"{{{action}}}":{"servers":[{"id":"{{{Guid.NewGuid()}}}"}]}}"""))
            .ExpectError(404, "Ecs.0114");

    [Theory]
    [InlineData("{")]
    [InlineData("{}")]
    [InlineData("""{"servers":[]}""")]
    [InlineData("""{"servers":[{"id":""}]}""")]
    [InlineData("""{"servers":[{"id":"x"}],"delete_volume":"yes"}""")]
    public async Task Malformed_deletes_are_400(string body) =>
        (await Client.PostAsync($"/v1/{Pid}/cloudservers/delete", body)).ExpectError(400, "Ecs.0005");

    [Fact]
    public async Task Unknown_servers_are_404_everywhere()
    {
        var id = Guid.NewGuid().ToString();
        (await Client.GetAsync($"/v1/{Pid}/cloudservers/{id}")).ExpectError(404, "Ecs.0114");
        (await Client.PostAsync($"/v1/{Pid}/cloudservers/delete", new { servers = new[] { new { id } } })).ExpectError(404, "Ecs.0114");
        (await Client.GetAsync($"/v1/{Pid}/cloudservers/{id}/block_device")).ExpectError(404, "Ecs.0114");
        (await Client.GetAsync($"/v1/{Pid}/cloudservers/{id}/block_device/{Guid.NewGuid()}")).ExpectError(404, "Ecs.0114");
        (await Client.PostAsync($"/v1/{Pid}/cloudservers/{id}/attachvolume", new { volumeAttachment = new { volumeId = Guid.NewGuid() } }))
            .ExpectError(404, "Ecs.0114");
        (await Client.DeleteAsync($"/v1/{Pid}/cloudservers/{id}/detachvolume/{Guid.NewGuid()}")).ExpectError(404, "Ecs.0114");
        (await Client.PostAsync($"/v1/{Pid}/cloudservers/{id}/metadata", new { metadata = new { a = "b" } })).ExpectError(404, "Ecs.0114");
    }

    [Theory]
    [InlineData("limit=abc")]
    [InlineData("limit=0")]
    [InlineData("limit=1001")]
    [InlineData("offset=-1")]
    public async Task Bad_list_paging_is_400(string query) =>
        (await Client.GetAsync($"/v1/{Pid}/cloudservers/detail?{query}")).ExpectError(400, "Ecs.0005");

    [Fact]
    public async Task Disk_requests_are_checked()
    {
        var serverId = await Servers.CreateServerAsync(Client, _network, [(10, "SAS")]);
        var attach = $"/v1/{Pid}/cloudservers/{serverId}/attachvolume";
        (await Client.PostAsync(attach, "{")).ExpectError(400, "Ecs.0005");
        (await Client.PostAsync(attach, "{}")).ExpectError(400, "Ecs.0005");
        (await Client.PostAsync(attach, new { volumeAttachment = new { device = "/dev/vdc" } })).ExpectError(400, "Ecs.0005");
        (await Client.PostAsync(attach, new { volumeAttachment = new { volumeId = Guid.NewGuid() } })).ExpectError(400, "Ecs.0005");

        var volumeId = await Servers.CreateVolumeAsync(Client);
        (await Client.PostAsync(attach, new { volumeAttachment = new { volumeId, device = "/dev/hda" } })).ExpectError(400, "Ecs.0005");
        (await Client.PostAsync(attach, new { volumeAttachment = new { volumeId, device = "/dev/vda" } })).ExpectError(400, "Ecs.0005");
        (await Client.PostAsync(attach, new { volumeAttachment = new { volumeId, device = "/dev/vdb" } })).ExpectError(400, "Ecs.0005");
        var elsewhere = await Servers.CreateVolumeAsync(Client, zone: "cn-north-4b");
        (await Client.PostAsync(attach, new { volumeAttachment = new { volumeId = elsewhere } })).ExpectError(400, "Ecs.0005");

        // A device may be chosen; sd names map to vd as on KVM.
        var accepted = (await Client.PostAsync(attach, new { volumeAttachment = new { volumeId, device = "/dev/sdf" } })).Expect(200);
        await Client.WaitForJobSuccessAsync((string)accepted["job_id"]!);
        var device = (await Client.GetAsync($"/v1/{Pid}/cloudservers/{serverId}/block_device/{volumeId}")).Expect(200)["volumeAttachment"];
        Assert.Equal("/dev/vdf", (string?)device["device"]);

        var detach = $"/v1/{Pid}/cloudservers/{serverId}/detachvolume";
        (await Client.DeleteAsync($"{detach}/{elsewhere}")).ExpectError(400, "Ecs.0005");
        (await Client.DeleteAsync($"{detach}/{volumeId}?delete_flag=2")).ExpectError(400, "Ecs.0005");
        (await Client.GetAsync($"/v1/{Pid}/cloudservers/{serverId}/block_device/{elsewhere}")).ExpectError(404, "Ecs.0114");
    }

    [Theory]
    [InlineData("{")]
    [InlineData("{}")]
    [InlineData("""{"metadata":"x"}""")]
    [InlineData("""{"metadata":{"a":1}}""")]
    [InlineData("""{"metadata":{"charging_mode":"1"}}""")]
    [InlineData("""{"metadata":{"san_policy":"OnlineAll"}}""")]
    public async Task Bad_metadata_updates_are_400(string body)
    {
        var serverId = await Servers.CreateServerAsync(Client, _network);
        (await Client.PostAsync($"/v1/{Pid}/cloudservers/{serverId}/metadata", body)).ExpectError(400, "Ecs.0005");
    }

    [Fact]
    public async Task Metadata_updates_merge_into_the_servers_metadata()
    {
        var serverId = await Servers.CreateServerAsync(Client, _network, metadata: new Dictionary<string, string> { ["owner"] = "alice" });
        var updated = (await Client.PostAsync($"/v1/{Pid}/cloudservers/{serverId}/metadata", new { metadata = new { team = "ims", owner = "bob" } }))
            .Expect(200)["metadata"];
        Assert.Equal("ims", (string?)updated["team"]);
        Assert.Equal("bob", (string?)updated["owner"]);
        var metadata = (await Servers.GetServerAsync(Client, serverId))["metadata"]!;
        Assert.Equal("ims", (string?)metadata["team"]);
        Assert.Equal(_network.VpcId, (string?)metadata["vpc_id"]);
    }

    private static JsonNode Parse(string json) => JsonNode.Parse(json)!;
}
