using System.Text.Json.Nodes;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Backups;

/// <summary>CBR calls as the Huawei terraform provider makes them (contract §3.2, §3.3).</summary>
public static class Cbr
{
    public static string NewName(string prefix = "vault") => $"{prefix}_{Guid.NewGuid():N}"[..24];

    public static object VaultBody(string name, int size = 200, string objectType = "server", object[]? resources = null) => new
    {
        vault = new
        {
            name,
            billing = new { object_type = objectType, consistent_level = "crash_consistent", protect_type = "backup", size, is_multi_az = false },
            auto_expand = false,
            auto_bind = false,
            locked = false,
            resources = resources ?? [],
        },
    };

    public static object ServerResource(string serverId, params string[] excludes) =>
        new { type = "OS::Nova::Server", id = serverId, extra_info = new { exclude_volumes = excludes } };

    public static async Task<string> CreateVaultAsync(ApiClient client, int size = 200, params string[] serverIds)
    {
        var response = await client.PostAsync($"/v3/{client.ProjectId}/vaults",
            VaultBody(NewName(), size, resources: serverIds.Select(id => ServerResource(id)).ToArray()));
        response.Expect(200);
        return (string)response["vault"]["id"]!;
    }

    public static async Task<JsonNode> CreateCheckpointAsync(ApiClient client, string vaultId, params string[] serverIds)
    {
        var response = await client.PostAsync($"/v3/{client.ProjectId}/checkpoints", new
        {
            checkpoint = new
            {
                vault_id = vaultId,
                parameters = new
                {
                    name = NewName("cp"),
                    incremental = false,
                    resource_details = serverIds.Select(id => new { id, type = "OS::Nova::Server", extra_info = new { } }).ToArray(),
                },
            },
        });
        response.Expect(200);
        return response["checkpoint"];
    }

    /// <summary>Polls the checkpoint as terraform does until it and every resource in it are available.</summary>
    public static async Task<JsonNode> WaitAvailableAsync(ApiClient client, string checkpointId)
    {
        JsonNode? last = null;
        await Poll.UntilAsync(async () =>
        {
            var response = (await client.GetAsync($"/v3/{client.ProjectId}/checkpoints/{checkpointId}")).Expect(200);
            last = response["checkpoint"];
            Assert.NotEqual("error", (string?)last["status"]);
            return (string?)last["status"] == "available"
                && last["vault"]!["resources"]!.AsArray().All(r => (string?)r!["protect_status"] == "available");
        }, TimeSpan.FromSeconds(30), $"checkpoint {checkpointId} to become available");
        return last!;
    }

    /// <summary>Backs the servers up in a new vault and waits for the checkpoint; returns (vault, checkpoint).</summary>
    public static async Task<(string VaultId, string CheckpointId)> BackUpAsync(ApiClient client, params string[] serverIds)
    {
        var vaultId = await CreateVaultAsync(client, 200, serverIds);
        var checkpoint = await CreateCheckpointAsync(client, vaultId, serverIds);
        await WaitAvailableAsync(client, (string)checkpoint["id"]!);
        return (vaultId, (string)checkpoint["id"]!);
    }

    public static void ExpectBackupError(this ApiResponse response, int status, string code)
    {
        response.Expect(status);
        Assert.Equal(code, (string?)response.Json["error_code"]);
        Assert.False(string.IsNullOrEmpty((string?)response.Json["error_msg"]), response.Body);
    }
}
