using System.Text.Json.Nodes;
using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Policies;

/// <summary>CBR policy calls as huaweicloud_cbr_policy and huaweicloud_cbr_vault make them.</summary>
public static class PolicyCalls
{
    /// <summary>The body terraform builds (buildPolicyOpDefinition, buildPolicyBackupSchedule).</summary>
    public static object Body(string name, string[] patterns, object definition, bool enabled = true, string type = "backup") => new
    {
        policy = new
        {
            name,
            operation_type = type,
            enabled,
            operation_definition = definition,
            trigger = new { properties = new { pattern = patterns } },
        },
    };

    public static async Task<string> CreateAsync(ApiClient client, string[] patterns, object definition, bool enabled = true)
    {
        var response = (await client.PostAsync($"/v3/{client.ProjectId}/policies", Body(Cbr.NewName("policy"), patterns, definition, enabled)))
            .Expect(200);
        return (string)response["policy"]["id"]!;
    }

    public static async Task AssociateAsync(ApiClient client, string vaultId, string policyId) =>
        (await client.PostAsync($"/v3/{client.ProjectId}/vaults/{vaultId}/associatepolicy", new { policy_id = policyId })).Expect(200);

    /// <summary>The vault's backups, oldest first, as (id, created_at wire string, auto_trigger).</summary>
    public static async Task<List<(string Id, string CreatedAt, bool Auto)>> BackupsAsync(ApiClient client, string vaultId)
    {
        var backups = (await client.GetAsync($"/v3/{client.ProjectId}/backups?vault_id={vaultId}")).Expect(200)["backups"].AsArray();
        return [.. backups.Select(b => ((string)b!["id"]!, (string)b["created_at"]!, (bool)b["extend_info"]!["auto_trigger"]!))
            .OrderBy(b => b.Item2, StringComparer.Ordinal)];
    }

    public static JsonArray Patterns(JsonNode policy) => policy["trigger"]!["properties"]!["pattern"]!.AsArray();
}
