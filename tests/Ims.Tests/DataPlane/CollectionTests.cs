using System.Diagnostics;
using Ims.DataPlane;
using static Ims.Tests.DataPlane.Patterns;

namespace Ims.Tests.DataPlane;

public sealed class CollectionTests : IDisposable
{
    private readonly StoreFolder store = new();
    private static CancellationToken None => CancellationToken.None;

    public void Dispose() => store.Dispose();

    private static Func<CancellationToken, Task<IReadOnlyCollection<string>>> Live(params string[] manifestIds) =>
        _ => Task.FromResult<IReadOnlyCollection<string>>(manifestIds);

    [Fact]
    public async Task Collection_frees_unreferenced_chunks_and_keeps_referenced_ones()
    {
        var plane = store.Plane;
        await plane.CreateVolumeAsync("gc", 16 * MiB, None);
        await plane.WriteAsync("gc", 0, Random(4 * MiB, 1), None);
        await plane.WriteAsync("gc", 4 * MiB, Random(4 * MiB, 2), None);
        string keep;
        using (var lease = await plane.CaptureAsync([new DiskToCapture("gc")], None)) keep = lease.Disks[0].ManifestId;
        await plane.WriteAsync("gc", 4 * MiB, Random(4 * MiB, 3), None);
        string drop;
        using (var lease = await plane.CaptureAsync([new DiskToCapture("gc")], None)) drop = lease.Disks[0].ManifestId;
        Assert.Equal(3, store.ChunkFiles().Count());

        // Nothing is old enough yet: a collection right after the captures deletes nothing.
        var early = await plane.CollectGarbageAsync(Live(keep), None);
        Assert.Equal(0, early.ChunksDeleted);

        store.Time.Advance(TimeSpan.FromMinutes(5));
        var report = await plane.CollectGarbageAsync(Live(keep), None);
        Assert.Equal(1, report.ChunksDeleted);
        Assert.Equal(2, report.ChunksKept);
        Assert.Equal(1, report.ManifestsDeleted);
        Assert.True(report.BytesFreed >= 4 * MiB);
        Assert.True((await plane.VerifyAsync([keep], None)).Ok);
        await Assert.ThrowsAsync<DamagedChunkException>(() => plane.ManifestSizeAsync(drop, None));
        await plane.RestoreVolumeAsync("kept", 16 * MiB, keep, None);
    }

    [Fact]
    public async Task A_leased_capture_survives_a_collection_that_does_not_know_it_yet()
    {
        var plane = store.Plane;
        await plane.CreateVolumeAsync("leased", 8 * MiB, None);
        await plane.WriteAsync("leased", 0, Random(4 * MiB, 1), None);
        var lease = await plane.CaptureAsync([new DiskToCapture("leased")], None);
        store.Time.Advance(TimeSpan.FromHours(1));

        await plane.CollectGarbageAsync(Live(), None);
        Assert.True((await plane.VerifyAsync([lease.Disks[0].ManifestId], None)).Ok);

        lease.Dispose();
        store.Time.Advance(TimeSpan.FromHours(1));
        var report = await plane.CollectGarbageAsync(Live(), None);
        Assert.Equal(1, report.ChunksDeleted);
        Assert.Equal(1, report.ManifestsDeleted);
    }

    [Fact]
    public async Task A_collection_during_a_capture_keeps_the_base_the_capture_reuses_without_lookups()
    {
        var plane = store.Plane;
        await store.FillAsync("pinned", 80, 4);
        using (await plane.CaptureAsync([new DiskToCapture("pinned")], None))
        {
        }
        // The base's backup is deleted (no record names it any more), and many chunks change, so the capture runs a while.
        for (var chunk = 4; chunk < 20; chunk++) await plane.WriteAsync("pinned", chunk * 4L * MiB, Random(4 * MiB, 100 + chunk), None);
        store.Time.Advance(TimeSpan.FromHours(1));

        var capture = plane.CaptureAsync([new DiskToCapture("pinned")], None);
        var collection = await plane.CollectGarbageAsync(Live(), None);
        using var captured = await capture;
        var disk = captured.Disks[0];

        Assert.Equal((16, 0), (disk.ChunksRead, disk.ChunksLookedUp)); // the base's chunks were reused unchecked...
        var report = await plane.VerifyAsync([disk.ManifestId], None);
        Assert.True(report.Ok, string.Join("; ", report.Damaged.Select(d => d.Problem))); // ...and the collection kept them
        Assert.Equal(await plane.HashVolumeAsync("pinned", None), await plane.HashManifestAsync(disk.ManifestId, None));
        Assert.True(collection.ChunksKept >= 4);
    }

