using System.Text.Json.Nodes;
using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;
using Ims.Tests.Ims;

namespace Ims.Tests.DataPlane;

/// <summary>
/// What backups leave in the chunk store: only changed chunks the second time, nothing once nothing needs it, and
/// damage that is found and never restored. Each test has a service of its own, so the store holds its data only,
/// besides the seeded public images' content, which every count leaves out.
/// </summary>
public sealed class ChunkStoreTests
{
    private static List<string> AllChunkFiles(string dataDir)
    {
        var folder = Path.Combine(dataDir, "data", "chunks");
        return Directory.Exists(folder)
            ? [.. Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Where(f => !Path.GetFileName(f).Contains(".tmp-", StringComparison.Ordinal))]
            : [];
    }

    /// <summary>The chunks a fresh service holds: its public images' content (which its live manifests keep).</summary>
    private static readonly Dictionary<string, HashSet<string>> Seeded = new(StringComparer.Ordinal);

    private static async Task<TestService> StartAsync()
    {
        var service = await TestService.StartAsync();
        lock (Seeded) Seeded[service.DataDir] = [.. AllChunkFiles(service.DataDir)];
        return service;
    }

    private static int SeededCount(string dataDir)
    {
        lock (Seeded) return Seeded[dataDir].Count;
    }

    private static List<string> ChunkFiles(string dataDir)
    {
        HashSet<string> seeded;
        lock (Seeded) seeded = Seeded[dataDir];
        return AllChunkFiles(dataDir).FindAll(f => !seeded.Contains(f));
    }

    private static async Task<JsonNode> CollectAsync(Uri baseAddress) =>
        (await new Faults(baseAddress).SendAsync(HttpMethod.Post, "/admin/v1/data/gc", new { })).Expect(200).Json;

    private static async Task<JsonNode> VerifyAsync(Uri baseAddress, object body) =>
        (await new Faults(baseAddress).SendAsync(HttpMethod.Post, "/admin/v1/data/verify", body)).Expect(200).Json;

    [Fact]
    public async Task A_second_backup_stores_only_the_chunk_that_changed()
    {
        await using var service = await StartAsync();
        var client = service.Client(TestAccounts.Alice);
        var server = await TestServers.CreateAsync(service, client, 10);
        await DiskBytes.WritePatternsAsync(client, server, seed: 4000);
        var vaultId = await Cbr.CreateVaultAsync(client, 200, server.Id);
        await Cbr.WaitAvailableAsync(client, (string)(await Cbr.CreateCheckpointAsync(client, vaultId, server.Id))["id"]!);
        var afterFirst = ChunkFiles(service.DataDir).Count;
        Assert.Equal(10, afterFirst); // five distinct non-zero chunks on each of the two disks

        await DiskBytes.WriteAsync(client, server.DataVolumes[0].Id, 7L * DiskBytes.ChunkSize, DiskBytes.Pattern(4100, 1000));
        await Cbr.WaitAvailableAsync(client, (string)(await Cbr.CreateCheckpointAsync(client, vaultId, server.Id))["id"]!);

        Assert.Equal(afterFirst + 1, ChunkFiles(service.DataDir).Count);
    }

