using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ecs;

/// <summary>The whole life of a server over HTTP, as terraform's huaweicloud_compute_instance drives it.</summary>
public sealed partial class ServerLifecycleTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task A_server_is_created_read_stopped_started_given_a_disk_and_deleted(AuthMode mode)
    {
        var client = Service.Client(TestAccounts.Alice, mode);
        var pid = client.ProjectId;
        var network = await Servers.CreateNetworkAsync(client);
        var name = Servers.UniqueName("ecs");

        // Create: 200 with the job and the server id (terraform accepts only 200).
        var body = Servers.ServerBody(network, name, [(10, "SAS"), (20, "SSD")], rootSize: 50);
        var created = (await client.PostAsync($"/v1.1/{pid}/cloudservers", body.ToJsonString())).Expect(200);
        var serverId = (string)created["serverIds"][0]!;
        var job = await client.WaitForJobSuccessAsync((string)created["job_id"]!);
        Assert.Equal("createServer", (string?)job["job_type"]);
        Assert.Equal(JsonValueKind.Number, job["entities"]!["sub_jobs_total"]!.GetValueKind());
        var subJob = job["entities"]!["sub_jobs"]![0]!;
        Assert.Equal(serverId, (string?)subJob["entities"]!["server_id"]);
        Assert.Equal("createSingleServer", (string?)subJob["job_type"]);
        Assert.Equal("SUCCESS", (string?)subJob["status"]);
        Assert.Matches(Hex32(), (string)subJob["job_id"]!);

        // Read: every field terraform reads, with the JSON types its Go structs decode.
        var server = await Servers.GetServerAsync(client, serverId);
        Assert.Equal(name, (string?)server["name"]);
        Assert.Equal("ACTIVE", (string?)server["status"]);
        Assert.Matches(SecondsZ(), (string)server["created"]!);
        Assert.Matches(SecondsZ(), (string)server["updated"]!);
        Assert.Equal(Servers.Zone, (string?)server["OS-EXT-AZ:availability_zone"]);
        var flavor = server["flavor"]!;
        Assert.Equal(Servers.Flavor, (string?)flavor["id"]);
        foreach (var field in new[] { "id", "name", "vcpus", "ram", "disk" }) AssertKind(flavor, field, JsonValueKind.String);
        Assert.Equal("2", (string?)flavor["vcpus"]);
        Assert.Equal("4096", (string?)flavor["ram"]);
        Assert.Equal(Servers.Ubuntu1804, (string?)server["image"]!["id"]);
        var metadata = server["metadata"]!.AsObject();
        Assert.All(metadata, kv => Assert.Equal(JsonValueKind.String, kv.Value!.GetValueKind()));
        Assert.Equal(network.VpcId, (string?)metadata["vpc_id"]);
        Assert.Equal("0", (string?)metadata["charging_mode"]);
        Assert.Equal("Ubuntu 18.04 server 64bit", (string?)metadata["image_name"]);
        Assert.Equal("Linux", (string?)metadata["os_type"]);
        var group = server["security_groups"]!.AsArray().Single()!;
        Assert.Equal(network.SecurityGroupId, (string?)group["id"]);
        AssertKind(group, "name", JsonValueKind.String);
        var address = server["addresses"]![network.VpcId]!.AsArray().Single()!;
        AssertKind(address, "version", JsonValueKind.String);
        Assert.Equal("4", (string?)address["version"]);
        Assert.Equal("fixed", (string?)address["OS-EXT-IPS:type"]);
        Assert.Equal(JsonValueKind.True, address["primary"]!.GetValueKind());
        Assert.Matches(Mac(), (string)address["OS-EXT-IPS-MAC:mac_addr"]!);
        Assert.StartsWith("192.168.1.", (string?)address["addr"], StringComparison.Ordinal);
        var volumes = server["os-extended-volumes:volumes_attached"]!.AsArray();
        Assert.Equal(["/dev/vda", "/dev/vdb", "/dev/vdc"], volumes.Select(v => (string)v!["device"]!));
        Assert.All(volumes, v => AssertKind(v, "bootIndex", JsonValueKind.String));
        Assert.All(volumes, v => AssertKind(v, "delete_on_termination", JsonValueKind.String));
        Assert.Equal("0", (string?)volumes[0]!["bootIndex"]);
        Assert.Equal("true", (string?)volumes[0]!["delete_on_termination"]);
        Assert.Equal("false", (string?)volumes[1]!["delete_on_termination"]);
        Assert.Equal(JsonValueKind.Array, server["tags"]!.GetValueKind());
        Assert.Equal(JsonValueKind.Object, server["os:scheduler_hints"]!.GetValueKind());
        Assert.Equal("0", (string?)server["enterprise_project_id"]);
        AssertKind(server, "key_name", JsonValueKind.String);
        AssertKind(server, "description", JsonValueKind.String);
        Assert.Equal(1, (int)server["OS-EXT-STS:power_state"]!);
        AssertKind(server, "OS-EXT-STS:power_state", JsonValueKind.Number);
        AssertKind(server, "progress", JsonValueKind.Number);
        Assert.Equal(JsonValueKind.False, server["locked"]!.GetValueKind());
        Assert.Equal("active", (string?)server["OS-EXT-STS:vm_state"]);
        Assert.Equal("", (string?)server["OS-EXT-STS:task_state"]);
        Assert.Matches(MicrosNoZone(), (string)server["OS-SRV-USG:launched_at"]!);
        Assert.Null(server["fault"]);

        // The NIC's port, as terraform reads it from VPC: its network is the subnet of the configuration.
        var portId = (string)address["OS-EXT-IPS:port_id"]!;
        var port = (await client.GetAsync($"/v1/{pid}/ports/{portId}")).Expect(200)["port"];
        Assert.Equal(network.SubnetId, (string?)port["network_id"]);
        Assert.Equal((string?)address["addr"], (string?)port["fixed_ips"]![0]!["ip_address"]);
        Assert.Equal([network.SecurityGroupId], port["security_groups"]!.AsArray().Select(g => (string)g!));
        Assert.Equal($"compute:{Servers.Zone}", (string?)port["device_owner"]);

        // The detail list finds it by name.
        var listed = (await client.GetAsync($"/v1/{pid}/cloudservers/detail?name={name}&limit=10")).Expect(200);
        Assert.Equal(1, (int)listed["count"]);
        Assert.Equal(serverId, (string?)listed["servers"][0]!["id"]);

        // Block devices: bootIndex and size are numbers here.
        var devices = (await client.GetAsync($"/v1/{pid}/cloudservers/{serverId}/block_device")).Expect(200);
        var attachments = devices["volumeAttachments"].AsArray();
        Assert.Equal(3, attachments.Count);
        Assert.All(attachments, a => AssertKind(a, "bootIndex", JsonValueKind.Number));
        Assert.All(attachments, a => AssertKind(a, "size", JsonValueKind.Number));
        AssertKind(devices["attachableQuantity"], "free_disk", JsonValueKind.Number);
        var systemDiskId = (string)volumes[0]!["id"]!;
        var dataDiskId = (string)volumes[1]!["id"]!;
        var systemDevice = (await client.GetAsync($"/v1/{pid}/cloudservers/{serverId}/block_device/{systemDiskId}")).Expect(200)["volumeAttachment"];
        Assert.Equal(0, (int)systemDevice["bootIndex"]!);
        Assert.Equal(50, (int)systemDevice["size"]!);
        Assert.Equal("/dev/vda", (string?)systemDevice["device"]);
        Assert.Equal(serverId, (string?)systemDevice["serverId"]);
        Assert.Equal("virtio", (string?)systemDevice["bus"]);
        AssertKind(systemDevice, "pciAddress", JsonValueKind.String);
        var dataDevice = (await client.GetAsync($"/v1/{pid}/cloudservers/{serverId}/block_device/{dataDiskId}")).Expect(200)["volumeAttachment"];
        Assert.NotEqual(0, (int)dataDevice["bootIndex"]!);
        Assert.Equal(10, (int)dataDevice["size"]!);

        // The system disk as EVS shows it.
        var systemDisk = (await client.GetAsync($"/v2/{pid}/cloudvolumes/{systemDiskId}")).Expect(200)["volume"];
        Assert.Equal("in-use", (string?)systemDisk["status"]);
        Assert.Equal("true", (string?)systemDisk["bootable"]);
        Assert.Equal("GPSSD", (string?)systemDisk["volume_type"]);
        Assert.Equal(Servers.Ubuntu1804, (string?)systemDisk["volume_image_metadata"]!["image_id"]);
        Assert.Equal(serverId, (string?)systemDisk["attachments"]![0]!["server_id"]);
        Assert.Equal("/dev/vda", (string?)systemDisk["attachments"]![0]!["device"]);

        // Stop, and stopping again is refused.
        await Servers.PowerAsync(client, "os-stop", serverId);
        server = await Servers.GetServerAsync(client, serverId);
        Assert.Equal("SHUTOFF", (string?)server["status"]);
        Assert.Equal(4, (int)server["OS-EXT-STS:power_state"]!);
        (await client.PostAsync($"/v1/{pid}/cloudservers/action", new { os_stop_placeholder = 1 })).ExpectError(400, "Ecs.0005");
        (await client.PostAsync($"/v1/{pid}/cloudservers/action", StopBody(serverId).ToJsonString())).ExpectError(409, "Ecs.0100");

        // Start, and starting again is refused.
        await Servers.PowerAsync(client, "os-start", serverId);
        Assert.Equal("ACTIVE", (string?)(await Servers.GetServerAsync(client, serverId))["status"]);
        (await client.PostAsync($"/v1/{pid}/cloudservers/action", new JsonObject
        {
            ["os-start"] = new JsonObject { ["servers"] = new JsonArray(new JsonObject { ["id"] = serverId }) },
        }.ToJsonString())).ExpectError(409, "Ecs.0100");
        await Servers.PowerAsync(client, "reboot", serverId);
        Assert.Equal("ACTIVE", (string?)(await Servers.GetServerAsync(client, serverId))["status"]);

        // Attach an EVS disk, then detach it.
        var diskId = await Servers.CreateVolumeAsync(client, 15, "SAS");
        await Servers.AttachAsync(client, serverId, diskId);
        var disk = (await client.GetAsync($"/v2/{pid}/cloudvolumes/{diskId}")).Expect(200)["volume"];
        Assert.Equal("in-use", (string?)disk["status"]);
        Assert.Equal("/dev/vdd", (string?)disk["attachments"]![0]!["device"]);
        Assert.Equal(4, (await Servers.GetServerAsync(client, serverId))["os-extended-volumes:volumes_attached"]!.AsArray().Count);
        await Servers.DetachAsync(client, serverId, diskId);
        disk = (await client.GetAsync($"/v2/{pid}/cloudvolumes/{diskId}")).Expect(200)["volume"];
        Assert.Equal("available", (string?)disk["status"]);
        Assert.Empty(disk["attachments"]!.AsArray());
        (await client.GetAsync($"/v1/{pid}/cloudservers/{serverId}/block_device/{diskId}")).ExpectError(404, "Ecs.0114");

        // Delete without delete_volume: the server, its NIC and system disk go; data disks stay, available.
        await Servers.DeleteServerAsync(client, serverId, deleteVolumes: false);
        (await client.GetAsync($"/v1/{pid}/cloudservers/{serverId}")).ExpectError(404, "Ecs.0114");
        (await client.GetAsync($"/v2/{pid}/cloudvolumes/{systemDiskId}")).ExpectError(404, "EVS.5404");
        Assert.Equal("available", (string?)(await client.GetAsync($"/v2/{pid}/cloudvolumes/{dataDiskId}")).Expect(200)["volume"]["status"]);
        (await client.GetAsync($"/v1/{pid}/ports/{portId}")).Expect(404);
        Assert.Empty((await client.GetAsync($"/v1/{pid}/ports?device_id={serverId}")).Expect(200)["ports"].AsArray());
        Assert.Equal(0, (int)(await client.GetAsync($"/v1/{pid}/cloudservers/detail?name={name}")).Expect(200)["count"]);

        foreach (var id in new[] { dataDiskId, (string)volumes[2]!["id"]!, diskId })
        {
            var deleting = (await client.DeleteAsync($"/v2/{pid}/cloudvolumes/{id}")).Expect(200);
            await client.WaitForJobSuccessAsync((string)deleting["job_id"]!);
        }
    }

    [Fact]
    public async Task Delete_with_delete_volume_removes_the_data_disks_too()
    {
        var client = Service.Client(TestAccounts.Alice);
        var network = await Servers.CreateNetworkAsync(client);
        var serverId = await Servers.CreateServerAsync(client, network, [(10, "SATA")]);
        var dataDiskId = (string)(await Servers.GetServerAsync(client, serverId))["os-extended-volumes:volumes_attached"]![1]!["id"]!;
        await Servers.DeleteServerAsync(client, serverId, deleteVolumes: true);
        (await client.GetAsync($"/v2/{client.ProjectId}/cloudvolumes/{dataDiskId}")).ExpectError(404, "EVS.5404");
    }

    [Fact]
    public async Task The_v1_create_path_works_like_v1_1_and_a_batch_gets_numbered_names_and_distinct_addresses()
    {
        var client = Service.Client(TestAccounts.Alice);
        var network = await Servers.CreateNetworkAsync(client);
        var name = Servers.UniqueName("batch");
        var body = Servers.ServerBody(network, name);
        body["server"]!["count"] = 2;
        var created = (await client.PostAsync($"/v1/{client.ProjectId}/cloudservers", body.ToJsonString())).Expect(200);
        var ids = created["serverIds"].AsArray().Select(i => (string)i!).ToList();
        Assert.Equal(2, ids.Count);
        var job = await client.WaitForJobSuccessAsync((string)created["job_id"]!);
        Assert.Equal(2, (int)job["entities"]!["sub_jobs_total"]!);
        Assert.Equal(ids, job["entities"]!["sub_jobs"]!.AsArray().Select(s => (string)s!["entities"]!["server_id"]!));
        var servers = await Task.WhenAll(ids.Select(id => Servers.GetServerAsync(client, id)));
        Assert.Equal([$"{name}-0001", $"{name}-0002"], servers.Select(s => (string)s["name"]!));
        var addresses = servers.Select(s => (string)s["addresses"]![network.VpcId]![0]!["addr"]!).ToList();
        Assert.Equal(2, addresses.Distinct().Count());

        // One request stops both; another deletes both.
        await Servers.PowerAsync(client, "os-stop", [.. ids]);
        Assert.All(await Task.WhenAll(ids.Select(id => Servers.GetServerAsync(client, id))), s => Assert.Equal("SHUTOFF", (string?)s["status"]));
        var deleting = (await client.PostAsync($"/v1/{client.ProjectId}/cloudservers/delete",
            new { servers = ids.Select(id => new { id }), delete_volume = true })).Expect(200);
        await client.WaitForJobSuccessAsync((string)deleting["job_id"]!);
        foreach (var id in ids) (await client.GetAsync($"/v1/{client.ProjectId}/cloudservers/{id}")).ExpectError(404, "Ecs.0114");
    }

    [Fact]
    public async Task A_fixed_address_is_honoured_and_cannot_be_taken_twice()
    {
        var client = Service.Client(TestAccounts.Alice);
        var network = await Servers.CreateNetworkAsync(client);
        var body = Servers.ServerBody(network);
        body["server"]!["nics"]![0]!["ip_address"] = "192.168.1.77";
        var created = (await client.PostAsync($"/v1/{client.ProjectId}/cloudservers", body.ToJsonString())).Expect(200);
        await client.WaitForJobSuccessAsync((string)created["job_id"]!);
        var server = await Servers.GetServerAsync(client, (string)created["serverIds"][0]!);
        Assert.Equal("192.168.1.77", (string?)server["addresses"]![network.VpcId]![0]!["addr"]);

        var again = Servers.ServerBody(network);
        again["server"]!["nics"]![0]!["ip_address"] = "192.168.1.77";
        (await client.PostAsync($"/v1/{client.ProjectId}/cloudservers", again.ToJsonString())).ExpectError(400, "Ecs.0010");
        again["server"]!["nics"]![0]!["ip_address"] = "10.0.0.5";
        (await client.PostAsync($"/v1/{client.ProjectId}/cloudservers", again.ToJsonString())).ExpectError(400, "Ecs.0005");
        again["server"]!["nics"]![0]!["ip_address"] = "192.168.1.1";
        (await client.PostAsync($"/v1/{client.ProjectId}/cloudservers", again.ToJsonString())).ExpectError(400, "Ecs.0005");
    }

    [Fact]
    public async Task Without_security_groups_a_server_joins_the_projects_default_group()
    {
        var client = Service.Client(TestAccounts.Alice);
        var network = await Servers.CreateNetworkAsync(client);
        var defaultGroup = (await client.PostAsync($"/v3/{client.ProjectId}/vpc/security-groups", new { security_group = new { name = "default" } }))
            .Expect(201)["security_group"];
        var body = Servers.ServerBody(network);
        body["server"]!.AsObject().Remove("security_groups");
        var created = (await client.PostAsync($"/v1/{client.ProjectId}/cloudservers", body.ToJsonString())).Expect(200);
        await client.WaitForJobSuccessAsync((string)created["job_id"]!);
        var group = (await Servers.GetServerAsync(client, (string)created["serverIds"][0]!))["security_groups"]!.AsArray().Single()!;
        Assert.Equal((string?)defaultGroup["id"], (string?)group["id"]);
        Assert.Equal("default", (string?)group["name"]);
    }

    [Fact]
    public async Task The_system_disk_can_be_detached_only_from_a_stopped_server()
    {
        var client = Service.Client(TestAccounts.Alice);
        var pid = client.ProjectId;
        var network = await Servers.CreateNetworkAsync(client);
        var serverId = await Servers.CreateServerAsync(client, network);
        var systemDiskId = (string)(await Servers.GetServerAsync(client, serverId))["os-extended-volumes:volumes_attached"]![0]!["id"]!;
        (await client.DeleteAsync($"/v1/{pid}/cloudservers/{serverId}/detachvolume/{systemDiskId}")).ExpectError(409, "Ecs.0100");

        await Servers.PowerAsync(client, "os-stop", serverId);
        await Servers.DetachAsync(client, serverId, systemDiskId);
        var disk = (await client.GetAsync($"/v2/{pid}/cloudvolumes/{systemDiskId}")).Expect(200)["volume"];
        Assert.Equal("available", (string?)disk["status"]);
        Assert.Equal("true", (string?)disk["bootable"]);
        Assert.Empty((await Servers.GetServerAsync(client, serverId))["os-extended-volumes:volumes_attached"]!.AsArray());
    }

    [Fact]
    public async Task A_shared_disk_attaches_to_two_servers_and_an_ordinary_one_only_to_one()
    {
        var client = Service.Client(TestAccounts.Alice);
        var pid = client.ProjectId;
        var network = await Servers.CreateNetworkAsync(client);
        var first = await Servers.CreateServerAsync(client, network);
        var second = await Servers.CreateServerAsync(client, network);

        var shared = await Servers.CreateVolumeAsync(client, 10, "SSD", multiattach: true);
        await Servers.AttachAsync(client, first, shared);
        await Servers.AttachAsync(client, second, shared);
        var disk = (await client.GetAsync($"/v2/{pid}/cloudvolumes/{shared}")).Expect(200)["volume"];
        Assert.Equal(JsonValueKind.True, disk["multiattach"]!.GetValueKind());
        Assert.Equal(new[] { first, second }.Order(), disk["attachments"]!.AsArray().Select(a => (string)a!["server_id"]!).Order());
        (await client.PostAsync($"/v1/{pid}/cloudservers/{first}/attachvolume", new { volumeAttachment = new { volumeId = shared } }))
            .ExpectError(409, "Ecs.0100");

        // Detaching from one server leaves it in use by the other.
        await Servers.DetachAsync(client, first, shared);
        disk = (await client.GetAsync($"/v2/{pid}/cloudvolumes/{shared}")).Expect(200)["volume"];
        Assert.Equal("in-use", (string?)disk["status"]);
        Assert.Equal(second, (string?)disk["attachments"]![0]!["server_id"]);

        var ordinary = await Servers.CreateVolumeAsync(client, 10, "SAS");
        await Servers.AttachAsync(client, first, ordinary);
        (await client.PostAsync($"/v1/{pid}/cloudservers/{second}/attachvolume", new { volumeAttachment = new { volumeId = ordinary } }))
            .ExpectError(409, "Ecs.0100");

        // Deleting a server with delete_volume keeps a shared disk that another server still uses.
        await Servers.AttachAsync(client, first, shared);
        await Servers.DeleteServerAsync(client, second, deleteVolumes: true);
        disk = (await client.GetAsync($"/v2/{pid}/cloudvolumes/{shared}")).Expect(200)["volume"];
        Assert.Equal("in-use", (string?)disk["status"]);
        Assert.Equal(first, (string?)disk["attachments"]!.AsArray().Single()!["server_id"]);
    }

    private static JsonObject StopBody(string serverId) => new()
    {
        ["os-stop"] = new JsonObject { ["servers"] = new JsonArray(new JsonObject { ["id"] = serverId }), ["type"] = "SOFT" },
    };

    private static void AssertKind(JsonNode? node, string name, JsonValueKind kind) =>
        Assert.True(node?[name] is { } value && value.GetValueKind() == kind, $"{name} is not a {kind} in {node?.ToJsonString()}");

    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex Hex32();

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")]
    private static partial Regex SecondsZ();

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$")]
    private static partial Regex MicrosNoZone();

    [GeneratedRegex("^fa:16:3e(:[0-9a-f]{2}){3}$")]
    private static partial Regex Mac();
}
