using System.Text.Json;
using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Policies;

/// <summary>CSBS backup policies as opentelekomcloud_csbs_backup_policy_v1 (gophertelekomcloud csbs/v1/policies) uses them.</summary>
public sealed class CsbsPolicyApiTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    public const string Weekly = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nRRULE:FREQ=WEEKLY;BYDAY=TH;BYHOUR=12;BYMINUTE=27\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    private TestService Service => fixture.Service;
    private ApiClient Alice => Service.Client(TestAccounts.Alice);

    /// <summary>The body terraform's create builds.</summary>
    public static object Body(string name, string pattern, object definition, params (string Id, string Name)[] servers) => new
    {
        policy = new
        {
            name,
            description = "My plan",
            provider_id = CsbsTests.Provider,
            parameters = new { common = new { } },
            scheduled_operations = new[]
            {
                new
                {
                    name = "my-backup-policy",
                    description = "My backup policy",
                    enabled = true,
                    operation_type = "backup",
                    trigger = new { properties = new { pattern } },
                    operation_definition = definition,
                },
            },
            resources = servers.Select(s => new { id = s.Id, type = "OS::Nova::Server", name = s.Name }).ToArray(),
            tags = new[] { new { key = "team", value = "ops" } },
        },
    };

    [Fact]
    public async Task A_policy_is_created_suspended_read_updated_and_deleted_as_terraform_expects()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var policies = $"/v1/{Alice.ProjectId}/policies";
        var name = Cbr.NewName("csbs");
        var created = (await Alice.PostAsync(policies, Body(name, Weekly, new { max_backups = 20, permanent = false }, (server.Id, "resource1"))))
            .Expect(200)["policy"];
        var id = (string)created["id"]!;
        // terraform waits for "suspended" after the create.
        Assert.Equal("suspended", (string?)created["status"]);

        var policy = (await Alice.GetAsync($"{policies}/{id}")).Expect(200)["policy"];
        Assert.Equal(name, (string?)policy["name"]);
        Assert.Equal(CsbsTests.Provider, (string?)policy["provider_id"]);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$", (string?)policy["created_at"]);
        var resource = policy["resources"]!.AsArray().Single()!;
        Assert.Equal(server.Id, (string?)resource["id"]);
        Assert.Equal("resource1", (string?)resource["name"]);
        var operation = policy["scheduled_operations"]!.AsArray().Single()!;
        Assert.Equal(Weekly, (string?)operation["trigger"]!["properties"]!["pattern"]);
        Assert.Equal((string?)operation["trigger_id"], (string?)operation["trigger"]!["id"]);
        Assert.Equal(JsonValueKind.Number, operation["operation_definition"]!["max_backups"]!.GetValueKind());
        Assert.Equal(20, (int)operation["operation_definition"]!["max_backups"]!);
        Assert.Equal(JsonValueKind.False, operation["operation_definition"]!["permanent"]!.GetValueKind());
        Assert.Equal(id, (string?)operation["operation_definition"]!["plan_id"]);
        Assert.Equal("ops", (string?)policy["tags"]!.AsArray().Single()!["value"]);

        // terraform's update names the operation by the id it read.
        var updated = (await Alice.PutAsync($"{policies}/{id}", new
        {
            policy = new
            {
                name = name + "x",
                scheduled_operations = new[]
                {
                    new
                    {
                        id = (string)operation["id"]!,
                        name = "my-backup-policy",
                        enabled = false,
                        trigger = new { properties = new { pattern = Weekly.Replace("BYDAY=TH", "BYDAY=FR", StringComparison.Ordinal) } },
                        operation_definition = new { retention_duration_days = 7, permanent = false },
                    },
                },
            },
        })).Expect(200)["policy"];
        var changed = updated["scheduled_operations"]!.AsArray().Single()!;
        Assert.Equal(name + "x", (string?)updated["name"]);
        Assert.False((bool)changed["enabled"]!);
        Assert.Equal(7, (int)changed["operation_definition"]!["retention_duration_days"]!);
        Assert.Null(changed["operation_definition"]!["max_backups"]);
        Assert.Contains("BYDAY=FR", (string?)changed["trigger"]!["properties"]!["pattern"], StringComparison.Ordinal);

        var listed = (await Alice.GetAsync($"{policies}?name={name}x")).Expect(200);
        Assert.Equal(id, (string?)listed["policies"].AsArray().Single()!["id"]);
        Assert.Empty(listed["policies_links"].AsArray());

        (await Alice.DeleteAsync($"{policies}/{id}")).Expect(200);
        (await Alice.GetAsync($"{policies}/{id}")).ExpectBackupError(404, "CSBS.9002");
    }

    [Theory]
    [InlineData("RRULE:FREQ=YEARLY;BYHOUR=1;BYMINUTE=0", "OS::Nova::Server", "CSBS.9001")]
    [InlineData("RRULE:FREQ=DAILY;BYHOUR=1;BYMINUTE=0", "OS::Cinder::Volume", "CSBS.6003")]
    public async Task A_policy_with_a_bad_rule_or_resource_is_refused(string pattern, string type, string code)
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var body = JsonSerializer.Serialize(Body(Cbr.NewName("csbs"), pattern, new { max_backups = 2 }, (server.Id, "s")))
            .Replace("OS::Nova::Server", type, StringComparison.Ordinal);
        (await Alice.PostAsync($"/v1/{Alice.ProjectId}/policies", body)).ExpectBackupError(400, code);
    }

    [Fact]
    public async Task A_policy_naming_a_server_the_caller_does_not_have_is_refused()
    {
        (await Alice.PostAsync($"/v1/{Alice.ProjectId}/policies",
            Body(Cbr.NewName("csbs"), Weekly, new { max_backups = 2 }, (Guid.NewGuid().ToString(), "ghost")))).ExpectBackupError(400, "CSBS.6000");
    }
}
