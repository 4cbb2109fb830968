using System.Text.Json.Nodes;
using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;
using Ims.Tests.Ims;

namespace Ims.Tests.DataPlane;

/// <summary>
/// What backups leave in the chunk store: only changed chunks the second time, nothing once nothing needs it, and
/// damage that is found and never restored. Each test has a service of its own, so the store holds its data only.
/// </summary>
public sealed class ChunkStoreTests
{
    private static List<string> ChunkFiles(string dataDir)
    {
        var folder = Path.Combine(dataDir, "data", "chunks");
        return Directory.Exists(folder)
            ? [.. Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Where(f => !Path.GetFileName(f).Contains(".tmp-", StringComparison.Ordinal))]
            : [];
    }

    private static async Task<JsonNode> CollectAsync(Uri baseAddress) =>
        (await new Faults(baseAddress).SendAsync(HttpMethod.Post, "/admin/v1/data/gc", new { })).Expect(200).Json;

    private static async Task<JsonNode> VerifyAsync(Uri baseAddress, object body) =>
        (await new Faults(baseAddress).SendAsync(HttpMethod.Post, "/admin/v1/data/verify", body)).Expect(200).Json;

    [Fact]
    public async Task A_second_backup_stores_only_the_chunk_that_changed()
    {
        await using var service = await TestService.StartAsync();
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
        await using var service = await TestService.StartAsync();
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
        Assert.Equal(1L, (long)report["chunks_kept"]!);

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
        await using var service = await TestService.StartAsync();
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
}
