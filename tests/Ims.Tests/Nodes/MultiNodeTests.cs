using Ims.Tests.Backups;
using Ims.Tests.DataPlane;
using Ims.Tests.Ims;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Nodes;

/// <summary>A test of several service processes on one PostgreSQL and one RGW bucket: runs when both are configured.</summary>
public sealed class MultiNodeFactAttribute : FactAttribute
{
    public MultiNodeFactAttribute()
    {
        if (!TestDatabases.OnPostgres || TestBucket.Settings() is null)
            Skip = $"needs PostgreSQL ({TestDatabases.Variable}) and the RADOS Gateway ({TestBucket.SkipReason})";
    }
}

/// <summary>
/// Two nodes (real child processes) sharing one PostgreSQL database and one bucket, each with its own folder for its
/// volumes: any node answers, jobs touching a volume run on the node hosting it, data requests are forwarded there.
/// </summary>
public sealed class MultiNodeTests : IDisposable
{
    private const int MiB = 1024 * 1024;
    private static readonly TestTenant Alice = TestAccounts.Alice;

    private readonly string dataA = TestService.NewDataDir();
    private readonly string dataB = TestService.NewDataDir();
    private readonly TestBucket? bucket = TestBucket.Settings() is null || !TestDatabases.OnPostgres ? null : new TestBucket();

