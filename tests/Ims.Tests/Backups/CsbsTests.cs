using System.Text.Json;
using System.Text.Json.Nodes;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Backups;

public sealed class CsbsTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    public const string Provider = "fc4d5750-22e7-4798-8a46-f48f62c4c1da";
    private const string NoZone = @"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$";

    private TestService Service => fixture.Service;
    private ApiClient Alice => Service.Client(TestAccounts.Alice);

    /// <summary>The deprecated terraform resource's flow: check, protect, find the item by checkpoint, wait for it.</summary>
    public static async Task<(string CheckpointId, string ItemId)> BackUpAsync(ApiClient client, string serverId, string? name = null)
    {
        var check = await client.PostAsync($"/v1/{client.ProjectId}/providers/{Provider}/resources/action",
            new { check_protectable = new[] { new { resource_id = serverId, resource_type = "OS::Nova::Server" } } });
        check.Expect(200);
        Assert.True((bool)check["protectable"][0]!["result"]!, check.Body);

        var protect = await client.PostAsync($"/v1/{client.ProjectId}/providers/{Provider}/resources/{serverId}/action",
            new { protect = new { backup_name = name ?? Cbr.NewName("csbs"), description = "d", resource_type = "OS::Nova::Server" } });
        protect.Expect(200);
        var checkpointId = (string)protect["checkpoint"]["id"]!;

        var items = (await client.GetAsync($"/v1/{client.ProjectId}/checkpoint_items?checkpoint_id={checkpointId}")).Expect(200);
        var itemId = (string)items["checkpoint_items"][0]!["id"]!;
        await Poll.UntilAsync(async () =>
        {
            var item = (await client.GetAsync($"/v1/{client.ProjectId}/checkpoint_items/{itemId}")).Expect(200)["checkpoint_item"];
            Assert.NotEqual("error", (string?)item["status"]);
            return (string?)item["status"] == "available";
        }, TimeSpan.FromSeconds(30), $"CSBS backup {itemId} to become available");
        return (checkpointId, itemId);
    }

    [Fact]
    public async Task Protect_answers_a_protecting_checkpoint_with_its_plan()
    {
        var server = await TestServers.CreateAsync(Service, Alice, 10);
        var name = Cbr.NewName("csbs");
        var protect = await Alice.PostAsync($"/v1/{Alice.ProjectId}/providers/{Provider}/resources/{server.Id}/action",
            new { protect = new { backup_name = name, resource_type = "OS::Nova::Server" } });
        protect.Expect(200);
        var checkpoint = protect["checkpoint"];
        Assert.Equal("protecting", (string?)checkpoint["status"]);
        Assert.Matches(NoZone, (string?)checkpoint["created_at"]);
        Assert.Equal(Alice.ProjectId, (string?)checkpoint["project_id"]);
        var plan = checkpoint["protection_plan"]!;
        Assert.Equal(name, (string?)plan["name"]);
        Assert.False(string.IsNullOrEmpty((string?)plan["id"]));
        var resource = plan["resources"]!.AsArray().Single()!;
        Assert.Equal(server.Id, (string?)resource["id"]);
        Assert.Equal("OS::Nova::Server", (string?)resource["type"]);
        Assert.Equal(server.Name, (string?)resource["name"]);

        // The item exists at once, as the clients list it right after protect.
        var items = (await Alice.GetAsync($"/v1/{Alice.ProjectId}/checkpoint_items?checkpoint_id={checkpoint["id"]}")).Expect(200);
        Assert.Single(items["checkpoint_items"].AsArray());
    }

    [Fact]
    public async Task A_checkpoint_item_reads_with_the_types_and_dates_clients_decode()
    {
        var server = await TestServers.CreateAsync(Service, Alice, 10, 20);
        var (checkpointId, itemId) = await BackUpAsync(Alice, server.Id);
        Assert.Null(await TestServers.TaskStateAsync(Alice, server.Id));

        var item = (await Alice.GetAsync($"/v1/{Alice.ProjectId}/checkpoint_items/{itemId}")).Expect(200)["checkpoint_item"];
        Assert.Equal(checkpointId, (string?)item["checkpoint_id"]);
        Assert.Equal(server.Id, (string?)item["resource_id"]);
        Assert.Equal("OS::Nova::Server", (string?)item["resource_type"]);
        Assert.Equal("d", (string?)item["description"]);
        Assert.Matches(NoZone, (string?)item["created_at"]);
        Assert.Matches(NoZone, (string?)item["updated_at"]);
        Assert.Equal(JsonValueKind.Array, item["tags"]!.GetValueKind());

        var extend = item["extend_info"]!;
        foreach (var number in new[] { "progress", "size", "space_saving_ratio", "average_speed" })
            Assert.Equal(JsonValueKind.Number, extend[number]!.GetValueKind());
        Assert.Equal(100, (int)extend["progress"]!);
        Assert.Equal(server.TotalGb * 1024, (long)extend["size"]!);
        Assert.Matches(NoZone, (string?)extend["finished_at"]);
        Assert.Equal(server.Name, (string?)extend["resource_name"]);
        Assert.Equal(Servers.Zone, (string?)extend["resource_az"]);
        Assert.Equal(JsonValueKind.False, extend["auto_trigger"]!.GetValueKind());

        var volumes = extend["volume_backups"]!.AsArray();
        Assert.Equal(3, volumes.Count);
        var system = volumes[0]!;
        Assert.Equal(server.SystemVolumeId, (string?)system["source_volume_id"]);
        Assert.Equal(server.SystemDiskGb, (int)system["source_volume_size"]!);
        Assert.True((bool)system["bootable"]!);
        foreach (var volume in volumes)
        {
            foreach (var number in new[] { "size", "source_volume_size", "average_speed", "space_saving_ratio" })
                Assert.Equal(JsonValueKind.Number, volume![number]!.GetValueKind());
            Assert.Equal("available", (string?)volume!["status"]);
            Assert.False(string.IsNullOrEmpty((string?)volume["id"]));
        }

        var data = item["backup_data"]!;
        foreach (var number in new[] { "disk", "ram", "vcpus" })
            Assert.Equal(JsonValueKind.Number, data[number]!.GetValueKind());
        Assert.Equal(server.SystemDiskGb, (int)data["disk"]!);
        Assert.Equal(2, (int)data["vcpus"]!);
        Assert.Equal(4096, (int)data["ram"]!);
        Assert.Equal("cn-north-4", (string?)data["__openstack_region_name"]);

        // CSBS backups are not CBR backups.
        (await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups/{itemId}")).ExpectBackupError(404, "BackupService.6302");
        (await Alice.GetAsync($"/v3/{Alice.ProjectId}/checkpoints/{checkpointId}")).ExpectBackupError(404, "BackupService.6302");
    }

    [Fact]
    public async Task Checkpoint_items_page_with_markers_and_links()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var ids = new List<string>();
        for (var i = 0; i < 3; i++) ids.Add((await BackUpAsync(Alice, server.Id)).ItemId);

        var first = (await Alice.GetAsync($"/v1/{Alice.ProjectId}/checkpoint_items?resource_id={server.Id}&limit=2")).Expect(200);
        Assert.Equal(3, (int)first["count"]);
        var page = first["checkpoint_items"].AsArray().Select(i => (string)i!["id"]!).ToList();
        Assert.Equal(2, page.Count);
        var next = (string)first["checkpoint_items_links"].AsArray().Single()!["href"]!;
        Assert.Equal("next", (string?)first["checkpoint_items_links"][0]!["rel"]);
        Assert.Contains($"marker={page[1]}", next, StringComparison.Ordinal);

        var second = (await Alice.GetAsync(new Uri(next).PathAndQuery)).Expect(200);
        var rest = second["checkpoint_items"].AsArray().Select(i => (string)i!["id"]!).ToList();
        Assert.Single(rest);
        Assert.Empty(second["checkpoint_items_links"].AsArray());
        Assert.Equal(ids.Order(), page.Concat(rest).Order());

        var filtered = (await Alice.GetAsync($"/v1/{Alice.ProjectId}/checkpoint_items?resource_id={server.Id}&status=error")).Expect(200);
        Assert.Empty(filtered["checkpoint_items"].AsArray());
    }

    [Fact]
    public async Task Deleting_the_checkpoint_deletes_the_item()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var (checkpointId, itemId) = await BackUpAsync(Alice, server.Id);
        var delete = await Alice.DeleteAsync($"/v1/{Alice.ProjectId}/providers/{Provider}/checkpoints/{checkpointId}");
        delete.Expect(200);
        (await Alice.GetAsync($"/v1/{Alice.ProjectId}/checkpoint_items/{itemId}")).ExpectBackupError(404, "CSBS.9002");
        (await Alice.DeleteAsync($"/v1/{Alice.ProjectId}/providers/{Provider}/checkpoints/{checkpointId}")).ExpectBackupError(404, "CSBS.9002");
        Assert.Empty((await Alice.GetAsync($"/v1/{Alice.ProjectId}/checkpoint_items?checkpoint_id={checkpointId}")).Expect(200)["checkpoint_items"].AsArray());
    }

    [Fact]
    public async Task Check_protectable_reports_each_resource()
    {
        var fine = await TestServers.CreateAsync(Service, Alice);
        var broken = await TestServers.CreateAsync(Service, Alice);
        var busy = await TestServers.CreateAsync(Service, Alice);
        await TestServers.ForceAsync(Service, broken.Id, status: "ERROR");
        await TestServers.ForceAsync(Service, busy.Id, taskState: "backing_up");
        var bobs = await TestServers.CreateAsync(Service, Service.Client(TestAccounts.Bob));
        var missing = Guid.NewGuid().ToString();
        var inVault = await TestServers.CreateAsync(Service, Alice);
        await Cbr.CreateVaultAsync(Alice, 100, inVault.Id);

        var response = await Alice.PostAsync($"/v1/{Alice.ProjectId}/providers/{Provider}/resources/action", new
        {
            check_protectable = new[]
            {
                new { resource_id = fine.Id, resource_type = "OS::Nova::Server" },
                new { resource_id = broken.Id, resource_type = "OS::Nova::Server" },
                new { resource_id = busy.Id, resource_type = "OS::Nova::Server" },
                new { resource_id = bobs.Id, resource_type = "OS::Nova::Server" },
                new { resource_id = missing, resource_type = "OS::Nova::Server" },
                new { resource_id = fine.Id, resource_type = "OS::Cinder::Volume" },
                new { resource_id = inVault.Id, resource_type = "OS::Nova::Server" },
            },
        });
        response.Expect(200);
        var results = response["protectable"].AsArray();
        Assert.Equal(7, results.Count);
        Assert.All(results, r => Assert.True(r!["result"]!.GetValueKind() is JsonValueKind.True or JsonValueKind.False));
        AssertResult(results[0]!, fine.Id, true, "");
        AssertResult(results[1]!, broken.Id, false, "CSBS.6006");
        AssertResult(results[2]!, busy.Id, false, "CSBS.6005");
        AssertResult(results[3]!, bobs.Id, false, "CSBS.6000");
        AssertResult(results[4]!, missing, false, "CSBS.6000");
        AssertResult(results[5]!, fine.Id, false, "CSBS.6003");
        // DECISION: a server in a CBR vault can still be backed up by CSBS (the services are independent).
        AssertResult(results[6]!, inVault.Id, true, "");
    }

    private static void AssertResult(JsonNode result, string id, bool ok, string code)
    {
        Assert.Equal(id, (string?)result["resource_id"]);
        Assert.Equal(ok, (bool)result["result"]!);
        Assert.Equal(code, (string?)result["error_code"]);
        Assert.Equal(ok, string.IsNullOrEmpty((string?)result["error_msg"]));
    }

    [Fact]
    public async Task Protect_refuses_servers_that_cannot_be_backed_up()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var path = $"/v1/{Alice.ProjectId}/providers/{Provider}/resources/{server.Id}/action";
        var body = new { protect = new { backup_name = "b1" } };
        await TestServers.ForceAsync(Service, server.Id, status: "BUILD");
        (await Alice.PostAsync(path, body)).ExpectBackupError(400, "CSBS.6006");
        await TestServers.ForceAsync(Service, server.Id, status: "ACTIVE", taskState: "backing_up");
        (await Alice.PostAsync(path, body)).ExpectBackupError(400, "CSBS.6005");
        (await Alice.PostAsync($"/v1/{Alice.ProjectId}/providers/{Provider}/resources/{Guid.NewGuid()}/action", body)).ExpectBackupError(400, "CSBS.6000");
        (await Alice.PostAsync(path, new { protect = new { resource_type = "OS::Cinder::Volume" } })).ExpectBackupError(400, "CSBS.6003");
    }

    [Fact]
    public async Task Servers_with_a_shared_disk_are_refused_by_csbs_but_not_by_cbr()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var shared = await Servers.CreateVolumeAsync(Alice, 10, multiattach: true);
        await Servers.AttachAsync(Alice, server.Id, shared);

        var check = await Alice.PostAsync($"/v1/{Alice.ProjectId}/providers/{Provider}/resources/action",
            new { check_protectable = new[] { new { resource_id = server.Id, resource_type = "OS::Nova::Server" } } });
        AssertResult(check.Expect(200)["protectable"][0]!, server.Id, false, "CSBS.6010");
        (await Alice.PostAsync($"/v1/{Alice.ProjectId}/providers/{Provider}/resources/{server.Id}/action", new { protect = new { } }))
            .ExpectBackupError(400, "CSBS.6010");

        var (_, checkpointId) = await Cbr.BackUpAsync(Alice, server.Id);
        var backup = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?checkpoint_id={checkpointId}")).Expect(200)["backups"][0]!;
        Assert.Contains(shared, backup["children"]!.AsArray().Select(c => (string?)c!["resource_id"]));
    }

    [Fact]
    public async Task A_second_protect_while_the_first_runs_is_refused_or_queued_after_it()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var path = $"/v1/{Alice.ProjectId}/providers/{Provider}/resources/{server.Id}/action";
        (await Alice.PostAsync(path, new { protect = new { } })).Expect(200);
        var second = await Alice.PostAsync(path, new { protect = new { } });
        // The job may already have finished (no step delay in tests); if not, the server is busy.
        if (second.Code != 200) second.ExpectBackupError(400, "CSBS.6005");
    }

    public static TheoryData<string> BadProtectBodies => new()
    {
        "",
        "{",
        "{}",
        """{"protect":"x"}""",
        """{"protect":{"backup_name":""}}""",
        """{"protect":{"backup_name":"has space"}}""",
        """{"protect":{"backup_name":7}}""",
        """{"protect":{"description":"<script>"}}""",
        """{"protect":{"incremental":"yes"}}""",
        """{"protect":{"tags":[{"value":"v"}]}}""",
    };

    [Theory]
    [MemberData(nameof(BadProtectBodies))]
    public async Task Malformed_protect_bodies_get_400_in_csbs_shape(string body)
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        (await Alice.PostAsync($"/v1/{Alice.ProjectId}/providers/{Provider}/resources/{server.Id}/action", body)).ExpectBackupError(400, "CSBS.9001");
    }

    [Fact]
    public async Task Bad_input_on_the_other_csbs_endpoints()
    {
        var p = Alice.ProjectId;
        var other = Guid.NewGuid().ToString();
        (await Alice.PostAsync($"/v1/{p}/providers/{other}/resources/action",
            new { check_protectable = new[] { new { resource_id = other, resource_type = "OS::Nova::Server" } } })).ExpectBackupError(400, "CSBS.9001");
        (await Alice.PostAsync($"/v1/{p}/providers/{Provider}/resources/action", "{")).ExpectBackupError(400, "CSBS.9001");
        (await Alice.PostAsync($"/v1/{p}/providers/{Provider}/resources/action", new { check_protectable = Array.Empty<object>() })).ExpectBackupError(400, "CSBS.9001");
        (await Alice.PostAsync($"/v1/{p}/providers/{Provider}/resources/action", new { check_protectable = new[] { new { resource_id = other } } }))
            .ExpectBackupError(400, "CSBS.9001");
        (await Alice.PostAsync($"/v1/{p}/providers/{other}/resources/{other}/action", new { protect = new { } })).ExpectBackupError(400, "CSBS.9001");
        (await Alice.DeleteAsync($"/v1/{p}/providers/{other}/checkpoints/{other}")).ExpectBackupError(400, "CSBS.9001");
        (await Alice.DeleteAsync($"/v1/{p}/providers/{Provider}/checkpoints/{other}")).ExpectBackupError(404, "CSBS.9002");
        (await Alice.GetAsync($"/v1/{p}/checkpoint_items/{other}")).ExpectBackupError(404, "CSBS.9002");
        (await Alice.GetAsync($"/v1/{p}/checkpoint_items?limit=0")).ExpectBackupError(400, "CSBS.9001");
        (await Alice.GetAsync($"/v1/{p}/checkpoint_items?limit=x")).ExpectBackupError(400, "CSBS.9001");
        (await Alice.GetAsync($"/v1/{p}/checkpoint_items?marker={other}")).ExpectBackupError(400, "CSBS.9001");
    }
}
