using System.Text.Json.Nodes;
using Ims.Tests.DataPlane;
using Ims.Tests.Infrastructure;
using Ims.Tests.Ims;

namespace Ims.Tests.Backups;

/// <summary>
/// CBR disk vaults and restores, compared byte for byte: what a disk held when it was backed up is what a restore (or a
/// disk made from the backup) holds; a restore that fails changes nothing.
/// </summary>
public sealed class RestoreTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;
    private ApiClient Alice => Service.Client(TestAccounts.Alice);

    private static object DiskResource(string volumeId) => new { type = "OS::Cinder::Volume", id = volumeId, extra_info = new { } };

    /// <summary>A disk vault holding the disks; returns its id.</summary>
    private static async Task<string> DiskVaultAsync(ApiClient client, params string[] volumeIds) =>
        (string)(await client.PostAsync($"/v3/{client.ProjectId}/vaults",
            Cbr.VaultBody(Cbr.NewName(), 100, "disk", [.. volumeIds.Select(DiskResource)]))).Expect(200)["vault"]["id"]!;

    /// <summary>A checkpoint of the vault's disks (all of them when none is named); waits for it and returns its backups by disk.</summary>
    private static async Task<Dictionary<string, JsonNode>> BackUpDisksAsync(ApiClient client, string vaultId, params string[] volumeIds)
    {
        var checkpoint = (await client.PostAsync($"/v3/{client.ProjectId}/checkpoints", new
        {
            checkpoint = new
            {
                vault_id = vaultId,
                parameters = new { name = Cbr.NewName("cp"), resource_details = volumeIds.Select(DiskResource).ToArray() },
            },
        })).Expect(200)["checkpoint"];
        await Cbr.WaitAvailableAsync(client, (string)checkpoint["id"]!);
        return (await client.GetAsync($"/v3/{client.ProjectId}/backups?checkpoint_id={checkpoint["id"]}")).Expect(200)["backups"].AsArray()
            .ToDictionary(b => (string)b!["resource_id"]!, b => b!);
    }

    /// <summary>Starts a restore and polls its operation log as terraform's huaweicloud_cbr_restore does; returns the final log.</summary>
    private static async Task<JsonNode> RestoreAsync(ApiClient client, string backupId, object body)
    {
        var accepted = (await client.PostAsync($"/v3/{client.ProjectId}/backups/{backupId}/restore", body)).Expect(202);
        var jobId = (string)accepted["job_id"]!;
        JsonNode? log = null;
        await Poll.UntilAsync(async () =>
        {
            log = (await client.GetAsync($"/v3/{client.ProjectId}/operation-logs/{jobId}")).Expect(200)["operation_log"];
            return (string?)log["status"] is "success" or "failed" or "timeout";
        }, TimeSpan.FromSeconds(60), $"restore {jobId} to end");
        return log!;
    }

    private static async Task<List<string>> ChunksAsync(ApiClient client, params string[] volumeIds)
    {
        var all = new List<string>();
        foreach (var id in volumeIds) all.AddRange(await DiskBytes.ChunksAsync(client, id));
        return all;
    }

    [Fact]
    public async Task A_disk_vault_backs_up_a_disk_and_a_restore_gives_back_the_bytes_of_that_time()
    {
        var pid = Alice.ProjectId;
        var diskId = await Servers.CreateVolumeAsync(Alice, size: 10);
        var then = DiskBytes.Pattern(100, 2 * DiskBytes.ChunkSize);
        await DiskBytes.WriteAsync(Alice, diskId, 0, then);
        await DiskBytes.WriteAsync(Alice, diskId, 10 * DiskBytes.Gib - 8192, DiskBytes.Pattern(101, 8192));
        var atBackup = await DiskBytes.ChunksAsync(Alice, diskId);
        var vaultId = await DiskVaultAsync(Alice, diskId);

        var backup = (await BackUpDisksAsync(Alice, vaultId, diskId))[diskId];
        Assert.Equal("OS::Cinder::Volume", (string?)backup["resource_type"]);
        Assert.Equal("available", (string?)backup["status"]);
        Assert.Equal(10, (int)backup["resource_size"]!);
        Assert.Equal("available", (string?)(await Alice.GetAsync($"/v2/{pid}/cloudvolumes/{diskId}")).Expect(200)["volume"]["status"]);
        var backupId = (string)backup["id"]!;

        // Overwrite, then put the backup back.
        await DiskBytes.WriteAsync(Alice, diskId, 0, DiskBytes.Pattern(102, 2 * DiskBytes.ChunkSize));
        await DiskBytes.WriteAsync(Alice, diskId, 5 * DiskBytes.Gib, DiskBytes.Pattern(103, 4096));
        Assert.NotEqual(atBackup, await DiskBytes.ChunksAsync(Alice, diskId));
        var log = await RestoreAsync(Alice, backupId, new { restore = new { volume_id = diskId } });
        Assert.Equal("success", (string?)log["status"]);
        Assert.Equal("restore", (string?)log["operation_type"]);
        Assert.Equal(backupId, (string?)log["extra_info"]!["restore"]!["backup_id"]);
        Assert.Equal(diskId, (string?)log["extra_info"]!["restore"]!["target_resource_id"]);

        Assert.Equal(atBackup, await DiskBytes.ChunksAsync(Alice, diskId));
        Assert.Equal(then, await DiskBytes.ReadAsync(Alice, diskId, 0, then.Length));
        Assert.Equal(new byte[4096], await DiskBytes.ReadAsync(Alice, diskId, 5 * DiskBytes.Gib, 4096));
        Assert.Equal("available", (string?)(await Alice.GetAsync($"/v3/{pid}/backups/{backupId}")).Expect(200)["backup"]["status"]);
        Assert.Equal("available", (string?)(await Alice.GetAsync($"/v2/{pid}/cloudvolumes/{diskId}")).Expect(200)["volume"]["status"]);

        // A disk made from the backup holds the same bytes.
        var created = (await Alice.PostAsync($"/v2.1/{pid}/cloudvolumes", new
        {
            volume = new { availability_zone = Servers.Zone, volume_type = "SAS", backup_id = backupId, name = Servers.UniqueName("frombk") },
        })).Expect(200);
        var job = await Alice.WaitForJobSuccessAsync((string)created["job_id"]!);
        var copyId = (string)job["entities"]!["volume_id"]!;
        Assert.Equal(10, (int)(await Alice.GetAsync($"/v2/{pid}/cloudvolumes/{copyId}")).Expect(200)["volume"]["size"]!);
        Assert.Equal(atBackup, await DiskBytes.ChunksAsync(Alice, copyId));

        // A whole image needs a server backup: a disk backup does not match.
        (await Alice.PostAsync("/v1/cloudimages/wholeimages/action", WholeImages.FromCbr(backupId))).ExpectImsError(400, "IMG.0198");
    }

    [Fact]
    public async Task The_next_disk_backup_is_incremental_and_restores_its_own_instant()
    {
        var diskId = await Servers.CreateVolumeAsync(Alice, size: 10);
        await DiskBytes.WriteAsync(Alice, diskId, 0, DiskBytes.Pattern(200, 2 * DiskBytes.ChunkSize));
        var vaultId = await DiskVaultAsync(Alice, diskId);
        var first = (await BackUpDisksAsync(Alice, vaultId))[diskId];
        await DiskBytes.WriteAsync(Alice, diskId, 4 * DiskBytes.ChunkSize, DiskBytes.Pattern(201, 4096));
        var atSecond = await DiskBytes.ChunksAsync(Alice, diskId);
        var second = (await BackUpDisksAsync(Alice, vaultId))[diskId];
        Assert.NotEqual((string?)first["id"], (string?)second["id"]);

        await DiskBytes.WriteAsync(Alice, diskId, 0, DiskBytes.Pattern(202, 4096));
        Assert.Equal("success", (string?)(await RestoreAsync(Alice, (string)second["id"]!, new { restore = new { } }))["status"]);
        Assert.Equal(atSecond, await DiskBytes.ChunksAsync(Alice, diskId));
    }

    [Fact]
    public async Task A_server_backup_goes_back_onto_its_stopped_server_all_disks_or_the_mapped_ones()
    {
        var pid = Alice.ProjectId;
        var server = await TestServers.CreateAsync(Service, Alice, 10);
        var disks = new[] { server.SystemVolumeId, server.DataVolumes[0].Id };
        await DiskBytes.WritePatternsAsync(Alice, server, seed: 300);
        var atBackup = await ChunksAsync(Alice, disks);
        var (_, backupId) = await WholeImages.CbrBackupAsync(Alice, server.Id);

        foreach (var (disk, n) in disks.Select((d, n) => (d, n))) await DiskBytes.WriteAsync(Alice, disk, 0, DiskBytes.Pattern(400 + n, 8192));
        var overwritten = await ChunksAsync(Alice, disks);

        // CBR restores onto a stopped server only.
        (await Alice.PostAsync($"/v3/{pid}/backups/{backupId}/restore", new { restore = new { server_id = server.Id } }))
            .ExpectBackupError(400, "BackupService.6301");
        Assert.Equal(overwritten, await ChunksAsync(Alice, disks));
        await Servers.PowerAsync(Alice, "os-stop", server.Id);

        // Only the data disk, through its per-disk backup (a child of the server backup), and the server stays off.
        var children = (await Alice.GetAsync($"/v3/{pid}/backups/{backupId}")).Expect(200)["backup"]["children"]!.AsArray();
        var dataChild = (string)children.Single(c => (string?)c!["resource_id"] == server.DataVolumes[0].Id)!["id"]!;
        var log = await RestoreAsync(Alice, backupId, new
        {
            restore = new { server_id = server.Id, power_on = false, mappings = new[] { new { backup_id = dataChild, volume_id = server.DataVolumes[0].Id } } },
        });
        Assert.Equal("success", (string?)log["status"]);
        Assert.Equal(await DiskBytes.ChunksAsync(Alice, server.SystemVolumeId), overwritten.Take((await DiskBytes.ChunksAsync(Alice, server.SystemVolumeId)).Count));
        Assert.Equal(atBackup.Skip(atBackup.Count - (await DiskBytes.ChunksAsync(Alice, server.DataVolumes[0].Id)).Count),
            await DiskBytes.ChunksAsync(Alice, server.DataVolumes[0].Id));
        Assert.Equal("SHUTOFF", (string?)(await Servers.GetServerAsync(Alice, server.Id))["status"]);

        // All disks, and the server is started after (power_on defaults to true).
        log = await RestoreAsync(Alice, backupId, new { restore = new { server_id = server.Id } });
        Assert.Equal("success", (string?)log["status"]);
        Assert.Equal(atBackup, await ChunksAsync(Alice, disks));
        var after = await Servers.GetServerAsync(Alice, server.Id);
        Assert.Equal("ACTIVE", (string?)after["status"]);
        Assert.Null(await TestServers.TaskStateAsync(Alice, server.Id));
        Assert.Equal("available", (string?)(await Alice.GetAsync($"/v3/{pid}/backups/{backupId}")).Expect(200)["backup"]["status"]);
    }

    [Fact]
    public async Task Restore_refusals_have_CBR_codes()
    {
        var pid = Alice.ProjectId;
        var server = await TestServers.CreateAsync(Service, Alice, 10);
        var (_, backupId) = await WholeImages.CbrBackupAsync(Alice, server.Id);
        await Servers.PowerAsync(Alice, "os-stop", server.Id);
        var path = $"/v3/{pid}/backups/{backupId}/restore";

        (await Alice.PostAsync($"/v3/{pid}/backups/{Guid.NewGuid()}/restore", new { restore = new { } })).ExpectBackupError(404, "BackupService.6302");
        (await Alice.PostAsync(path, new { })).ExpectBackupError(400, "BackupService.6301");
        (await Alice.PostAsync(path, new { restore = new { mappings = new[] { new { backup_id = Guid.NewGuid().ToString(), volume_id = server.SystemVolumeId } } } }))
            .ExpectBackupError(400, "BackupService.6301");
        var other = await Servers.CreateVolumeAsync(Alice, size: 40);
        var children = (await Alice.GetAsync($"/v3/{pid}/backups/{backupId}")).Expect(200)["backup"]["children"]!.AsArray();
        var systemChild = (string)children.Single(c => (string?)c!["resource_id"] == server.SystemVolumeId)!["id"]!;
        (await Alice.PostAsync(path, new { restore = new { mappings = new[] { new { backup_id = systemChild, volume_id = other } } } }))
            .ExpectBackupError(400, "BackupService.6301");
        (await Alice.PostAsync(path, new { restore = new { server_id = Guid.NewGuid().ToString() } })).ExpectBackupError(404, "BackupService.6302");
        await TestServers.ForceAsync(Service, server.Id, taskState: "rebooting");
        (await Alice.PostAsync(path, new { restore = new { } })).ExpectBackupError(400, "BackupService.6301");
        Assert.Equal("available", (string?)(await Alice.GetAsync($"/v3/{pid}/backups/{backupId}")).Expect(200)["backup"]["status"]);
        (await Alice.GetAsync($"/v3/{pid}/operation-logs/{Guid.NewGuid():N}")).ExpectBackupError(404, "BackupService.6302");
    }
}