    public void Dispose()
    {
        bucket?.Dispose();
        foreach (var dir in new[] { dataA, dataB })
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // Best effort.
            }
        }
    }

    /// <summary>A node on the shared database (node A's) and bucket, with short leases so a killed node is noticed quickly.</summary>
    private Task<ServiceProcess> StartNodeAsync(string name, string dataDir)
    {
        var store = bucket!.Options;
        return ServiceProcess.StartAsync(dataDir,
            $"--Ims:Node:Name={name}", "--Ims:Node:Lease=00:00:03", "--Ims:Jobs:Lease=00:00:03",
            $"--Ims:Postgres={TestDatabases.ConnectionString(dataA)}",
            $"--Ims:ObjectStore:Endpoint={store.Endpoint}", $"--Ims:ObjectStore:Bucket={store.Bucket}",
            $"--Ims:ObjectStore:AccessKey={store.AccessKey}", $"--Ims:ObjectStore:SecretKey={store.SecretKey}");
    }

    private string VolumeFile(string dataDir, string volumeId) => Path.Combine(dataDir, "data", "volumes", volumeId + ".raw");

    private static async Task<TestServer> ServerWithDataAsync(ApiClient client, int writes)
    {
        var network = await Servers.CreateNetworkAsync(client);
        var serverId = await Servers.CreateServerAsync(client, network, [(10, "SAS")], rootSize: 40);
        var devices = (await client.GetAsync($"/v1/{client.ProjectId}/cloudservers/{serverId}/block_device")).Expect(200)["volumeAttachments"]
            .AsArray().Select(d => (Id: (string)d!["volumeId"]!, Size: (int)d["size"]!, Boot: (int)d["bootIndex"]!)).ToList();
        var server = new TestServer(serverId, "", devices.Single(d => d.Boot == 0).Id, 40,
            [.. devices.Where(d => d.Boot != 0).Select(d => (d.Id, d.Size))]);
        for (var n = 0; n < writes; n++)
            await DiskBytes.WriteAsync(client, n % 2 == 0 ? server.SystemVolumeId : server.DataVolumes[0].Id,
                (long)(n / 2) * 8 * MiB, DiskBytes.Pattern(7000 + n, 8 * MiB));
        return server;
    }

    [MultiNodeFact]
    public async Task A_server_on_node_A_imaged_through_node_B_becomes_a_server_on_node_B_with_identical_disks()
    {
        using var a = await StartNodeAsync("node-a", dataA);
        using var b = await StartNodeAsync("node-b", dataB);
        var viaA = a.Client(Alice);
        var viaB = b.Client(Alice);

        var server = await ServerWithDataAsync(viaA, 4);
        Assert.True(File.Exists(VolumeFile(dataA, server.SystemVolumeId)), "a server lives on the node that created it");
        // Bytes written through node B land on node A's disk (forwarded), and read back the same through either node.
        await DiskBytes.WritePatternsAsync(viaB, server, 31);
        Assert.False(File.Exists(VolumeFile(dataB, server.SystemVolumeId)));
        var source = await DiskBytes.ServerChunksAsync(viaA, server.Id);
        Assert.Equal(source, await DiskBytes.ServerChunksAsync(viaB, server.Id));

        // The whole image is asked of node B; its capture runs on node A (node B has no file to capture).
        var vaultId = await Cbr.CreateVaultAsync(viaB, 200, server.Id);
        var (_, image) = await WholeImages.WaitForImageAsync(viaB,
            await WholeImages.CreateAsync(viaB, new { name = Servers.UniqueName("img"), instance_id = server.Id, vault_id = vaultId }));

        // A server made through node B is placed on node B and restored there from the bucket's chunks.
        var restored = await DiskBytes.RestoredServerAsync(viaB, (string)image["id"]!);
        var restoredSystem = (string)(await viaB.GetAsync($"/v1/{Alice.ProjectId}/cloudservers/{restored}/block_device")).Expect(200)
            ["volumeAttachments"].AsArray().Single(d => (int)d!["bootIndex"]! == 0)!["volumeId"]!;
        Assert.True(File.Exists(VolumeFile(dataB, restoredSystem)));
        Assert.False(File.Exists(VolumeFile(dataA, restoredSystem)));
        Assert.Equal(source, await DiskBytes.ServerChunksAsync(viaB, restored));
        Assert.Equal(source, await DiskBytes.ServerChunksAsync(viaA, restored));

        // Node A dies: its volume's bytes are answered with a clear error naming it, at once; node B serves the rest.
        a.Kill();
        var started = DateTime.UtcNow;
        using var response = await DiskBytes.SendAsync(viaB, HttpMethod.Get, DiskBytes.PathOf(viaB, server.SystemVolumeId, "sha256"));
        Assert.Equal(503, (int)response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("Ims.0503", body, StringComparison.Ordinal);
        Assert.Contains("node-a", body, StringComparison.Ordinal);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(30), "answered without hanging");
        Assert.Equal(source[0], await DiskBytes.ChunksAsync(viaB, restoredSystem));
        (await viaB.GetAsync($"/v1/{Alice.ProjectId}/cloudservers/{server.Id}")).Expect(200);
    }

    [MultiNodeFact]
    public async Task Node_A_killed_during_a_capture_finishes_it_after_its_restart_while_node_B_collects()
    {
        var b = await StartNodeAsync("node-b", dataB);
        using var _ = b;
        var viaB = b.Client(Alice);
        List<List<string>> source;
        TestServer server;
        string checkpointId;
        using (var a = await StartNodeAsync("node-a", dataA))
        {
            var viaA = a.Client(Alice);
            server = await ServerWithDataAsync(viaA, 40);
            source = await DiskBytes.ServerChunksAsync(viaA, server.Id);
            // The backup is asked of node B; node A captures. Kill node A once chunks reach the bucket.
            var vaultId = await Cbr.CreateVaultAsync(viaB, 200, server.Id);
            checkpointId = (string)(await Cbr.CreateCheckpointAsync(viaB, vaultId, server.Id))["id"]!;
            await Poll.UntilAsync(async () => (await bucket!.ChunksAsync()).Count > 0, TimeSpan.FromSeconds(120),
                "the capture to start storing chunks");
            a.Kill();
        }

        // Meanwhile node B goes on: it collects (the dead node's holds lapse) and its job stays with node A.
        var admin = new Faults(b.BaseAddress);
        (await admin.SendAsync(HttpMethod.Post, "/admin/v1/data/gc", new { })).Expect(200);
        Assert.Equal("protecting",
            (string)(await viaB.GetAsync($"/v3/{Alice.ProjectId}/checkpoints/{checkpointId}")).Expect(200)["checkpoint"]["status"]!);

        using var again = await StartNodeAsync("node-a", dataA);
        // Node B collects over and over while node A captures again.
        using var stop = new CancellationTokenSource();
        var collections = 0;
        var collector = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                (await admin.SendAsync(HttpMethod.Post, "/admin/v1/data/gc", new { })).Expect(200);
                collections++;
            }
        });
        string status = "";
        await Poll.UntilAsync(async () =>
        {
            status = (string)(await viaB.GetAsync($"/v3/{Alice.ProjectId}/checkpoints/{checkpointId}")).Expect(200)["checkpoint"]["status"]!;
            return status is "available" or "error";
        }, TimeSpan.FromSeconds(180), "the checkpoint job to end after node A's restart");
        await stop.CancelAsync();
        await collector;
        Assert.Equal("available", status);
        Assert.True(collections > 0);

        var backupId = (string)(await viaB.GetAsync($"/v3/{Alice.ProjectId}/backups?checkpoint_id={checkpointId}")).Expect(200)["backups"]
            .AsArray().Single()!["id"]!;
        var verify = (await admin.SendAsync(HttpMethod.Post, "/admin/v1/data/verify", new { backup_id = backupId })).Expect(200);
        Assert.True((bool)verify["ok"]!, verify.Body);
        var restored = await DiskBytes.RestoredServerAsync(viaB, await DiskBytes.ImageOfBackupAsync(viaB, backupId));
        Assert.Equal(source, await DiskBytes.ServerChunksAsync(viaB, restored));
        Assert.Equal(source, await DiskBytes.ServerChunksAsync(viaB, server.Id));
    }
}
