using System.Text.Json.Nodes;
using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;
using Ims.Tests.Ims;

namespace Ims.Tests.DataPlane;

/// <summary>Disks hold bytes: written through the data endpoint, captured by every kind of backup, restored byte for byte.</summary>
public sealed class DiskBytesTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;
    private ApiClient Alice => Service.Client(TestAccounts.Alice);
    private Faults Admin => new(Service.BaseAddress);

    [Fact]
    public async Task Bytes_written_to_a_volume_read_back_and_a_new_volume_reads_as_zeros()
    {
        var volumeId = await Servers.CreateVolumeAsync(Alice, size: 10);
        Assert.Equal(new byte[4096], await DiskBytes.ReadAsync(Alice, volumeId, 5 * DiskBytes.Gib, 4096));
        Assert.Empty(await DiskBytes.ChunksAsync(Alice, volumeId));

        var data = DiskBytes.Pattern(7, 10_000);
        await DiskBytes.WriteAsync(Alice, volumeId, DiskBytes.ChunkSize - 5000, data);
        Assert.Equal(data, await DiskBytes.ReadAsync(Alice, volumeId, DiskBytes.ChunkSize - 5000, data.Length));
        // The write straddles chunks 0 and 1: exactly those two are non-zero.
        Assert.Equal(["0", "1"], (await DiskBytes.ChunksAsync(Alice, volumeId)).Select(c => c.Split(':')[0]));
    }

    [Theory]
    [InlineData("bytes?offset=-1", "PUT")]
    [InlineData("bytes?offset=abc", "PUT")]
    [InlineData("bytes", "PUT")]
    [InlineData("bytes?offset=10737418200", "PUT")] // 10 GiB - 40: the 100-byte body ends past the end
    [InlineData("bytes?offset=0&length=0", "GET")]
    [InlineData("bytes?offset=0&length=8388609", "GET")]
    [InlineData("bytes?offset=10737418240&length=1", "GET")]
    [InlineData("bytes?offset=0", "GET")]
    public async Task Bad_offsets_and_lengths_are_400_in_EVS_shape(string query, string method)
    {
        var volumeId = await Servers.CreateVolumeAsync(Alice, size: 10);
        using var response = await DiskBytes.SendAsync(Alice, new HttpMethod(method), DiskBytes.PathOf(Alice, volumeId, query),
            method == "PUT" ? new byte[100] : null);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(400, (int)response.StatusCode);
        Assert.Equal("EVS.2024", (string?)body["error"]!["code"]);
        Assert.False(string.IsNullOrEmpty((string?)body["error"]!["message"]));
    }

    [Fact]
    public async Task Unknown_and_foreign_volumes_are_404_other_projects_403_and_big_writes_413()
    {
        var volumeId = await Servers.CreateVolumeAsync(Alice, size: 10);
        var bob = Service.Client(TestAccounts.Bob);
        using (var foreign = await DiskBytes.SendAsync(bob, HttpMethod.Get, DiskBytes.PathOf(bob, volumeId, "chunks")))
            Assert.Equal(404, (int)foreign.StatusCode);
        using (var missing = await DiskBytes.SendAsync(Alice, HttpMethod.Get, DiskBytes.PathOf(Alice, Guid.NewGuid().ToString(), "sha256")))
            Assert.Equal(404, (int)missing.StatusCode);
        using (var otherProject = await DiskBytes.SendAsync(bob, HttpMethod.Get, DiskBytes.PathOf(Alice, volumeId, "chunks")))
            Assert.Equal(403, (int)otherProject.StatusCode);
        using (var tooBig = await DiskBytes.SendAsync(Alice, HttpMethod.Put, DiskBytes.PathOf(Alice, volumeId, "bytes?offset=0"),
                   new byte[8 * 1024 * 1024 + 1]))
        {
            Assert.Equal(413, (int)tooBig.StatusCode);
            Assert.Equal("EVS.2024", (string?)JsonNode.Parse(await tooBig.Content.ReadAsStringAsync())!["error"]!["code"]);
        }
        // AK/SK signs the body: the same endpoint works with it.
        var signed = Service.Client(TestAccounts.Alice, AuthMode.AkSk);
        (await signed.GetAsync(DiskBytes.PathOf(signed, volumeId, "chunks"))).Expect(200);
    }

    [Fact]
    public async Task Round_trip_CBR_backup_whole_image_and_new_server_equal_the_source_disk_by_disk()
    {
        var server = await TestServers.CreateAsync(Service, Alice, 10, 20);
        await DiskBytes.WritePatternsAsync(Alice, server, seed: 1000);
        var source = await DiskBytes.ServerChunksAsync(Alice, server.Id);
        Assert.All(source, disk => Assert.Equal(5, disk.Count)); // chunks 0, 2, 3, 4 and the last one

        var (_, backupId) = await WholeImages.CbrBackupAsync(Alice, server.Id);
        var imageId = await DiskBytes.ImageOfBackupAsync(Alice, backupId);
        var restored = await DiskBytes.RestoredServerAsync(Alice, imageId);

        Assert.Equal(source, await DiskBytes.ServerChunksAsync(Alice, restored));
        // One full SHA-256 of the whole declared size, on the smallest disk (hashing zeros costs time).
        var sourceDisk = server.DataVolumes.Single(d => d.SizeGb == 10).Id;
        var restoredDisks = (await Alice.GetAsync($"/v1/{Alice.ProjectId}/cloudservers/{restored}/block_device")).Expect(200)["volumeAttachments"]
            .AsArray().Where(d => (int)d!["size"]! == 10).Select(d => (string)d!["volumeId"]!).ToList();
        var expected = await DiskBytes.Sha256Async(Alice, sourceDisk);
        var actual = await DiskBytes.Sha256Async(Alice, Assert.Single(restoredDisks));
        Assert.Equal(10 * DiskBytes.Gib, (long)actual["size"]!);
        Assert.Equal((string?)expected["sha256"], (string?)actual["sha256"]);
        Assert.Matches("^[0-9a-f]{64}$", (string?)actual["sha256"]);
    }

    [Fact]
    public async Task Mode_A_image_captures_the_bytes_and_a_server_from_it_gets_them()
    {
        var server = await TestServers.CreateAsync(Service, Alice, 10);
        await DiskBytes.WritePatternsAsync(Alice, server, seed: 2000);
        var source = await DiskBytes.ServerChunksAsync(Alice, server.Id);
        var vaultId = await Cbr.CreateVaultAsync(Alice);

        var (_, image) = await WholeImages.WaitForImageAsync(Alice, await WholeImages.CreateAsync(Alice,
            new { name = Servers.UniqueName("img"), instance_id = server.Id, vault_id = vaultId }));
        var restored = await DiskBytes.RestoredServerAsync(Alice, (string)image["id"]!);

        Assert.Equal(source, await DiskBytes.ServerChunksAsync(Alice, restored));
    }

    [Fact]
    public async Task A_CSBS_backup_captures_every_disk_and_verifies_clean()
    {
        var server = await TestServers.CreateAsync(Service, Alice, 10, 10);
        await DiskBytes.WritePatternsAsync(Alice, server, seed: 3000);
        var (checkpointId, _) = await CsbsTests.BackUpAsync(Alice, server.Id);
        var backupId = await BackupOfCheckpointAsync(checkpointId);

        var verify = (await Admin.SendAsync(HttpMethod.Post, "/admin/v1/data/verify", new { backup_id = backupId })).Expect(200);
        Assert.Equal(3, verify["manifests"].AsArray().Count);
        Assert.Equal(15L, (long)verify["chunks_checked"]!); // five non-zero chunks per disk
        Assert.True((bool)verify["ok"]!);
        Assert.Empty(verify["damaged"].AsArray());
    }

    [Fact]
    public async Task Verify_of_an_unknown_backup_is_404_and_a_body_needs_exactly_one_id()
    {
        (await Admin.SendAsync(HttpMethod.Post, "/admin/v1/data/verify", new { backup_id = Guid.NewGuid().ToString() }))
            .ExpectAdminError(404, "APIGW.0101");
        (await Admin.SendAsync(HttpMethod.Post, "/admin/v1/data/verify", new { })).ExpectAdminError(400, "APIGW.0201");
    }

    /// <summary>
    /// Writes go on, to every disk, before, while and after a backup captures; the backup must equal the disks as they
    /// were after some prefix of the acknowledged writes (one instant for all disks), and writes must have been
    /// acknowledged on both sides of that instant.
    /// </summary>
    [Fact]
    public async Task A_backup_holds_one_instant_of_all_disks_while_writes_go_on()
    {
        var server = await TestServers.CreateAsync(Service, Alice, 10, 10);
        var disks = new List<string> { server.SystemVolumeId };
        disks.AddRange(server.DataVolumes.Select(d => d.Id));
        const int ChunksPerDisk = 8;
        // The model: every written chunk of every disk, as the writes left it.
        var model = disks.ToDictionary(d => d, _ => new byte[ChunksPerDisk][], StringComparer.Ordinal);
        var seed = 0;
        foreach (var disk in disks)
            for (var chunk = 0; chunk < ChunksPerDisk; chunk++)
            {
                model[disk][chunk] = DiskBytes.Pattern(++seed, DiskBytes.ChunkSize);
                await DiskBytes.WriteAsync(Alice, disk, (long)chunk * DiskBytes.ChunkSize, model[disk][chunk]);
            }

        // Slow the job before it captures, so that writes are surely under way when the capture starts.
        await Admin.CreateAsync(new { job_type = global::Ims.Service.Cbr.CbrBackupEndpoints.JobType, step = "capture bytes", delay_ms = 300, count = 1 });
        var vaultId = await Cbr.CreateVaultAsync(Alice, 200, server.Id);
        var checkpointId = (string)(await Cbr.CreateCheckpointAsync(Alice, vaultId, server.Id))["id"]!;

        var writes = new List<(string Disk, int Chunk, int Offset, byte[] Data)>();
        var available = false;
        var afterAvailable = 0;
        while (afterAvailable < 3)
        {
            var n = writes.Count;
            var write = (Disk: disks[n % disks.Count], Chunk: n / disks.Count % ChunksPerDisk, Offset: 4096 * (n % 64), Data: DiskBytes.Pattern(100_000 + n, 4096));
            await DiskBytes.WriteAsync(Alice, write.Disk, (long)write.Chunk * DiskBytes.ChunkSize + write.Offset, write.Data);
            writes.Add(write);
            if (available) afterAvailable++;
            else available = (string?)(await Alice.GetAsync($"/v3/{Alice.ProjectId}/checkpoints/{checkpointId}")).Expect(200)["checkpoint"]["status"] == "available";
        }

        var backupId = await BackupOfCheckpointAsync(checkpointId);
        var restored = await DiskBytes.RestoredServerAsync(Alice, await DiskBytes.ImageOfBackupAsync(Alice, backupId));
        var captured = await DiskBytes.ServerChunksAsync(Alice, restored);
        var capturedAll = captured.SelectMany((chunks, n) => chunks.Select(c => $"{n}/{c}")).ToHashSet(StringComparer.Ordinal);

        // Replay the writes on the model; the capture must match the model after exactly one prefix.
        var digests = disks.SelectMany((d, n) => model[d].Select((bytes, chunk) => (Key: (n, chunk), Hash: DiskBytes.Hex(bytes))))
            .ToDictionary(e => e.Key, e => e.Hash);
        bool Matches() => capturedAll.SetEquals(digests.Select(e => $"{e.Key.n}/{e.Key.chunk}:{e.Value}"));
        var matchingPrefixes = new List<int>();
        if (Matches()) matchingPrefixes.Add(0);
        for (var k = 0; k < writes.Count; k++)
        {
            var (disk, chunk, offset, data) = writes[k];
            data.CopyTo(model[disk][chunk], offset);
            digests[(disks.IndexOf(disk), chunk)] = DiskBytes.Hex(model[disk][chunk]);
            if (Matches()) matchingPrefixes.Add(k + 1);
        }
        var prefix = Assert.Single(matchingPrefixes);
        Assert.True(prefix > 0, "no write made after the request reached the backup");
        Assert.True(prefix < writes.Count, "writes made after the backup finished leaked into it");
    }

    private async Task<string> BackupOfCheckpointAsync(string checkpointId)
    {
        var backups = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?checkpoint_id={checkpointId}")).Expect(200)["backups"].AsArray();
        if (backups.Count > 0) return (string)backups[0]!["id"]!;
        // CSBS checkpoints: their items are the backups.
        var items = (await Alice.GetAsync($"/v1/{Alice.ProjectId}/checkpoint_items?checkpoint_id={checkpointId}")).Expect(200);
        return (string)items["checkpoint_items"][0]!["id"]!;
    }
}
