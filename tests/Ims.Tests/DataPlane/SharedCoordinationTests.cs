using Ims.DataPlane;
using Ims.Service.Data;
using Ims.Service.Storage;
using Ims.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using static Ims.Tests.DataPlane.Patterns;
using Plane = Ims.DataPlane.DataPlane;

namespace Ims.Tests.DataPlane;

/// <summary>
/// Two data planes (two nodes) on one chunk store (a shared folder, or one bucket on the RADOS Gateway) and one database
/// (SQLite, or PostgreSQL when IMS_TEST_POSTGRES is set), coordinated through it (<see cref="DatabaseCoordination"/>).
/// </summary>
public sealed class SharedCoordinationTests : IDisposable
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);
    private static CancellationToken None => CancellationToken.None;

    private readonly string dataDir = Path.Combine(Path.GetTempPath(), "ims-shared-" + Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly List<IDisposable> owned = [];
    private TestBucket? bucket;
    private Database? db;

    public void Dispose()
    {
        for (var i = owned.Count - 1; i >= 0; i--) owned[i].Dispose();
        (db as IDisposable)?.Dispose();
        bucket?.Dispose();
        TestDatabases.Drop(dataDir);
        try
        {
            Directory.Delete(dataDir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: the OS cleans temp folders.
        }
    }

    private async Task<Database> DatabaseAsync()
    {
        if (db is not null) return db;
        Directory.CreateDirectory(dataDir);
        db = TestDatabases.Open(dataDir);
        await Migrator.MigrateAsync(db, None);
        return db;
    }

    /// <summary>A node: its own coordination (its own owner tag) and data plane; the folder is shared unless the chunks are in a bucket.</summary>
    private async Task<(Plane Plane, DatabaseCoordination Coordination)> NodeAsync(string name)
    {
        var coordination = new DatabaseCoordination(await DatabaseAsync(), time, name, Lease, NullLogger.Instance);
        owned.Add(coordination);
        var root = bucket is null ? Path.Combine(dataDir, "store") : Path.Combine(dataDir, name);
        var plane = Plane.Open(new DataPlaneOptions { Root = root, Parallelism = 2, ObjectStore = bucket?.Options }, time, coordination);
        owned.Add(plane);
        return (plane, coordination);
    }

    private static Func<CancellationToken, Task<IReadOnlyCollection<string>>> Live(params string[] manifestIds) =>
        _ => Task.FromResult<IReadOnlyCollection<string>>(manifestIds);

    private static async Task FillAsync(Plane plane, string volumeId, int chunks, int seed)
    {
        await plane.CreateVolumeAsync(volumeId, 64L * MiB, None);
        for (var chunk = 0; chunk < chunks; chunk++) await plane.WriteAsync(volumeId, chunk * 4L * MiB, Random(4 * MiB, seed + chunk), None);
    }

    private static async Task<string> CaptureAsync(Plane plane, string volumeId)
    {
        using var lease = await plane.CaptureAsync([new DiskToCapture(volumeId)], None);
        return lease.Disks[0].ManifestId;
    }

    [Fact]
    public Task A_collection_on_one_node_deletes_nothing_the_other_node_captures_or_restores_in_a_shared_folder() =>
        CollectWhileTheOtherNodeWorksAsync();

    [RgwFact]
    public Task A_collection_on_one_node_deletes_nothing_the_other_node_captures_or_restores_in_a_bucket()
    {
        bucket = new TestBucket();
        return CollectWhileTheOtherNodeWorksAsync();
    }

    private async Task CollectWhileTheOtherNodeWorksAsync()
    {
        var (a, _) = await NodeAsync("node-a");
        var (b, _) = await NodeAsync("node-b");

        // Node A: an image (kept: a record names it) and a dropped backup (its chunks are garbage).
        await FillAsync(a, "a-disk", 6, 1000);
        var image = await CaptureAsync(a, "a-disk");
        await FillAsync(a, "a-scratch", 3, 2000);
        var dropped = await CaptureAsync(a, "a-scratch");
        // Node B: a base whose backup is deleted again (no record names it), then many changes for a long capture.
        await FillAsync(b, "b-disk", 4, 3000);
        await CaptureAsync(b, "b-disk");
        for (var chunk = 4; chunk < 14; chunk++) await b.WriteAsync("b-disk", chunk * 4L * MiB, Random(4 * MiB, 4000 + chunk), None);
        time.Advance(TimeSpan.FromHours(1));

        // At once: A collects (only the image is live), B captures its disk and restores A's image.
        var capture = b.CaptureAsync([new DiskToCapture("b-disk")], None);
        var restore = b.RestoreVolumeAsync("b-from-image", 64L * MiB, image, None);
        var collection = a.CollectGarbageAsync(Live(image), None);
        using var captured = await capture;
        await restore;
        var report = await collection;

        Assert.True(report.ChunksDeleted >= 3, $"the dropped backup's chunks are garbage ({report.ChunksDeleted} deleted)");
        await Assert.ThrowsAsync<DamagedChunkException>(() => a.ManifestSizeAsync(dropped, None));
        var verify = await b.VerifyAsync([captured.Disks[0].ManifestId, image], None);
        Assert.True(verify.Ok, string.Join("; ", verify.Damaged.Select(d => d.Problem)));
        Assert.Equal(await a.HashVolumeAsync("a-disk", None), await b.HashVolumeAsync("b-from-image", None));
        Assert.Equal(await b.HashVolumeAsync("b-disk", None), await a.HashManifestAsync(captured.Disks[0].ManifestId, None));

        // B's capture lease ends; a restore on A of B's capture (a record names it now) is byte-identical.
        var bCapture = captured.Disks[0].ManifestId;
        captured.Dispose();
        time.Advance(TimeSpan.FromHours(1));
        await a.CollectGarbageAsync(Live(image, bCapture), None);
        await a.RestoreVolumeAsync("a-from-b", 64L * MiB, bCapture, None);
        Assert.Equal(await b.HashVolumeAsync("b-disk", None), await a.HashVolumeAsync("a-from-b", None));
    }

    /// <summary>
    /// A node's start and its collections remove its own crash leftovers only: in a shared folder another node's temporary
    /// file may be a restore it is writing (a collection once deleted one under a running restore).
    /// </summary>
    [Fact]
    public async Task A_node_removes_its_own_leftover_temporary_files_but_never_the_other_nodes()
    {
        var (a, _) = await NodeAsync("node-a");
        await NodeAsync("node-b");
        var volumes = Path.Combine(dataDir, "store", "volumes");
        Directory.CreateDirectory(volumes);
        var othersRestore = Path.Combine(volumes, $"b-disk.raw.tmp-node-b~{Guid.NewGuid():N}");
        var ownLeftover = Path.Combine(volumes, $"a-disk.raw.tmp-node-a~{Guid.NewGuid():N}");
        var untagged = Path.Combine(volumes, $"old-disk.raw.tmp-{Guid.NewGuid():N}");
        foreach (var path in new[] { othersRestore, ownLeftover, untagged }) await File.WriteAllBytesAsync(path, Random(4096, 5));

        await a.CollectGarbageAsync(Live(), None);
        Assert.True(File.Exists(othersRestore), "node A deleted node B's temporary file");
        Assert.False(File.Exists(ownLeftover));
        Assert.False(File.Exists(untagged));

        var leftover = Path.Combine(volumes, $"a-disk.raw.tmp-node-a~{Guid.NewGuid():N}");
        await File.WriteAllBytesAsync(leftover, Random(4096, 6));
        await NodeAsync("node-a"); // node A started again on the same folder
        Assert.False(File.Exists(leftover));
        Assert.True(File.Exists(othersRestore), "node A's start deleted node B's temporary file");
    }

    [Fact]
    public async Task A_collection_waits_for_the_other_nodes_chunk_writers_and_holds_new_ones_back()
    {
        var (a, _) = await NodeAsync("node-a");
        var (_, bCoordination) = await NodeAsync("node-b");
        var writing = await bCoordination.EnterWriterAsync(None);

        var collection = a.CollectGarbageAsync(Live(), None);
        Assert.NotSame(collection, await Task.WhenAny(collection, Task.Delay(TimeSpan.FromMilliseconds(700))));
        writing.Dispose();
        await collection.WaitAsync(TimeSpan.FromSeconds(30));

        // A writer while a collection runs (it asks for the live manifests) waits for it.
        var asked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var answer = new TaskCompletionSource<IReadOnlyCollection<string>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var second = a.CollectGarbageAsync(_ =>
        {
            asked.TrySetResult();
            return answer.Task;
        }, None);
        await asked.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var writer = bCoordination.EnterWriterAsync(None);
        Assert.NotSame(writer, await Task.WhenAny(writer, Task.Delay(TimeSpan.FromMilliseconds(700))));
        answer.SetResult([]);
        await second;
        (await writer.WaitAsync(TimeSpan.FromSeconds(30))).Dispose();
    }

    [Fact]
    public async Task The_pins_and_collection_turn_of_a_node_that_stopped_lapse_after_one_lease()
    {
        var (a, _) = await NodeAsync("node-a");
        await FillAsync(a, "disk", 2, 5000);
        var manifest = await CaptureAsync(a, "disk");
        time.Advance(TimeSpan.FromHours(1));

        // A node pins the manifest (a restore in progress, say), then dies: nothing renews its hold any more.
        var dead = new DatabaseCoordination(await DatabaseAsync(), time, "node-dead", Lease, NullLogger.Instance);
        var hold = await dead.BeginOperationAsync(None);
        await dead.PinAsync(hold, [manifest], observeEpoch: false, None);
        dead.Dispose();

        var kept = await a.CollectGarbageAsync(Live(), None);
        Assert.Equal((0, 2), (kept.ChunksDeleted, kept.ChunksKept));

        time.Advance(Lease + TimeSpan.FromSeconds(1));
        var freed = await a.CollectGarbageAsync(Live(), None);
        Assert.Equal(2, freed.ChunksDeleted);

        // A node that dies during its collection leaves its turn behind; the next collection waits one lease, not for ever.
        var dying = new DatabaseCoordination(await DatabaseAsync(), time, "node-dying", Lease, NullLogger.Instance);
        _ = await dying.BeginCollectionAsync(excludeWriters: true, None);
        dying.Dispose();
        var next = a.CollectGarbageAsync(Live(), None);
        Assert.NotSame(next, await Task.WhenAny(next, Task.Delay(TimeSpan.FromMilliseconds(500))));
        time.Advance(Lease + TimeSpan.FromSeconds(1));
        await next.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
