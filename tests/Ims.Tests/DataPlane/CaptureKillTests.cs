using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.DataPlane;

/// <summary>The service is killed (SIGKILL) while a backup copies a disk's bytes, and comes back clean.</summary>
public sealed class CaptureKillTests
{
    private const int MiB = 1024 * 1024;

    [Fact]
    public async Task A_capture_killed_mid_way_ends_cleanly_with_a_sound_store_and_restorable_disks()
    {
        var dataDir = TestService.NewDataDir();
        var alice = TestAccounts.Alice;
        var chunks = Path.Combine(dataDir, "data", "chunks");
        TestServer server;
        List<List<string>> source;
        string checkpointId;

        using (var first = await ServiceProcess.StartAsync(dataDir))
        {
            var client = first.Client(alice);
            var network = await Servers.CreateNetworkAsync(client);
            var serverId = await Servers.CreateServerAsync(client, network, [(10, "SAS")], rootSize: 40);
            var devices = (await client.GetAsync($"/v1/{alice.ProjectId}/cloudservers/{serverId}/block_device")).Expect(200)["volumeAttachments"]
                .AsArray().Select(d => (Id: (string)d!["volumeId"]!, Size: (int)d["size"]!, Boot: (int)d["bootIndex"]!)).ToList();
            server = new TestServer(serverId, "", devices.Single(d => d.Boot == 0).Id, 40,
                [.. devices.Where(d => d.Boot != 0).Select(d => (d.Id, d.Size))]);
            // A few hundred MiB of incompressible data, so that the capture takes a while.
            for (var n = 0; n < 40; n++)
                await DiskBytes.WriteAsync(client, n % 2 == 0 ? server.SystemVolumeId : server.DataVolumes[0].Id,
                    (long)(n / 2) * 8 * MiB, DiskBytes.Pattern(9000 + n, 8 * MiB));
            source = await DiskBytes.ServerChunksAsync(client, serverId);

            var vaultId = await Cbr.CreateVaultAsync(client, 200, serverId);
            checkpointId = (string)(await Cbr.CreateCheckpointAsync(client, vaultId, serverId))["id"]!;
            // The first file in the chunk store means the capture is copying bytes: kill it there.
            await Poll.UntilAsync(() => Task.FromResult(Directory.Exists(chunks)
                    && Directory.EnumerateFiles(chunks, "*", SearchOption.AllDirectories).Any()),
                TimeSpan.FromSeconds(60), "the capture to start writing chunks");
            first.Kill();
        }

        using var second = await ServiceProcess.StartAsync(dataDir, "--Ims:Jobs:Lease=00:00:02");
        var again = second.Client(alice);
        string status = "";
        await Poll.UntilAsync(async () =>
        {
            status = (string)(await again.GetAsync($"/v3/{alice.ProjectId}/checkpoints/{checkpointId}")).Expect(200)["checkpoint"]["status"]!;
            return status is "available" or "error";
        }, TimeSpan.FromSeconds(120), "the checkpoint job to end after the restart");

        var admin = new Faults(second.BaseAddress);
        var backups = (await again.GetAsync($"/v3/{alice.ProjectId}/backups?checkpoint_id={checkpointId}")).Expect(200)["backups"].AsArray();
        foreach (var backup in backups)
        {
            var verify = (await admin.SendAsync(HttpMethod.Post, "/admin/v1/data/verify", new { backup_id = (string)backup!["id"]! })).Expect(200);
            Assert.True((bool)verify["ok"]!, verify.Body);
        }
        (await admin.SendAsync(HttpMethod.Post, "/admin/v1/data/gc", new { })).Expect(200);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(dataDir, "data"), "*.tmp-*", SearchOption.AllDirectories));

        if (status == "available")
        {
            var imageId = await DiskBytes.ImageOfBackupAsync(again, (string)backups.Single()!["id"]!);
            var restored = await DiskBytes.RestoredServerAsync(again, imageId);
            Assert.Equal(source, await DiskBytes.ServerChunksAsync(again, restored));
        }
        Assert.Equal(source, await DiskBytes.ServerChunksAsync(again, server.Id));
    }
}
