using System.Text.Json.Nodes;
using Ims.Tests.DataPlane;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Backups;

/// <summary>
/// CSBS restores, compared byte for byte: a server's disks after a restore hold what they held when the CSBS backup was
/// taken; a refused or failed restore changes nothing.
/// </summary>
public sealed class CsbsRestoreTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private const string Provider = CsbsTests.Provider;

    private TestService Service => fixture.Service;
    private ApiClient Alice => Service.Client(TestAccounts.Alice);

    /// <summary>The body the OTC SDK's CreateRestorationTask sends (it always sends targets, and volumes as null when unset).</summary>
    public static object RestoreBody(string checkpointId, string itemId, string serverId, bool powerOn = true, object[]? volumes = null) => new
    {
        restore = new
        {
            provider_id = Provider,
            checkpoint_id = checkpointId,
            parameters = new { checkpoint_item_id = itemId, power_on = powerOn, targets = new { server_id = serverId, volumes } },
        },
    };

    /// <summary>Polls the restore until it ends; returns it.</summary>
    public static async Task<JsonNode> WaitRestoreAsync(ApiClient client, string restoreId)
    {
        JsonNode? restore = null;
        await Poll.UntilAsync(async () =>
        {
            restore = (await client.GetAsync($"/v1/{client.ProjectId}/restores/{restoreId}")).Expect(200)["restore"];
            return (string?)restore["status"] is "success" or "fail";
        }, TimeSpan.FromSeconds(60), $"CSBS restore {restoreId} to end");
        return restore!;
    }

    private static async Task<List<string>> ChunksAsync(ApiClient client, params string[] volumeIds)
    {
        var all = new List<string>();
        foreach (var id in volumeIds) all.AddRange(await DiskBytes.ChunksAsync(client, id));
        return all;
    }

    private static async Task<string> ItemStatusAsync(ApiClient client, string itemId) =>
        (string)(await client.GetAsync($"/v1/{client.ProjectId}/checkpoint_items/{itemId}")).Expect(200)["checkpoint_item"]["status"]!;

    [Fact]
    public async Task A_CSBS_backup_goes_back_onto_its_stopped_server_with_the_bytes_of_backup_time()
    {
        var pid = Alice.ProjectId;
        var server = await TestServers.CreateAsync(Service, Alice, 10);
        var disks = new[] { server.SystemVolumeId, server.DataVolumes[0].Id };
        await DiskBytes.WritePatternsAsync(Alice, server, seed: 700);
        var atBackup = await ChunksAsync(Alice, disks);
        var (checkpointId, itemId) = await CsbsTests.BackUpAsync(Alice, server.Id);

        foreach (var (disk, n) in disks.Select((d, n) => (d, n))) await DiskBytes.WriteAsync(Alice, disk, 0, DiskBytes.Pattern(710 + n, 8192));
        var overwritten = await ChunksAsync(Alice, disks);
        Assert.NotEqual(atBackup, overwritten);
        await Servers.PowerAsync(Alice, "os-stop", server.Id);

        var check = (await Alice.PostAsync($"/v1/{pid}/providers/{Provider}/resources/action", new
        {
            check_restorable = new[] { new { checkpoint_item_id = itemId, target = new { resource_id = server.Id, resource_type = "OS::Nova::Server", volumes = Array.Empty<object>() } } },
        })).Expect(200)["restorable"]![0]!;
        Assert.True((bool)check["result"]!, check.ToJsonString());
        Assert.Equal("", (string?)check["error_code"]);
        // The check took nothing: the server is free for the restore.
        Assert.Null(await TestServers.TaskStateAsync(Alice, server.Id));

        var restore = (await Alice.PostAsync($"/v1/{pid}/restores", RestoreBody(checkpointId, itemId, server.Id))).Expect(200)["restore"];
        Assert.Equal(checkpointId, (string?)restore["checkpoint_id"]);
        Assert.Equal(Provider, (string?)restore["provider_id"]);
        Assert.Equal(pid, (string?)restore["project_id"]);
        Assert.Equal(itemId, (string?)restore["parameters"]!["checkpoint_item_id"]);
        Assert.Equal(server.Id, (string?)restore["parameters"]!["targets"]!["server_id"]);
        Assert.Contains((string?)restore["status"], new[] { "in_progress", "success" });
        var done = await WaitRestoreAsync(Alice, (string)restore["id"]!);
        Assert.Equal("success", (string?)done["status"]);
        Assert.Equal("available", (string?)done["resources_status"]![$"OS::Nova::Server#{server.Id}"]);

        Assert.Equal(atBackup, await ChunksAsync(Alice, disks));
        Assert.Equal("ACTIVE", (string?)(await Servers.GetServerAsync(Alice, server.Id))["status"]);
        Assert.Null(await TestServers.TaskStateAsync(Alice, server.Id));
        Assert.Equal("available", await ItemStatusAsync(Alice, itemId));
        foreach (var disk in disks)
            Assert.Equal("in-use", (string?)(await Alice.GetAsync($"/v2/{pid}/cloudvolumes/{disk}")).Expect(200)["volume"]["status"]);
    }

    [Fact]
    public async Task The_restore_action_on_the_server_restores_only_the_mapped_disk_and_can_leave_it_off()
    {
        var pid = Alice.ProjectId;
        var server = await TestServers.CreateAsync(Service, Alice, 10);
        var dataDisk = server.DataVolumes[0].Id;
        await DiskBytes.WritePatternsAsync(Alice, server, seed: 720);
        var dataAtBackup = await DiskBytes.ChunksAsync(Alice, dataDisk);
        var (checkpointId, itemId) = await CsbsTests.BackUpAsync(Alice, server.Id);
        await DiskBytes.WriteAsync(Alice, server.SystemVolumeId, 0, DiskBytes.Pattern(730, 8192));
        await DiskBytes.WriteAsync(Alice, dataDisk, 0, DiskBytes.Pattern(731, 8192));
        var systemChanged = await DiskBytes.ChunksAsync(Alice, server.SystemVolumeId);
        await Servers.PowerAsync(Alice, "os-stop", server.Id);

        // The disk backup to map is the item's volume_backups entry of that disk.
        var item = (await Alice.GetAsync($"/v1/{pid}/checkpoint_items/{itemId}")).Expect(200)["checkpoint_item"];
        var dataBackup = (string)item["extend_info"]!["volume_backups"]!.AsArray().Single(v => (string?)v!["source_volume_id"] == dataDisk)!["id"]!;
        var body = new
        {
            restore = new
            {
                checkpoint_id = checkpointId,
                parameters = new { checkpoint_item_id = itemId, power_on = false, targets = new { volumes = new[] { new { backup_id = dataBackup, volume_id = dataDisk } } } },
            },
        };
        var restore = (await Alice.PostAsync($"/v1/{pid}/providers/{Provider}/resources/{server.Id}/action", body)).Expect(200)["restore"];
        Assert.Equal(server.Id, (string?)restore["parameters"]!["targets"]!["server_id"]);
        Assert.Equal("success", (string?)(await WaitRestoreAsync(Alice, (string)restore["id"]!))["status"]);

        Assert.Equal(dataAtBackup, await DiskBytes.ChunksAsync(Alice, dataDisk));
        Assert.Equal(systemChanged, await DiskBytes.ChunksAsync(Alice, server.SystemVolumeId));
        Assert.Equal("SHUTOFF", (string?)(await Servers.GetServerAsync(Alice, server.Id))["status"]);
        Assert.Null(await TestServers.TaskStateAsync(Alice, server.Id));
    }

    [Fact]
    public async Task Restore_refusals_have_CSBS_codes_and_change_nothing()
    {
        var pid = Alice.ProjectId;
        var server = await TestServers.CreateAsync(Service, Alice, 10);
        await DiskBytes.WritePatternsAsync(Alice, server, seed: 740);
        var (checkpointId, itemId) = await CsbsTests.BackUpAsync(Alice, server.Id);
        var disks = new[] { server.SystemVolumeId, server.DataVolumes[0].Id };
        var before = await ChunksAsync(Alice, disks);
        var restores = $"/v1/{pid}/restores";

        // A running server is refused, by the restore and by check_restorable alike.
        (await Alice.PostAsync(restores, RestoreBody(checkpointId, itemId, server.Id))).ExpectBackupError(400, "CSBS.6015");
        var checkPath = $"/v1/{pid}/providers/{Provider}/resources/action";
        object Query(string item, string resource, string type = "OS::Nova::Server") =>
            new { checkpoint_item_id = item, target = new { resource_id = resource, resource_type = type, volumes = Array.Empty<object>() } };
        var missingServer = Guid.NewGuid().ToString();
        var results = (await Alice.PostAsync(checkPath, new
        {
            check_restorable = new[]
            {
                Query(itemId, server.Id), Query(itemId, missingServer), Query(itemId, server.Id, "OS::Cinder::Volume"),
                Query(Guid.NewGuid().ToString(), server.Id),
            },
        })).Expect(200)["restorable"]!.AsArray();
        Assert.Equal(new[] { "CSBS.6015", "CSBS.6000", "CSBS.6013", "CSBS.9002" }, results.Select(r => (string?)r!["error_code"]));
        Assert.All(results, r => Assert.False((bool)r!["result"]!));
        await Servers.PowerAsync(Alice, "os-stop", server.Id);

        (await Alice.PostAsync(restores, RestoreBody(checkpointId, Guid.NewGuid().ToString(), server.Id))).ExpectBackupError(404, "CSBS.9002");
        (await Alice.PostAsync(restores, RestoreBody(Guid.NewGuid().ToString(), itemId, server.Id))).ExpectBackupError(400, "CSBS.9001");
        (await Alice.PostAsync(restores, RestoreBody(checkpointId, itemId, missingServer))).ExpectBackupError(400, "CSBS.6000");
        (await Alice.PostAsync(restores, new { restore = new { provider_id = Guid.NewGuid().ToString(), checkpoint_id = checkpointId, parameters = new { checkpoint_item_id = itemId } } }))
            .ExpectBackupError(400, "CSBS.9001");
        (await Alice.PostAsync(restores, new { restore = new { provider_id = Provider, checkpoint_id = checkpointId } })).ExpectBackupError(400, "CSBS.9001");
        var item = (await Alice.GetAsync($"/v1/{pid}/checkpoint_items/{itemId}")).Expect(200)["checkpoint_item"];
        var systemBackup = (string)item["extend_info"]!["volume_backups"]!.AsArray().Single(v => (string?)v!["source_volume_id"] == server.SystemVolumeId)!["id"]!;
        var loose = await Servers.CreateVolumeAsync(Alice, size: 40);
        (await Alice.PostAsync(restores, RestoreBody(checkpointId, itemId, server.Id, volumes: [new { backup_id = systemBackup, volume_id = loose }])))
            .ExpectBackupError(400, "CSBS.6014");
        (await Alice.PostAsync(restores, RestoreBody(checkpointId, itemId, server.Id, volumes: [new { backup_id = Guid.NewGuid().ToString(), volume_id = server.SystemVolumeId }])))
            .ExpectBackupError(400, "CSBS.9001");
        (await Alice.PostAsync($"/v1/{pid}/providers/{Provider}/resources/{server.Id}/action", RestoreBody(checkpointId, itemId, missingServer)))
            .ExpectBackupError(400, "CSBS.9001");
        await TestServers.ForceAsync(Service, server.Id, taskState: "rebooting");
        (await Alice.PostAsync(restores, RestoreBody(checkpointId, itemId, server.Id))).ExpectBackupError(400, "CSBS.6015");

        // Another tenant's backup does not exist for Bob.
        var bob = Service.Client(TestAccounts.Bob);
        (await bob.PostAsync($"/v1/{bob.ProjectId}/restores", RestoreBody(checkpointId, itemId, server.Id))).ExpectBackupError(404, "CSBS.9002");
        (await Alice.GetAsync($"/v1/{pid}/restores/{Guid.NewGuid():N}")).ExpectBackupError(404, "CSBS.9002");

        Assert.Equal(before, await ChunksAsync(Alice, disks));
        Assert.Equal("available", await ItemStatusAsync(Alice, itemId));
        Assert.Equal("SHUTOFF", (string?)(await Servers.GetServerAsync(Alice, server.Id))["status"]);
    }
}