    [Fact]
    public async Task Deleting_backup_and_image_frees_chunks_that_another_servers_backup_does_not_hold()
    {
        await using var service = await StartAsync();
        var client = service.Client(TestAccounts.Alice);
        var shared = DiskBytes.Pattern(5000, DiskBytes.ChunkSize);
        var own = DiskBytes.Pattern(5001, DiskBytes.ChunkSize);
        var first = await TestServers.CreateAsync(service, client);
        var second = await TestServers.CreateAsync(service, client);
        await DiskBytes.WriteAsync(client, first.SystemVolumeId, 0, shared);
        await DiskBytes.WriteAsync(client, first.SystemVolumeId, DiskBytes.ChunkSize, own);
        await DiskBytes.WriteAsync(client, second.SystemVolumeId, 0, shared);

        var (_, firstBackup) = await WholeImages.CbrBackupAsync(client, first.Id);
        await WholeImages.CbrBackupAsync(client, second.Id);
        var imageId = await DiskBytes.ImageOfBackupAsync(client, firstBackup);
        Assert.Equal(2, ChunkFiles(service.DataDir).Count);

        (await client.DeleteAsync($"/v2/images/{imageId}", new { delete_backup = true })).Expect(204);
        // The janitor picks the deletion up by itself: the first backup's own chunk goes, the shared one stays.
        await Poll.UntilAsync(() => Task.FromResult(ChunkFiles(service.DataDir).Count == 1), TimeSpan.FromSeconds(30),
            "the janitor to free the deleted backup's own chunk");
        Assert.Equal(DiskBytes.Hex(shared), Path.GetFileName(Assert.Single(ChunkFiles(service.DataDir))));
        var report = await CollectAsync(service.BaseAddress);
        Assert.Equal(0L, (long)report["chunks_deleted"]!);
        Assert.Equal(1L + SeededCount(service.DataDir), (long)report["chunks_kept"]!);

        // Deleting a server removes its disks' files after the commit.
        var volumeFile = Path.Combine(service.DataDir, "data", "volumes", first.SystemVolumeId + ".raw");
        Assert.True(File.Exists(volumeFile));
        await Servers.DeleteServerAsync(client, first.Id, deleteVolumes: true);
        await Poll.UntilAsync(() => Task.FromResult(!File.Exists(volumeFile)), TimeSpan.FromSeconds(30), "the deleted disk's file to go");
        Assert.Equal(DiskBytes.Pattern(5000, 4096), await DiskBytes.ReadAsync(client, second.SystemVolumeId, 0, 4096));
    }

    [Fact]
    public async Task A_flipped_byte_is_reported_by_verify_and_a_server_from_the_image_fails_without_a_wrong_disk()
    {
        await using var service = await StartAsync();
        var client = service.Client(TestAccounts.Alice);
        var server = await TestServers.CreateAsync(service, client);
        await DiskBytes.WriteAsync(client, server.SystemVolumeId, 0, DiskBytes.Pattern(6000, DiskBytes.ChunkSize));
        var (_, backupId) = await WholeImages.CbrBackupAsync(client, server.Id);
        var imageId = await DiskBytes.ImageOfBackupAsync(client, backupId);

        var chunk = Assert.Single(ChunkFiles(service.DataDir));
        var bytes = await File.ReadAllBytesAsync(chunk);
        bytes[^100] ^= 0x40;
        File.SetAttributes(chunk, FileAttributes.Normal);
        await File.WriteAllBytesAsync(chunk, bytes);

        var verify = await VerifyAsync(service.BaseAddress, new { image_id = imageId });
        Assert.False((bool)verify["ok"]!);
        var damaged = Assert.Single(verify["damaged"]!.AsArray())!;
        Assert.Equal(0L, (long)damaged["chunk_index"]!);
        Assert.Equal(Path.GetFileName(chunk), (string?)damaged["chunk_id"]);

        var (restored, job) = await DiskBytes.ServerFromImageAsync(client, imageId);
        Assert.Equal("FAIL", (string?)job["status"]);
        Assert.Equal("Ecs.0218", (string?)job["error_code"]);
        Assert.Contains("damaged", (string?)job["fail_reason"], StringComparison.Ordinal);
        // The server is left in ERROR; its system disk has no file with wrong bytes.
        var devices = (await client.GetAsync($"/v1/{client.ProjectId}/cloudservers/{restored}/block_device")).Expect(200)["volumeAttachments"].AsArray();
        var systemDisk = (string)devices.Single(d => (int)d!["bootIndex"]! == 0)!["volumeId"]!;
        Assert.Equal("error", (string?)(await client.GetAsync($"/v2/{client.ProjectId}/cloudvolumes/{systemDisk}")).Expect(200)["volume"]["status"]);
        Assert.False(File.Exists(Path.Combine(service.DataDir, "data", "volumes", systemDisk + ".raw")));
    }