/// <summary>A restore whose backup data is damaged fails and writes nothing: every disk of the server keeps what it held.</summary>
public sealed class FailedRestoreTests
{
    private static List<string> ChunkFiles(string dataDir)
    {
        var folder = Path.Combine(dataDir, "data", "chunks");
        return Directory.Exists(folder)
            ? [.. Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Where(f => !Path.GetFileName(f).Contains(".tmp-", StringComparison.Ordinal))]
            : [];
    }

    [Fact]
    public async Task A_damaged_chunk_in_one_disk_fails_the_restore_and_no_disk_of_the_server_changes()
    {
        await using var service = await TestService.StartAsync();
        var client = service.Client(TestAccounts.Alice);
        var pid = client.ProjectId;
        var server = await TestServers.CreateAsync(service, client, 10);
        var disks = new[] { server.SystemVolumeId, server.DataVolumes[0].Id };
        await DiskBytes.WriteAsync(client, server.SystemVolumeId, 0, DiskBytes.Pattern(500, DiskBytes.ChunkSize));
        await DiskBytes.WriteAsync(client, server.DataVolumes[0].Id, 0, DiskBytes.Pattern(501, DiskBytes.ChunkSize));
        var atBackup = new List<string>();
        foreach (var disk in disks) atBackup.AddRange(await DiskBytes.ChunksAsync(client, disk));
        var before = ChunkFiles(service.DataDir).ToHashSet(StringComparer.Ordinal);
        var (_, firstBackup) = await WholeImages.CbrBackupAsync(client, server.Id);
        // Chunk files are named by the chunk's SHA-256: the data disk's one chunk is the new file of that name. The data disk
        // is restored after the system disk (device order), so a restore that published disk by disk would have changed one.
        var dataChunkId = Assert.Single(await DiskBytes.ChunksAsync(client, server.DataVolumes[0].Id)).Split(':')[1];
        var dataChunk = Assert.Single(ChunkFiles(service.DataDir),
            f => !before.Contains(f) && Path.GetFileName(f).StartsWith(dataChunkId, StringComparison.Ordinal));

        // Change both disks, stop the server, then damage the data disk's backed-up chunk while the restore is held.
        foreach (var (disk, n) in disks.Select((d, n) => (d, n))) await DiskBytes.WriteAsync(client, disk, 0, DiskBytes.Pattern(600 + n, 4096));
        var changed = new List<string>();
        foreach (var disk in disks) changed.AddRange(await DiskBytes.ChunksAsync(client, disk));
        Assert.NotEqual(atBackup, changed);
        await Servers.PowerAsync(client, "os-stop", server.Id);

        var faults = new Faults(service.BaseAddress);
        var hold = await faults.CreateAsync(new { job_type = "cbrRestoreBackup", step = "restore disks", delay_ms = 600_000, count = 1 });
        var accepted = (await client.PostAsync($"/v3/{pid}/backups/{firstBackup}/restore", new { restore = new { server_id = server.Id } })).Expect(202);
        var jobId = (string)accepted["job_id"]!;
        Assert.Equal("restoring", (string?)(await client.GetAsync($"/v3/{pid}/backups/{firstBackup}")).Expect(200)["backup"]["status"]);
        Assert.Equal("restoring-backup", (string?)(await client.GetAsync($"/v2/{pid}/cloudvolumes/{server.SystemVolumeId}")).Expect(200)["volume"]["status"]);
        (await client.DeleteAsync($"/v3/{pid}/backups/{firstBackup}")).ExpectBackupError(400, "BackupService.6301");
        var bytes = await File.ReadAllBytesAsync(dataChunk);
        bytes[^100] ^= 0x40;
        File.SetAttributes(dataChunk, FileAttributes.Normal);
        await File.WriteAllBytesAsync(dataChunk, bytes);
        await faults.DeleteAsync((string)hold["id"]!);

        JsonNode? log = null;
        await Poll.UntilAsync(async () =>
        {
            log = (await client.GetAsync($"/v3/{pid}/operation-logs/{jobId}")).Expect(200)["operation_log"];
            return (string?)log["status"] is "success" or "failed";
        }, TimeSpan.FromSeconds(60), "the restore to end");
        Assert.Equal("failed", (string?)log!["status"]);
        Assert.Equal("BackupService.9999", (string?)log["error_info"]!["code"]);
        Assert.Contains("damaged", (string?)log["error_info"]!["message"], StringComparison.Ordinal);

        var after = new List<string>();
        foreach (var disk in disks) after.AddRange(await DiskBytes.ChunksAsync(client, disk));
        Assert.Equal(changed, after);
        Assert.Equal("available", (string?)(await client.GetAsync($"/v3/{pid}/backups/{firstBackup}")).Expect(200)["backup"]["status"]);
        foreach (var disk in disks)
            Assert.Equal("in-use", (string?)(await client.GetAsync($"/v2/{pid}/cloudvolumes/{disk}")).Expect(200)["volume"]["status"]);
        Assert.Equal("SHUTOFF", (string?)(await Servers.GetServerAsync(client, server.Id))["status"]);
        Assert.Null(await TestServers.TaskStateAsync(client, server.Id));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(service.DataDir, "data", "volumes"), "*.restore*"));
    }
}
