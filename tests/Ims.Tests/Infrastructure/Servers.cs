using System.Text.Json.Nodes;

namespace Ims.Tests.Infrastructure;

/// <summary>The network a test server lives in, made over HTTP in the caller's project.</summary>
public sealed record TestNetwork(string VpcId, string SubnetId, string SecurityGroupId, string SubnetCidr);

/// <summary>
/// Builds ECS servers and EVS disks over HTTP the way terraform does, and waits for their jobs. Shared by the ECS,
/// EVS, backup and whole-image tests.
/// </summary>
public static class Servers
{
    public const string Ubuntu1804 = "7d5b8f3a-1c2e-4f60-9b11-18040000a001";
    public const string Debian11 = "7d5b8f3a-1c2e-4f60-9b11-d1100000a002";
    public const string Windows2019 = "7d5b8f3a-1c2e-4f60-9b11-2019000a0003";

    /// <summary>The first zone of the default (Huawei, cn-north-4) profile the test hosts run.</summary>
    public const string Zone = "cn-north-4a";

    public const string Flavor = "s6.large.2";

    public static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    /// <summary>A VPC, one /24 subnet in it and a security group.</summary>
    public static async Task<TestNetwork> CreateNetworkAsync(ApiClient client, string vpcCidr = "192.168.0.0/16",
        string subnetCidr = "192.168.1.0/24", string gateway = "192.168.1.1")
    {
        var pid = client.ProjectId;
        var vpc = (await client.PostAsync($"/v1/{pid}/vpcs", new { vpc = new { name = UniqueName("vpc"), cidr = vpcCidr } }))
            .Expect(200)["vpc"];
        var subnet = (await client.PostAsync($"/v1/{pid}/subnets", new
        {
            subnet = new { name = UniqueName("subnet"), cidr = subnetCidr, vpc_id = (string)vpc["id"]!, gateway_ip = gateway, dhcp_enable = true },
        })).Expect(200)["subnet"];
        var group = (await client.PostAsync($"/v3/{pid}/vpc/security-groups", new { security_group = new { name = UniqueName("sg") } }))
            .Expect(201)["security_group"];
        return new TestNetwork((string)vpc["id"]!, (string)subnet["id"]!, (string)group["id"]!, subnetCidr);
    }

    /// <summary>The create body of terraform's huaweicloud_compute_instance, with data disks as (size GB, type).</summary>
    public static JsonObject ServerBody(TestNetwork network, string? name = null, IEnumerable<(int Size, string Type)>? dataDisks = null,
        string image = Ubuntu1804, int? rootSize = null, string rootType = "GPSSD", IDictionary<string, string>? metadata = null)
    {
        var root = new JsonObject { ["volumetype"] = rootType };
        if (rootSize is { } size) root["size"] = size;
        var server = new JsonObject
        {
            ["imageRef"] = image,
            ["flavorRef"] = Flavor,
            ["name"] = name ?? UniqueName("ecs"),
            ["vpcid"] = network.VpcId,
            ["nics"] = new JsonArray(new JsonObject { ["subnet_id"] = network.SubnetId }),
            ["root_volume"] = root,
            ["security_groups"] = new JsonArray(new JsonObject { ["id"] = network.SecurityGroupId }),
            ["availability_zone"] = Zone,
            ["user_data"] = "",
        };
        var disks = dataDisks?.ToList() ?? [];
        if (disks.Count > 0)
            server["data_volumes"] = new JsonArray(disks.Select(d => (JsonNode)new JsonObject { ["volumetype"] = d.Type, ["size"] = d.Size }).ToArray());
        if (metadata is not null)
            server["metadata"] = new JsonObject(metadata.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        return new JsonObject { ["server"] = server };
    }

    /// <summary>Creates a server through POST /v1.1, waits for its job and returns the server id.</summary>
    public static async Task<string> CreateServerAsync(ApiClient client, TestNetwork network, IEnumerable<(int Size, string Type)>? dataDisks = null,
        string image = Ubuntu1804, int? rootSize = null, IDictionary<string, string>? metadata = null, string? name = null)
    {
        var body = ServerBody(network, name, dataDisks, image, rootSize, metadata: metadata);
        var created = (await client.PostAsync($"/v1.1/{client.ProjectId}/cloudservers", body.ToJsonString())).Expect(200);
        var job = await client.WaitForJobSuccessAsync((string)created["job_id"]!);
        return (string)job["entities"]!["sub_jobs"]![0]!["entities"]!["server_id"]!;
    }

    public static async Task<JsonNode> GetServerAsync(ApiClient client, string serverId) =>
        (await client.GetAsync($"/v1/{client.ProjectId}/cloudservers/{serverId}")).Expect(200)["server"];

    /// <summary>os-stop, os-start or reboot, waiting for the job.</summary>
    public static async Task PowerAsync(ApiClient client, string action, params string[] serverIds)
    {
        var body = new JsonObject
        {
            [action] = new JsonObject { ["servers"] = new JsonArray(serverIds.Select(id => (JsonNode)new JsonObject { ["id"] = id }).ToArray()) },
        };
        var accepted = (await client.PostAsync($"/v1/{client.ProjectId}/cloudservers/action", body.ToJsonString())).Expect(200);
        await client.WaitForJobSuccessAsync((string)accepted["job_id"]!);
    }

    public static async Task DeleteServerAsync(ApiClient client, string serverId, bool deleteVolumes)
    {
        var accepted = (await client.PostAsync($"/v1/{client.ProjectId}/cloudservers/delete",
            new { servers = new[] { new { id = serverId } }, delete_volume = deleteVolumes })).Expect(200);
        await client.WaitForJobSuccessAsync((string)accepted["job_id"]!);
    }

    /// <summary>Creates an EVS disk, waits for its job and returns its id.</summary>
    public static async Task<string> CreateVolumeAsync(ApiClient client, int size = 10, string type = "SAS", string zone = Zone,
        bool multiattach = false)
    {
        var accepted = (await client.PostAsync($"/v2.1/{client.ProjectId}/cloudvolumes", new
        {
            volume = new { availability_zone = zone, volume_type = type, size, name = UniqueName("disk"), multiattach },
        })).Expect(200);
        var job = await client.WaitForJobSuccessAsync((string)accepted["job_id"]!);
        return (string)job["entities"]!["volume_id"]!;
    }

    public static async Task AttachAsync(ApiClient client, string serverId, string volumeId)
    {
        var accepted = (await client.PostAsync($"/v1/{client.ProjectId}/cloudservers/{serverId}/attachvolume",
            new { volumeAttachment = new { volumeId } })).Expect(200);
        await client.WaitForJobSuccessAsync((string)accepted["job_id"]!);
    }

    public static async Task DetachAsync(ApiClient client, string serverId, string volumeId)
    {
        var accepted = (await client.DeleteAsync($"/v1/{client.ProjectId}/cloudservers/{serverId}/detachvolume/{volumeId}")).Expect(200);
        await client.WaitForJobSuccessAsync((string)accepted["job_id"]!);
    }

    /// <summary>Asserts the <c>{"error":{"code","message"}}</c> shape ECS and EVS share with IMS.</summary>
    public static void ExpectError(this ApiResponse response, int status, string code)
    {
        response.Expect(status);
        Assert.True(code == (string?)response.Json["error"]?["code"], $"expected {code}: {response.Body}");
        Assert.False(string.IsNullOrEmpty((string?)response.Json["error"]?["message"]), response.Body);
    }
}