    [Fact]
    public async Task A_capture_that_starts_while_a_collection_runs_checks_every_chunk_it_reuses()
    {
        var plane = store.Plane;
        await store.FillAsync("busy", 40, 4);
        using (await plane.CaptureAsync([new DiskToCapture("busy")], None))
        {
        }
        await plane.WriteAsync("busy", 5 * 4L * MiB, Random(4096, 9), None);

        // The collection is running (asking for the live manifests) when the capture pins its base.
        var asked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var answer = new TaskCompletionSource<IReadOnlyCollection<string>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var collection = plane.CollectGarbageAsync(_ =>
        {
            asked.TrySetResult();
            return answer.Task;
        }, None);
        await asked.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var capture = plane.CaptureAsync([new DiskToCapture("busy")], None);
        answer.SetResult([]);
        await collection;
        using var captured = await capture;
        Assert.Equal((1, 4), (captured.Disks[0].ChunksRead, captured.Disks[0].ChunksLookedUp));
        Assert.True((await plane.VerifyAsync([captured.Disks[0].ManifestId], None)).Ok);
    }

    [Fact]
    public async Task Stale_temporary_files_are_removed()
    {
        var stale = Path.Combine(store.Root, "chunks", "ab", "cd", new string('a', 64) + ".tmp-0123");
        Directory.CreateDirectory(Path.GetDirectoryName(stale)!);
        await File.WriteAllBytesAsync(stale, [1, 2, 3]);
        await store.Plane.CollectGarbageAsync(Live(), None);
        Assert.False(File.Exists(stale));
    }

    [Fact]
    public async Task Captures_reusing_chunks_never_lose_them_to_collections_running_over_and_over()
    {
        var plane = store.Plane;
        string[] ids = ["race-a", "race-b"];
        foreach (var (id, i) in ids.Select((id, i) => (id, i)))
        {
            await plane.CreateVolumeAsync(id, 32 * MiB, None);
            for (var chunk = 0; chunk < 8; chunk++) await plane.WriteAsync(id, chunk * 4L * MiB, Random(MiB, chunk), None); // same chunks on both
        }
        var live = new List<string>();
        var captured = new List<string>();
        using var stop = new CancellationTokenSource();
        var collections = 0;
        var collector = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                store.Time.Advance(TimeSpan.FromSeconds(1));
                await plane.CollectGarbageAsync(_ =>
                {
                    lock (live) return Task.FromResult<IReadOnlyCollection<string>>(live.ToArray());
                }, None);
                collections++;
            }
        });

        var clock = Stopwatch.StartNew();
        for (var round = 0; round < 30 || collections < 30; round++)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), "the race made no progress");
            var id = ids[round % 2];
            await plane.WriteAsync(id, (round % 8) * 4L * MiB, Random(4096, 1000 + round), None);
            await plane.WriteAsync(id, (round % 8) * 4L * MiB, Random(MiB, round % 8), None); // back to the shared content
            using var lease = await plane.CaptureAsync([new DiskToCapture(id)], None);
            lock (live)
            {
                // Only every other capture is recorded as live; the rest are dropped as a deleted backup would be.
                if (round % 2 == 0) live.Add(lease.Disks[0].ManifestId);
            }
            captured.Add(lease.Disks[0].ManifestId);
        }
        await stop.CancelAsync();
        await collector;

        var report = await plane.VerifyAsync(live, None);
        Assert.True(report.Ok, string.Join("; ", report.Damaged.Select(d => d.Problem)));
        foreach (var manifestId in live.Distinct()) await plane.HashManifestAsync(manifestId, None);
    }

    /// <summary>
    /// A process killed while it wrote a file under a temporary name (the collection's <c>deletion-epoch</c>, a chunk, a
    /// manifest, a volume, the config) leaves that temporary file behind; the next start removes every one of them and
    /// nothing else.
    /// </summary>
    [Fact]
    public async Task A_restart_removes_the_temporary_files_a_killed_process_left_anywhere_in_the_store()
    {
        var plane = store.Plane;
        await store.FillAsync("kept", 8, 1);
        string manifestId;
        using (var lease = await plane.CaptureAsync([new DiskToCapture("kept")], None)) manifestId = lease.Disks[0].ManifestId;
        var chunk = store.ChunkFiles().First();
        var stray = new[]
        {
            Path.Combine(store.Root, "deletion-epoch.tmp-" + Guid.NewGuid().ToString("N")),
            Path.Combine(store.Root, "config.tmp-" + Guid.NewGuid().ToString("N")),
            chunk + ".tmp-" + Guid.NewGuid().ToString("N"),
            Path.Combine(store.Root, "manifests", manifestId + ".tmp-" + Guid.NewGuid().ToString("N")),
            store.VolumePath("other") + ".tmp-" + Guid.NewGuid().ToString("N"),
        };
        foreach (var path in stray) await File.WriteAllBytesAsync(path, Random(4096, 7));
        var before = Directory.EnumerateFiles(store.Root, "*", SearchOption.AllDirectories).Except(stray).Order().ToList();

        store.Restart();

        var left = stray.Where(File.Exists).ToList();
        Assert.True(left.Count == 0, "left behind: " + string.Join(", ", left));
        Assert.Equal(before, Directory.EnumerateFiles(store.Root, "*", SearchOption.AllDirectories).Order().ToList());
        Assert.True((await store.Plane.VerifyAsync([manifestId], None)).Ok);
    }
}