/// <summary>A CSBS restore whose backup data is damaged fails and writes nothing; while it runs the backup is restoring.</summary>
public sealed class FailedCsbsRestoreTests
{
    [Fact]
    public async Task A_damaged_chunk_fails_the_CSBS_restore_and_no_disk_of_the_server_changes()
    {
        await using var service = await TestService.StartAsync();
        var client = service.Client(TestAccounts.Alice);
        var pid = client.ProjectId;
        var server = await TestServers.CreateAsync(service, client, 10);
        var disks = new[] { server.SystemVolumeId, server.DataVolumes[0].Id };
        await DiskBytes.WriteAsync(client, server.SystemVolumeId, 0, DiskBytes.Pattern(800, DiskBytes.ChunkSize));
        await DiskBytes.WriteAsync(client, server.DataVolumes[0].Id, 0, DiskBytes.Pattern(801, DiskBytes.ChunkSize));
        var (checkpointId, itemId) = await CsbsTests.BackUpAsync(client, server.Id);
        // Chunk files are named by the chunk's SHA-256; the data disk is restored after the system disk.
        var dataChunkId = Assert.Single(await DiskBytes.ChunksAsync(client, server.DataVolumes[0].Id)).Split(':')[1];
        var dataChunk = Directory.EnumerateFiles(Path.Combine(service.DataDir, "data", "chunks"), "*", SearchOption.AllDirectories)
            .Single(f => Path.GetFileName(f).StartsWith(dataChunkId, StringComparison.Ordinal) && !Path.GetFileName(f).Contains(".tmp-", StringComparison.Ordinal));

        foreach (var (disk, n) in disks.Select((d, n) => (d, n))) await DiskBytes.WriteAsync(client, disk, 0, DiskBytes.Pattern(810 + n, 4096));
        var changed = new List<string>();
        foreach (var disk in disks) changed.AddRange(await DiskBytes.ChunksAsync(client, disk));
        await Servers.PowerAsync(client, "os-stop", server.Id);

        var faults = new Faults(service.BaseAddress);
        var hold = await faults.CreateAsync(new { job_type = "csbsRestoreBackup", step = "restore disks", delay_ms = 600_000, count = 1 });
        var restore = (await client.PostAsync($"/v1/{pid}/restores", CsbsRestoreTests.RestoreBody(checkpointId, itemId, server.Id))).Expect(200)["restore"];
        Assert.Equal("in_progress", (string?)restore["status"]);
        Assert.Equal("restoring", (string?)restore["resources_status"]![$"OS::Nova::Server#{server.Id}"]);
        // What a client polls meanwhile: the backup is restoring, and it can be neither deleted nor restored again.
        Assert.Equal("restoring", (string?)(await client.GetAsync($"/v1/{pid}/checkpoint_items/{itemId}")).Expect(200)["checkpoint_item"]["status"]);
        (await client.DeleteAsync($"/v1/{pid}/providers/{CsbsTests.Provider}/checkpoints/{checkpointId}")).ExpectBackupError(400, "CSBS.9001");
        (await client.PostAsync($"/v1/{pid}/restores", CsbsRestoreTests.RestoreBody(checkpointId, itemId, server.Id))).ExpectBackupError(400, "CSBS.9001");
        var bytes = await File.ReadAllBytesAsync(dataChunk);
        bytes[^100] ^= 0x40;
        File.SetAttributes(dataChunk, FileAttributes.Normal);
        await File.WriteAllBytesAsync(dataChunk, bytes);
        await faults.DeleteAsync((string)hold["id"]!);

        var done = await CsbsRestoreTests.WaitRestoreAsync(client, (string)restore["id"]!);
        Assert.Equal("fail", (string?)done["status"]);
        Assert.Equal("error", (string?)done["resources_status"]![$"OS::Nova::Server#{server.Id}"]);
        Assert.Contains("damaged", (string?)done["resources_reason"]![$"OS::Nova::Server#{server.Id}"], StringComparison.Ordinal);

        var after = new List<string>();
        foreach (var disk in disks) after.AddRange(await DiskBytes.ChunksAsync(client, disk));
        Assert.Equal(changed, after);
        Assert.Equal("available", (string?)(await client.GetAsync($"/v1/{pid}/checkpoint_items/{itemId}")).Expect(200)["checkpoint_item"]["status"]);
        Assert.Equal("SHUTOFF", (string?)(await Servers.GetServerAsync(client, server.Id))["status"]);
        Assert.Null(await TestServers.TaskStateAsync(client, server.Id));
    }
}
