using System.Text.Json;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Backups;

public sealed class CbrBackupTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;
    private ApiClient Alice => Service.Client(TestAccounts.Alice);

    [Fact]
    public async Task A_checkpoint_backs_up_the_server_and_becomes_available()
    {
        var server = await TestServers.CreateAsync(Service, Alice, 10, 20);
        var vaultId = await Cbr.CreateVaultAsync(Alice, 200, server.Id);

        var created = await Cbr.CreateCheckpointAsync(Alice, vaultId, server.Id);
        var checkpointId = (string)created["id"]!;
        Assert.Equal("protecting", (string?)created["status"]);
        Assert.Equal(vaultId, (string?)created["vault"]!["id"]);
        Assert.Equal(server.Id, (string?)created["vault"]!["resources"]!.AsArray().Single()!["id"]);
        Assert.Empty(created["vault"]!["skipped_resources"]!.AsArray());

        var checkpoint = await Cbr.WaitAvailableAsync(Alice, checkpointId);
        Assert.Equal(checkpointId, (string?)checkpoint["id"]);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$", (string?)checkpoint["created_at"]);
        Assert.Equal(JsonValueKind.Number, checkpoint["extra_info"]!["retention_duration"]!.GetValueKind());
        var resource = checkpoint["vault"]!["resources"]!.AsArray().Single()!;
        Assert.Equal(server.Id, (string?)resource["id"]);
        Assert.Equal(server.Name, (string?)resource["name"]);
        Assert.Equal("OS::Nova::Server", (string?)resource["type"]);
        foreach (var field in new[] { "extra_info", "resource_size", "backup_size", "backup_count", "protect_status" })
            Assert.Equal(JsonValueKind.String, resource[field]!.GetValueKind());
        Assert.Equal(server.TotalGb.ToString(System.Globalization.CultureInfo.InvariantCulture), (string?)resource["resource_size"]);
        Assert.Equal("1", (string?)resource["backup_count"]);
        Assert.Null(await TestServers.TaskStateAsync(Alice, server.Id));

        var vault = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/vaults/{vaultId}")).Expect(200)["vault"];
        Assert.Equal(server.TotalGb * 1024, (long)vault["billing"]!["used"]!);
        Assert.Equal(1, (int)vault["resources"]![0]!["backup_count"]!);
    }

    [Fact]
    public async Task A_backup_records_every_disk_with_the_types_clients_decode()
    {
        var server = await TestServers.CreateAsync(Service, Alice, 10, 20);
        var (vaultId, checkpointId) = await Cbr.BackUpAsync(Alice, server.Id);

        var listed = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?checkpoint_id={checkpointId}")).Expect(200);
        Assert.Equal(1, (int)listed["count"]);
        var item = listed["backups"].AsArray().Single()!;
        var backupId = (string)item["id"]!;
        Assert.Equal(server.Id, (string?)item["resource_id"]);
        Assert.Equal("OS::Nova::Server", (string?)item["resource_type"]);
        Assert.Equal(JsonValueKind.Number, item["resource_size"]!.GetValueKind());
        Assert.Equal(server.TotalGb, (int)item["resource_size"]!);
        Assert.Equal("available", (string?)item["status"]);
        Assert.Equal(vaultId, (string?)item["vault_id"]);
        Assert.False(string.IsNullOrEmpty((string?)item["protected_at"]));
        Assert.False(string.IsNullOrEmpty((string?)item["updated_at"]));

        var backup = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups/{backupId}")).Expect(200)["backup"];
        Assert.Equal(backupId, (string?)backup["id"]);
        Assert.Equal(checkpointId, (string?)backup["checkpoint_id"]);
        Assert.Equal(vaultId, (string?)backup["vault_id"]);
        Assert.Equal(server.Name, (string?)backup["resource_name"]);
        Assert.Equal(Servers.Zone, (string?)backup["resource_az"]);
        Assert.Equal("backup", (string?)backup["image_type"]);
        Assert.Equal(Alice.ProjectId, (string?)backup["project_id"]);
        Assert.Equal("0", (string?)backup["enterprise_project_id"]);
        Assert.Equal(JsonValueKind.Number, backup["resource_size"]!.GetValueKind());
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$", (string?)backup["created_at"]);
        var extend = backup["extend_info"]!;
        foreach (var flag in new[] { "auto_trigger", "bootable", "incremental", "support_lld", "contain_system_disk", "encrypted", "system_disk" })
            Assert.True(extend[flag]!.GetValueKind() is JsonValueKind.True or JsonValueKind.False, flag);
        Assert.True((bool)extend["contain_system_disk"]!);
        Assert.Equal(JsonValueKind.Array, extend["os_images_data"]!.GetValueKind());

        var children = backup["children"]!.AsArray();
        Assert.Equal(3, children.Count);
        var system = children[0]!;
        Assert.Equal(server.SystemVolumeId, (string?)system["resource_id"]);
        Assert.Equal("OS::Cinder::Volume", (string?)system["resource_type"]);
        Assert.Equal(server.SystemDiskGb, (int)system["resource_size"]!);
        Assert.True((bool)system["extend_info"]!["system_disk"]!);
        Assert.Equal(server.DataVolumes.Select(v => v.Id).Order(), children.Skip(1).Select(c => (string)c!["resource_id"]!).Order());
        Assert.All(children, c => Assert.NotEqual(backupId, (string?)c!["id"]));
        Assert.Equal(children.Count, children.Select(c => (string?)c!["id"]).Distinct().Count());
    }

    [Fact]
    public async Task Excluded_disks_are_not_captured()
    {
        var server = await TestServers.CreateAsync(Service, Alice, 10, 20);
        var vaultId = await Cbr.CreateVaultAsync(Alice);
        (await Alice.PostAsync($"/v3/{Alice.ProjectId}/vaults/{vaultId}/addresources",
            new { resources = new[] { Cbr.ServerResource(server.Id, server.DataVolumes[1].Id) } })).Expect(200);
        var checkpoint = await Cbr.CreateCheckpointAsync(Alice, vaultId);
        await Cbr.WaitAvailableAsync(Alice, (string)checkpoint["id"]!);
        var backup = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?checkpoint_id={checkpoint["id"]}")).Expect(200)["backups"][0]!;
        Assert.Equal(server.SystemDiskGb + 10, (int)backup["resource_size"]!);
        Assert.Equal(2, backup["children"]!.AsArray().Count);
    }

    [Fact]
    public async Task Without_resource_details_every_server_of_the_vault_is_backed_up()
    {
        var first = await TestServers.CreateAsync(Service, Alice);
        var second = await TestServers.CreateAsync(Service, Alice, 15);
        var vaultId = await Cbr.CreateVaultAsync(Alice, 200, first.Id, second.Id);
        var response = await Alice.PostAsync($"/v3/{Alice.ProjectId}/checkpoints", new { checkpoint = new { vault_id = vaultId } });
        response.Expect(200);
        var checkpointId = (string)response["checkpoint"]["id"]!;
        var checkpoint = await Cbr.WaitAvailableAsync(Alice, checkpointId);
        Assert.Equal(2, checkpoint["vault"]!["resources"]!.AsArray().Count);
        var backups = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?vault_id={vaultId}")).Expect(200);
        Assert.Equal(2, (int)backups["count"]);
        Assert.Equal(new[] { first.Id, second.Id }.Order(), backups["backups"].AsArray().Select(b => (string)b!["resource_id"]!).Order());
    }

    [Fact]
    public async Task Backups_list_filters_and_pages_with_offset_like_terraform()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var vaultId = await Cbr.CreateVaultAsync(Alice, 200, server.Id);
        var checkpoints = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var checkpoint = await Cbr.CreateCheckpointAsync(Alice, vaultId, server.Id);
            await Cbr.WaitAvailableAsync(Alice, (string)checkpoint["id"]!);
            checkpoints.Add((string)checkpoint["id"]!);
        }
        var all = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?resource_id={server.Id}")).Expect(200);
        Assert.Equal(3, (int)all["count"]);
        var page = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?resource_id={server.Id}&limit=2")).Expect(200)["backups"].AsArray();
        Assert.Equal(2, page.Count);
        var next = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?resource_id={server.Id}&limit=2&offset=2")).Expect(200)["backups"].AsArray();
        Assert.Single(next);
        Assert.DoesNotContain((string?)next[0]!["id"], page.Select(b => (string?)b!["id"]));

        var one = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?checkpoint_id={checkpoints[1]}")).Expect(200);
        Assert.Single(one["backups"].AsArray());
        var end = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?checkpoint_id={checkpoints[1]}&offset=1")).Expect(200);
        Assert.Empty(end["backups"].AsArray());
        Assert.Equal(3, (int)(await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?vault_id={vaultId}&status=available")).Expect(200)["count"]);
        Assert.Empty((await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?vault_id={vaultId}&status=error")).Expect(200)["backups"].AsArray());
        Assert.Equal(3, (int)(await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?vault_id={vaultId}&incremental=false")).Expect(200)["count"]);
    }

    [Fact]
    public async Task Deleting_the_last_backup_removes_the_checkpoint()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var (_, checkpointId) = await Cbr.BackUpAsync(Alice, server.Id);
        var backupId = (string)(await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?checkpoint_id={checkpointId}")).Expect(200)["backups"][0]!["id"]!;

        (await Alice.DeleteAsync($"/v3/{Alice.ProjectId}/backups/{backupId}")).Expect(204);
        (await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups/{backupId}")).ExpectBackupError(404, "BackupService.6302");
        (await Alice.GetAsync($"/v3/{Alice.ProjectId}/checkpoints/{checkpointId}")).ExpectBackupError(404, "BackupService.6302");
        (await Alice.DeleteAsync($"/v3/{Alice.ProjectId}/backups/{backupId}")).ExpectBackupError(404, "BackupService.6302");
        Assert.Empty((await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?checkpoint_id={checkpointId}")).Expect(200)["backups"].AsArray());
    }

    [Fact]
    public async Task A_checkpoint_with_several_backups_lives_until_the_last_is_deleted()
    {
        var first = await TestServers.CreateAsync(Service, Alice);
        var second = await TestServers.CreateAsync(Service, Alice);
        var (_, checkpointId) = await Cbr.BackUpAsync(Alice, first.Id, second.Id);
        var backups = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?checkpoint_id={checkpointId}")).Expect(200)["backups"].AsArray();
        (await Alice.DeleteAsync($"/v3/{Alice.ProjectId}/backups/{backups[0]!["id"]}")).Expect(204);
        var checkpoint = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/checkpoints/{checkpointId}")).Expect(200)["checkpoint"];
        Assert.Single(checkpoint["vault"]!["resources"]!.AsArray());
        (await Alice.DeleteAsync($"/v3/{Alice.ProjectId}/backups/{backups[1]!["id"]}")).Expect(204);
        (await Alice.GetAsync($"/v3/{Alice.ProjectId}/checkpoints/{checkpointId}")).ExpectBackupError(404, "BackupService.6302");
    }

    [Fact]
    public async Task Deleting_a_vault_deletes_its_backups_and_checkpoints()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var (vaultId, checkpointId) = await Cbr.BackUpAsync(Alice, server.Id);
        var backupId = (string)(await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?checkpoint_id={checkpointId}")).Expect(200)["backups"][0]!["id"]!;
        (await Alice.DeleteAsync($"/v3/{Alice.ProjectId}/vaults/{vaultId}")).Expect(204);
        (await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups/{backupId}")).ExpectBackupError(404, "BackupService.6302");
        (await Alice.GetAsync($"/v3/{Alice.ProjectId}/checkpoints/{checkpointId}")).ExpectBackupError(404, "BackupService.6302");
        // The server is free again for another vault.
        await Cbr.CreateVaultAsync(Alice, 100, server.Id);
    }

    [Fact]
    public async Task Servers_that_cannot_be_backed_up_are_skipped_or_refused()
    {
        var broken = await TestServers.CreateAsync(Service, Alice);
        var busy = await TestServers.CreateAsync(Service, Alice);
        var fine = await TestServers.CreateAsync(Service, Alice);
        var vaultId = await Cbr.CreateVaultAsync(Alice, 200, broken.Id, busy.Id, fine.Id);
        await TestServers.ForceAsync(Service, broken.Id, status: "ERROR");
        await TestServers.ForceAsync(Service, busy.Id, taskState: "image_creating");

        var only = await Alice.PostAsync($"/v3/{Alice.ProjectId}/checkpoints", new
        {
            checkpoint = new { vault_id = vaultId, parameters = new { resources = new[] { broken.Id, busy.Id } } },
        });
        only.ExpectBackupError(400, "BackupService.0001");

        var response = await Alice.PostAsync($"/v3/{Alice.ProjectId}/checkpoints", new { checkpoint = new { vault_id = vaultId } });
        response.Expect(200);
        var skipped = response["checkpoint"]["vault"]!["skipped_resources"]!.AsArray();
        Assert.Equal(new[] { broken.Id, busy.Id }.Order(), skipped.Select(s => (string)s!["id"]!).Order());
        Assert.All(skipped, s => Assert.False(string.IsNullOrEmpty((string?)s!["reason"])));
        var checkpoint = await Cbr.WaitAvailableAsync(Alice, (string)response["checkpoint"]["id"]!);
        Assert.Equal(fine.Id, (string?)checkpoint["vault"]!["resources"]!.AsArray().Single()!["id"]);
        Assert.Equal("image_creating", await TestServers.TaskStateAsync(Alice, busy.Id));

        await TestServers.ForceAsync(Service, fine.Id, status: "BUILD");
        (await Alice.PostAsync($"/v3/{Alice.ProjectId}/checkpoints",
            new { checkpoint = new { vault_id = vaultId, parameters = new { resources = new[] { fine.Id } } } })).ExpectBackupError(400, "BackupService.0001");
    }

    [Fact]
    public async Task A_server_being_backed_up_is_busy_until_the_job_ends()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var vaultId = await Cbr.CreateVaultAsync(Alice, 200, server.Id);
        var checkpoint = await Cbr.CreateCheckpointAsync(Alice, vaultId, server.Id);
        // Either the job is still running (the server is busy) or it has already finished and released the server.
        var state = await TestServers.TaskStateAsync(Alice, server.Id);
        Assert.True(state is null or "backing_up", state);
        await Cbr.WaitAvailableAsync(Alice, (string)checkpoint["id"]!);
        Assert.Null(await TestServers.TaskStateAsync(Alice, server.Id));
    }

    [Fact]
    public async Task A_failed_capture_ends_in_error_and_releases_the_server()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var vaultId = await Cbr.CreateVaultAsync(Alice);
        // Excluding the only disk leaves the job nothing to capture.
        (await Alice.PostAsync($"/v3/{Alice.ProjectId}/vaults/{vaultId}/addresources",
            new { resources = new[] { Cbr.ServerResource(server.Id, server.SystemVolumeId) } })).Expect(200);
        var created = await Alice.PostAsync($"/v3/{Alice.ProjectId}/checkpoints", new { checkpoint = new { vault_id = vaultId } });
        created.Expect(200);
        var checkpointId = (string)created["checkpoint"]["id"]!;
        await Poll.UntilAsync(async () =>
            (string?)(await Alice.GetAsync($"/v3/{Alice.ProjectId}/checkpoints/{checkpointId}")).Expect(200)["checkpoint"]["status"] == "error",
            TimeSpan.FromSeconds(30), "the checkpoint to fail");
        var checkpoint = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/checkpoints/{checkpointId}")).Expect(200)["checkpoint"];
        Assert.Equal("error", (string?)checkpoint["vault"]!["resources"]![0]!["protect_status"]);
        Assert.Null(await TestServers.TaskStateAsync(Alice, server.Id));
        // A failed backup can be deleted, and with it the checkpoint.
        var backupId = (string)(await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?checkpoint_id={checkpointId}")).Expect(200)["backups"][0]!["id"]!;
        (await Alice.DeleteAsync($"/v3/{Alice.ProjectId}/backups/{backupId}")).Expect(204);
        (await Alice.GetAsync($"/v3/{Alice.ProjectId}/checkpoints/{checkpointId}")).ExpectBackupError(404, "BackupService.6302");
    }

    [Fact]
    public async Task A_server_with_nothing_to_capture_fails_only_its_own_backup()
    {
        var good = await TestServers.CreateAsync(Service, Alice);
        var empty = await TestServers.CreateAsync(Service, Alice);
        var vaultId = await Cbr.CreateVaultAsync(Alice, 200, good.Id);
        (await Alice.PostAsync($"/v3/{Alice.ProjectId}/vaults/{vaultId}/addresources",
            new { resources = new[] { Cbr.ServerResource(empty.Id, empty.SystemVolumeId) } })).Expect(200);
        var created = await Alice.PostAsync($"/v3/{Alice.ProjectId}/checkpoints", new { checkpoint = new { vault_id = vaultId } });
        var checkpointId = (string)created.Expect(200)["checkpoint"]["id"]!;
        await Poll.UntilAsync(async () =>
            (string?)(await Alice.GetAsync($"/v3/{Alice.ProjectId}/checkpoints/{checkpointId}")).Expect(200)["checkpoint"]["status"] == "available",
            TimeSpan.FromSeconds(30), "the checkpoint to finish");
        var resources = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/checkpoints/{checkpointId}")).Expect(200)["checkpoint"]["vault"]!["resources"]!.AsArray();
        Assert.Equal("available", (string?)resources.Single(r => (string?)r!["id"] == good.Id)!["protect_status"]);
        Assert.Equal("error", (string?)resources.Single(r => (string?)r!["id"] == empty.Id)!["protect_status"]);
        Assert.Null(await TestServers.TaskStateAsync(Alice, empty.Id));
        Assert.Null(await TestServers.TaskStateAsync(Alice, good.Id));
    }

    [Fact]
    public async Task A_stopped_server_can_be_backed_up()
    {
        var server = await TestServers.CreateAsync(Service, Alice, 10);
        await Servers.PowerAsync(Alice, "os-stop", server.Id);
        Assert.Equal("SHUTOFF", (string?)(await Servers.GetServerAsync(Alice, server.Id))["status"]);
        var (_, checkpointId) = await Cbr.BackUpAsync(Alice, server.Id);
        var backup = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?checkpoint_id={checkpointId}")).Expect(200)["backups"][0]!;
        Assert.Equal(server.TotalGb, (int)backup["resource_size"]!);
    }

    public static TheoryData<string> BadCheckpointBodies => new()
    {
        "",
        "{",
        "{}",
        """{"checkpoint":{}}""",
        """{"checkpoint":{"vault_id":""}}""",
        """{"checkpoint":{"vault_id":7}}""",
        """{"checkpoint":{"vault_id":"v","parameters":{"incremental":"no"}}}""",
        """{"checkpoint":{"vault_id":"v","parameters":{"name":""}}}""",
        """{"checkpoint":{"vault_id":"v","parameters":{"description":"<b>"}}}""",
        """{"checkpoint":{"vault_id":"v","parameters":{"resources":[""]}}}""",
        """{"checkpoint":{"vault_id":"v","parameters":{"resource_details":[{"type":"OS::Nova::Server"}]}}}""",
        """{"checkpoint":{"vault_id":"v","parameters":{"resource_details":{"id":"x"}}}}""",
    };

    [Theory]
    [MemberData(nameof(BadCheckpointBodies))]
    public async Task Malformed_checkpoint_bodies_get_400(string body)
    {
        (await Alice.PostAsync($"/v3/{Alice.ProjectId}/checkpoints", body)).ExpectBackupError(400, "BackupService.6301");
    }

    [Fact]
    public async Task Bad_references_and_queries_get_cbr_errors()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var vaultId = await Cbr.CreateVaultAsync(Alice, 100, server.Id);
        var p = Alice.ProjectId;
        var missing = Guid.NewGuid().ToString();
        (await Alice.PostAsync($"/v3/{p}/checkpoints", new { checkpoint = new { vault_id = missing } })).ExpectBackupError(404, "BackupService.6105");
        (await Alice.PostAsync($"/v3/{p}/checkpoints", new
        {
            checkpoint = new { vault_id = vaultId, parameters = new { resource_details = new[] { new { id = server.Id, type = "OS::Cinder::Volume" } } } },
        })).ExpectBackupError(400, "BackupService.6102");
        (await Alice.PostAsync($"/v3/{p}/checkpoints", new
        {
            checkpoint = new { vault_id = vaultId, parameters = new { resources = new[] { server.Id, server.Id } } },
        })).ExpectBackupError(400, "BackupService.6104");
        (await Alice.PostAsync($"/v3/{p}/checkpoints", new
        {
            checkpoint = new { vault_id = vaultId, parameters = new { resources = new[] { missing } } },
        })).ExpectBackupError(400, "BackupService.0001");
        var empty = await Cbr.CreateVaultAsync(Alice);
        (await Alice.PostAsync($"/v3/{p}/checkpoints", new { checkpoint = new { vault_id = empty } })).ExpectBackupError(400, "BackupService.0001");
        (await Alice.GetAsync($"/v3/{p}/checkpoints/{missing}")).ExpectBackupError(404, "BackupService.6302");
        (await Alice.GetAsync($"/v3/{p}/backups/{missing}")).ExpectBackupError(404, "BackupService.6302");
        (await Alice.DeleteAsync($"/v3/{p}/backups/{missing}")).ExpectBackupError(404, "BackupService.6302");
        (await Alice.GetAsync($"/v3/{p}/backups?limit=0")).ExpectBackupError(400, "BackupService.6301");
        (await Alice.GetAsync($"/v3/{p}/backups?limit=abc")).ExpectBackupError(400, "BackupService.6301");
        (await Alice.GetAsync($"/v3/{p}/backups?offset=-3")).ExpectBackupError(400, "BackupService.6301");
        (await Alice.GetAsync($"/v3/{p}/backups?incremental=maybe")).ExpectBackupError(400, "BackupService.6301");
    }
}