    /// <summary>
    /// A restore of a server's disks from a whole image is all or nothing: when one disk's backup has a damaged chunk,
    /// the job fails with <c>Ecs.0218</c> and none of the server's disks keeps a file, also those restored before the
    /// damaged one. The records stay as for any failed build: the server in ERROR, its disks in <c>error</c>. The job is
    /// held before its first step while the test damages the disk restored last (disks are restored in id order).
    /// </summary>
    [Fact]
    public async Task A_server_from_a_whole_image_with_one_damaged_disk_leaves_none_of_its_disks_written()
    {
        await using var service = await StartAsync();
        var client = service.Client(TestAccounts.Alice);
        var server = await TestServers.CreateAsync(service, client, 10, 10);
        var sourceDisks = await DevicesAsync(client, server.Id);
        // One backup per disk written, so that each backup's one new chunk is that disk's.
        string? vaultId = null, backupId = null;
        var chunkOf = new List<string>();
        foreach (var (disk, n) in sourceDisks.Select((d, n) => (d, n)))
        {
            var before = ChunkFiles(service.DataDir).ToHashSet(StringComparer.Ordinal);
            await DiskBytes.WriteAsync(client, disk, 0, DiskBytes.Pattern(7100 + n, DiskBytes.ChunkSize));
            if (vaultId is null) (vaultId, backupId) = await WholeImages.CbrBackupAsync(client, server.Id);
            else
            {
                var checkpointId = (string)(await Cbr.CreateCheckpointAsync(client, vaultId, server.Id))["id"]!;
                await Cbr.WaitAvailableAsync(client, checkpointId);
                backupId = (string)Assert.Single((await client.GetAsync($"/v3/{client.ProjectId}/backups?checkpoint_id={checkpointId}"))
                    .Expect(200)["backups"].AsArray())!["id"]!;
            }
            chunkOf.Add(Assert.Single(ChunkFiles(service.DataDir), f => !before.Contains(f)));
        }
        var imageId = await DiskBytes.ImageOfBackupAsync(client, backupId!);

        var faults = new Faults(service.BaseAddress);
        var hold = await faults.CreateAsync(new { job_type = "createServer", step = "create disks", delay_ms = 600_000, count = 1 });
        var network = await Servers.CreateNetworkAsync(client);
        var created = (await client.PostAsync($"/v1.1/{client.ProjectId}/cloudservers",
            Servers.ServerBody(network, Servers.UniqueName("restored"), image: imageId).ToJsonString())).Expect(200);
        var restored = (string)created["serverIds"]![0]!;
        var restoredDisks = await DevicesAsync(client, restored);
        Assert.Equal(3, restoredDisks.Count);
        var last = restoredDisks.IndexOf(restoredDisks.Max(StringComparer.Ordinal)!);
        var bytes = await File.ReadAllBytesAsync(chunkOf[last]);
        bytes[^100] ^= 0x40;
        File.SetAttributes(chunkOf[last], FileAttributes.Normal);
        await File.WriteAllBytesAsync(chunkOf[last], bytes);
        await faults.DeleteAsync((string)hold["id"]!);

        var job = await client.WaitForJobAsync((string)created["job_id"]!, TimeSpan.FromSeconds(120));
        Assert.Equal("FAIL", (string?)job["status"]);
        Assert.Equal("Ecs.0218", (string?)job["error_code"]);
        Assert.Equal("ERROR", (string?)(await Servers.GetServerAsync(client, restored))["status"]);
        foreach (var disk in restoredDisks)
        {
            Assert.Equal("error", (string?)(await client.GetAsync($"/v2/{client.ProjectId}/cloudvolumes/{disk}")).Expect(200)["volume"]["status"]);
            Assert.False(File.Exists(Path.Combine(service.DataDir, "data", "volumes", disk + ".raw")), $"disk {disk} was left written");
        }
    }

    /// <summary>A server's disks, system disk first, then data disks in device order.</summary>
    private static async Task<List<string>> DevicesAsync(ApiClient client, string serverId) =>
        [.. (await client.GetAsync($"/v1/{client.ProjectId}/cloudservers/{serverId}/block_device")).Expect(200)["volumeAttachments"]
            .AsArray().Select(d => (Id: (string)d!["volumeId"]!, Device: (string)d["device"]!, Boot: (int)d["bootIndex"]!))
            .OrderBy(d => d.Boot == 0 ? 0 : 1).ThenBy(d => d.Device, StringComparer.Ordinal).Select(d => d.Id)];
}
