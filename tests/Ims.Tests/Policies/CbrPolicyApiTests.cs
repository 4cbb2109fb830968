using System.Text.Json;
using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Policies;

/// <summary>CBR policies and their vaults as terraform's huaweicloud_cbr_policy and huaweicloud_cbr_vault use them.</summary>
public sealed class CbrPolicyApiTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;
    private ApiClient Alice => Service.Client(TestAccounts.Alice);

    private string Policies => $"/v3/{Alice.ProjectId}/policies";

    [Fact]
    public async Task A_policy_is_created_read_listed_updated_and_deleted_with_the_json_types_terraform_reads()
    {
        var name = Cbr.NewName("policy");
        // terraform's weekly example: time_period with long-term retention and a time zone.
        var created = (await Alice.PostAsync(Policies, PolicyCalls.Body(name,
            ["FREQ=WEEKLY;BYDAY=SA,SU;BYHOUR=08;BYMINUTE=00", "FREQ=WEEKLY;BYDAY=SA,SU;BYHOUR=20;BYMINUTE=00"],
            new { retention_duration_days = 20, day_backups = 10, week_backups = 10, month_backups = 1, timezone = "UTC+08:00", full_backup_interval = -1 })))
            .Expect(200)["policy"];
        var id = (string)created["id"]!;
        Assert.Equal(name, (string?)created["name"]);
        Assert.Equal(JsonValueKind.True, created["enabled"]!.GetValueKind());
        Assert.Equal("backup", (string?)created["operation_type"]);

        var policy = (await Alice.GetAsync($"{Policies}/{id}")).Expect(200)["policy"];
        var definition = policy["operation_definition"]!;
        Assert.Equal(-1, (int)definition["max_backups"]!);
        Assert.Equal(20, (int)definition["retention_duration_days"]!);
        Assert.Equal(10, (int)definition["day_backups"]!);
        Assert.Equal(10, (int)definition["week_backups"]!);
        Assert.Equal(1, (int)definition["month_backups"]!);
        Assert.Equal(0, (int)definition["year_backups"]!);
        Assert.Equal(-1, (int)definition["full_backup_interval"]!);
        Assert.Equal("UTC+08:00", (string?)definition["timezone"]);
        Assert.Equal(["FREQ=WEEKLY;BYDAY=SA,SU;BYHOUR=08;BYMINUTE=00", "FREQ=WEEKLY;BYDAY=SA,SU;BYHOUR=20;BYMINUTE=00"],
            PolicyCalls.Patterns(policy).Select(p => (string)p!));
        Assert.Equal("time", (string?)policy["trigger"]!["type"]);
        Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", (string?)policy["trigger"]!["properties"]!["start_time"]);
        Assert.Empty(policy["associated_vaults"]!.AsArray());

        // terraform's update sends only what changed; the interval form reads back as sent (its INTERVAL=(\d+); regex).
        var updated = (await Alice.PutAsync($"{Policies}/{id}", new
        {
            policy = new
            {
                enabled = false,
                trigger = new { properties = new { pattern = new[] { "FREQ=DAILY;INTERVAL=5;BYHOUR=21;BYMINUTE=00" } } },
                operation_definition = new { max_backups = 20 },
            },
        })).Expect(200)["policy"];
        Assert.Equal(JsonValueKind.False, updated["enabled"]!.GetValueKind());
        Assert.Equal(name, (string?)updated["name"]);
        Assert.Equal(20, (int)updated["operation_definition"]!["max_backups"]!);
        Assert.Equal(-1, (int)updated["operation_definition"]!["retention_duration_days"]!);
        Assert.Equal("FREQ=DAILY;INTERVAL=5;BYHOUR=21;BYMINUTE=00", (string?)PolicyCalls.Patterns(updated).Single());

        var listed = (await Alice.GetAsync($"{Policies}?operation_type=backup")).Expect(200);
        Assert.Contains(listed["policies"].AsArray(), p => (string?)p!["id"] == id);
        Assert.Equal(listed["policies"].AsArray().Count, (int)listed["count"]);
        Assert.DoesNotContain((await Alice.GetAsync($"{Policies}?operation_type=replication")).Expect(200)["policies"].AsArray(),
            p => (string?)p!["id"] == id);

        (await Alice.DeleteAsync($"{Policies}/{id}")).Expect(204);
        (await Alice.GetAsync($"{Policies}/{id}")).ExpectBackupError(404, "BackupService.6000");
        (await Alice.DeleteAsync($"{Policies}/{id}")).ExpectBackupError(404, "BackupService.6000");
    }

    [Fact]
    public async Task A_policy_applied_to_a_vault_is_listed_by_vault_until_dissociated_or_the_vault_goes()
    {
        var policyId = await PolicyCalls.CreateAsync(Alice, ["FREQ=DAILY;INTERVAL=1;BYHOUR=03;BYMINUTE=00"], new { max_backups = 5 });
        var vaultId = await Cbr.CreateVaultAsync(Alice);
        var vaultPath = $"/v3/{Alice.ProjectId}/vaults/{vaultId}";

        var associated = (await Alice.PostAsync($"{vaultPath}/associatepolicy", new { policy_id = policyId })).Expect(200)["associate_policy"];
        Assert.Equal(vaultId, (string?)associated["vault_id"]);
        Assert.Equal(policyId, (string?)associated["policy_id"]);
        // terraform reads the vault's policies back by vault id.
        var byVault = (await Alice.GetAsync($"{Policies}?vault_id={vaultId}")).Expect(200)["policies"].AsArray();
        Assert.Equal(policyId, (string?)Assert.Single(byVault)!["id"]);
        Assert.Equal(vaultId, (string?)byVault[0]!["associated_vaults"]!.AsArray().Single()!["vault_id"]);

        var dissociated = (await Alice.PostAsync($"{vaultPath}/dissociatepolicy", new { policy_id = policyId })).Expect(200)["dissociate_policy"];
        Assert.Equal(policyId, (string?)dissociated["policy_id"]);
        Assert.Empty((await Alice.GetAsync($"{Policies}?vault_id={vaultId}")).Expect(200)["policies"].AsArray());
        (await Alice.PostAsync($"{vaultPath}/dissociatepolicy", new { policy_id = policyId })).ExpectBackupError(404, "BackupService.6002");

        // The deprecated backup_policy_id applies the policy at creation; deleting the vault forgets it.
        var created = (await Alice.PostAsync($"/v3/{Alice.ProjectId}/vaults", WithPolicy(Cbr.VaultBody(Cbr.NewName()), policyId))).Expect(200);
        var secondVault = (string)created["vault"]["id"]!;
        Assert.Single((await Alice.GetAsync($"{Policies}?vault_id={secondVault}")).Expect(200)["policies"].AsArray());
        (await Alice.DeleteAsync($"/v3/{Alice.ProjectId}/vaults/{secondVault}")).Expect(204);
        Assert.Empty((await Alice.GetAsync($"{Policies}/{policyId}")).Expect(200)["policy"]["associated_vaults"]!.AsArray());
    }

    private static object WithPolicy(object vaultBody, string policyId)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(JsonSerializer.Serialize(vaultBody))!;
        node["vault"]!["backup_policy_id"] = policyId;
        return node.ToJsonString();
    }

    [Theory]
    [InlineData("""{"policy":{"name":"bad name!","operation_type":"backup","operation_definition":{"max_backups":2},"trigger":{"properties":{"pattern":["FREQ=DAILY;INTERVAL=1;BYHOUR=1;BYMINUTE=0"]}}}}""", "BackupService.9900")]
    [InlineData("""{"policy":{"name":"p","operation_type":"archive","operation_definition":{"max_backups":2},"trigger":{"properties":{"pattern":["FREQ=DAILY;INTERVAL=1;BYHOUR=1;BYMINUTE=0"]}}}}""", "BackupService.6117")]
    [InlineData("""{"policy":{"name":"p","operation_type":"backup","operation_definition":{"max_backups":2,"retention_duration_days":3},"trigger":{"properties":{"pattern":["FREQ=DAILY;INTERVAL=1;BYHOUR=1;BYMINUTE=0"]}}}}""", "BackupService.9900")]
    [InlineData("""{"policy":{"name":"p","operation_type":"backup","operation_definition":{"max_backups":100000},"trigger":{"properties":{"pattern":["FREQ=DAILY;INTERVAL=1;BYHOUR=1;BYMINUTE=0"]}}}}""", "BackupService.9900")]
    [InlineData("""{"policy":{"name":"p","operation_type":"backup","operation_definition":{"max_backups":2,"day_backups":3},"trigger":{"properties":{"pattern":["FREQ=DAILY;INTERVAL=1;BYHOUR=1;BYMINUTE=0"]}}}}""", "BackupService.9900")]
    [InlineData("""{"policy":{"name":"p","operation_type":"backup","operation_definition":{"max_backups":2,"timezone":"Europe/Berlin"},"trigger":{"properties":{"pattern":["FREQ=DAILY;INTERVAL=1;BYHOUR=1;BYMINUTE=0"]}}}}""", "BackupService.9900")]
    [InlineData("""{"policy":{"name":"p","operation_type":"backup","operation_definition":{"max_backups":2},"trigger":{"properties":{"pattern":["FREQ=MONTHLY;BYHOUR=1;BYMINUTE=0"]}}}}""", "BackupService.9900")]
    [InlineData("""{"policy":{"name":"p","operation_type":"backup","operation_definition":{"max_backups":2},"trigger":{"properties":{"pattern":[]}}}}""", "BackupService.9900")]
    [InlineData("""{"policy":{"name":"p","operation_type":"replication","operation_definition":{"max_backups":2},"trigger":{"properties":{"pattern":["FREQ=DAILY;INTERVAL=1;BYHOUR=1;BYMINUTE=0"]}}}}""", "BackupService.9900")]
    [InlineData("""{"policy":{"name":"p","operation_type":"backup","operation_definition":{"max_backups":"two"},"trigger":{"properties":{"pattern":["FREQ=DAILY;INTERVAL=1;BYHOUR=1;BYMINUTE=0"]}}}}""", "BackupService.6301")]
    public async Task A_policy_outside_the_rules_is_refused_with_the_cbr_code(string body, string code)
    {
        var before = (await Alice.GetAsync(Policies)).Expect(200)["policies"].AsArray().Count;
        (await Alice.PostAsync(Policies, body)).ExpectBackupError(400, code);
        Assert.Equal(before, (await Alice.GetAsync(Policies)).Expect(200)["policies"].AsArray().Count);
    }

    [Fact]
    public async Task Applying_refuses_unknown_policies_and_vaults_and_a_backup_policy_on_a_replication_vault()
    {
        var policyId = await PolicyCalls.CreateAsync(Alice, ["FREQ=DAILY;INTERVAL=1;BYHOUR=03;BYMINUTE=00"], new { max_backups = 5 });
        var vaultId = await Cbr.CreateVaultAsync(Alice);
        var vaults = $"/v3/{Alice.ProjectId}/vaults";

        (await Alice.PostAsync($"{vaults}/{vaultId}/associatepolicy", new { policy_id = Guid.NewGuid().ToString() })).ExpectBackupError(404, "BackupService.6000");
        (await Alice.PostAsync($"{vaults}/{Guid.NewGuid()}/associatepolicy", new { policy_id = policyId })).ExpectBackupError(404, "BackupService.6105");
        (await Alice.PostAsync($"{vaults}/{vaultId}/associatepolicy", new { })).ExpectBackupError(400, "BackupService.6301");
        (await Alice.PostAsync($"{vaults}/{vaultId}/dissociatepolicy", new { policy_id = Guid.NewGuid().ToString() })).ExpectBackupError(404, "BackupService.6000");
        (await Alice.PostAsync(vaults, WithPolicy(Cbr.VaultBody(Cbr.NewName()), Guid.NewGuid().ToString()))).ExpectBackupError(404, "BackupService.6000");

        var replicationVault = (await Alice.PostAsync(vaults, new
        {
            vault = new
            {
                name = Cbr.NewName(),
                billing = new { object_type = "server", consistent_level = "crash_consistent", protect_type = "replication", size = 100 },
                resources = Array.Empty<object>(),
            },
        })).Expect(200)["vault"]["id"]!.GetValue<string>();
        (await Alice.PostAsync($"{vaults}/{replicationVault}/associatepolicy", new { policy_id = policyId })).ExpectBackupError(400, "BackupService.6127");

        // Another project sees none of it.
        var bob = Service.Client(TestAccounts.Bob);
        (await bob.GetAsync($"/v3/{bob.ProjectId}/policies/{policyId}")).ExpectBackupError(404, "BackupService.6000");
        (await bob.PutAsync($"/v3/{bob.ProjectId}/policies/{policyId}", new { policy = new { enabled = false } })).ExpectBackupError(404, "BackupService.6000");
        Assert.DoesNotContain((await bob.GetAsync($"/v3/{bob.ProjectId}/policies")).Expect(200)["policies"].AsArray(), p => (string?)p!["id"] == policyId);
    }
}
