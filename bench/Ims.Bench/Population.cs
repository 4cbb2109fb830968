using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Ims.Bench;

/// <summary>
/// Makes what the create phase consumes, through the public API only: a network, servers, one CBR vault holding them,
/// and checkpoints until there are enough fresh backups (each checkpoint backs up every server of the vault).
/// </summary>
internal static class Population
{
    private const string Image = "7d5b8f3a-1c2e-4f60-9b11-18040000a001"; // the seeded public Ubuntu 18.04
    private const string Flavor = "s6.large.2";
    private const string Zone = "cn-north-4a";

    public static async Task<IReadOnlyList<string>> FreshBackupsAsync(Api api, int servers, int backups, Action<string> progress,
        CancellationToken ct)
    {
        var pid = api.ProjectId;
        var network = await CreateNetworkAsync(api, "bench", ct);
        var serverIds = await Task.WhenAll(Enumerable.Range(1, servers)
            .Select(n => CreateServerAsync(api, network, $"bench-ecs-{n:D3}", dataDiskGb: null, ct)));
        progress($"{servers} servers are ACTIVE");

        // Vault capacity is enforced: the largest size CBR allows holds every backup (each counts its server's disks in full).
        var vault = await api.PostAsync($"/v3/{pid}/vaults", new
        {
            vault = new
            {
                name = "bench-vault",
                billing = new { object_type = "server", consistent_level = "crash_consistent", protect_type = "backup", size = 10_485_760, is_multi_az = false },
                auto_expand = false,
                auto_bind = false,
                locked = false,
                resources = serverIds.Select(id => new { type = "OS::Nova::Server", id, extra_info = new { } }).ToArray(),
            },
        }, 200, ct);
        var vaultId = (string)vault["vault"]!["id"]!;

        var ids = new List<string>(backups + servers);
        var started = Stopwatch.GetTimestamp();
        for (var round = 1; ids.Count < backups; round++)
        {
            // One checkpoint at a time: a server being backed up is busy, so a second checkpoint would skip it.
            var created = await api.PostAsync($"/v3/{pid}/checkpoints", new
            {
                checkpoint = new { vault_id = vaultId, parameters = new { name = $"bench-cp-{round:D5}", incremental = false } },
            }, 200, ct);
            var checkpointId = (string)created["checkpoint"]!["id"]!;
            await WaitCheckpointAsync(api, checkpointId, Api.PollLimit, ct);
            var listed = await api.GetAsync($"/v3/{pid}/backups?checkpoint_id={checkpointId}", ct);
            var found = listed["backups"]!.AsArray().Select(b => (string)b!["id"]!).ToList();
            if (found.Count != servers) throw new BenchFailure($"Checkpoint {checkpointId} holds {found.Count} backups, expected {servers}.");
            ids.AddRange(found);
            if (round % 50 == 0)
                progress($"{ids.Count} backups from {round} checkpoints ({Stopwatch.GetElapsedTime(started).TotalSeconds:0} s)");
        }
        return ids;
    }

    /// <summary>Waits until a checkpoint and every resource in it are available, within <paramref name="limit"/>.</summary>
    public static async Task WaitCheckpointAsync(Api api, string checkpointId, TimeSpan limit, CancellationToken ct)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var checkpoint = (await api.GetAsync($"/v3/{api.ProjectId}/checkpoints/{checkpointId}", ct))["checkpoint"]!;
            var status = (string?)checkpoint["status"];
            if (status == "error") throw new BenchFailure($"Checkpoint {checkpointId} ended in error: {checkpoint.ToJsonString()}");
            if (status == "available"
                && checkpoint["vault"]!["resources"]!.AsArray().All(r => (string?)r!["protect_status"] == "available"))
                return;
            if (Stopwatch.GetTimestamp() > deadline)
                throw new BenchFailure($"Checkpoint {checkpointId} was not available within {limit.TotalSeconds:0} s.");
            await Task.Delay(5, ct);
        }
    }

    /// <summary>A VPC, a subnet and a security group to put benchmark servers in.</summary>
    public sealed record Network(string VpcId, string SubnetId, string GroupId);

    public static async Task<Network> CreateNetworkAsync(Api api, string prefix, CancellationToken ct)
    {
        var pid = api.ProjectId;
        var vpc = await api.PostAsync($"/v1/{pid}/vpcs", new { vpc = new { name = $"{prefix}-vpc", cidr = "192.168.0.0/16" } }, 200, ct);
        var vpcId = (string)vpc["vpc"]!["id"]!;
        var subnet = await api.PostAsync($"/v1/{pid}/subnets", new
        {
            subnet = new { name = $"{prefix}-subnet", cidr = "192.168.1.0/24", vpc_id = vpcId, gateway_ip = "192.168.1.1", dhcp_enable = true },
        }, 200, ct);
        var group = await api.PostAsync($"/v3/{pid}/vpc/security-groups", new { security_group = new { name = $"{prefix}-sg" } }, 201, ct);
        return new Network(vpcId, (string)subnet["subnet"]!["id"]!, (string)group["security_group"]!["id"]!);
    }

    /// <summary>Creates a server from the public Ubuntu image (with one data disk when asked) and waits until it is ACTIVE.</summary>
    public static async Task<string> CreateServerAsync(Api api, Network network, string name, long? dataDiskGb, CancellationToken ct)
    {
        var server = new JsonObject
        {
            ["imageRef"] = Image,
            ["flavorRef"] = Flavor,
            ["name"] = name,
            ["vpcid"] = network.VpcId,
            ["nics"] = new JsonArray(new JsonObject { ["subnet_id"] = network.SubnetId }),
            ["root_volume"] = new JsonObject { ["volumetype"] = "GPSSD" },
            ["security_groups"] = new JsonArray(new JsonObject { ["id"] = network.GroupId }),
            ["availability_zone"] = Zone,
        };
        if (dataDiskGb is { } gb)
            server["data_volumes"] = new JsonArray(new JsonObject { ["volumetype"] = "GPSSD", ["size"] = gb });
        var accepted = await api.PostAsync($"/v1.1/{api.ProjectId}/cloudservers", new JsonObject { ["server"] = server }.ToJsonString(), 200, ct);
        var job = await api.WaitForJobAsync((string)accepted["job_id"]!, ct);
        return (string)job["entities"]!["sub_jobs"]![0]!["entities"]!["server_id"]!;
    }
}
