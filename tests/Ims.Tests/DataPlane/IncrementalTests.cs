using Ims.DataPlane;
using static Ims.Tests.DataPlane.Patterns;

namespace Ims.Tests.DataPlane;

public sealed class IncrementalTests : IDisposable
{
    private readonly StoreFolder store = new();
    private static CancellationToken None => CancellationToken.None;

    public void Dispose() => store.Dispose();

    private async Task<CapturedDisk> CaptureAsync(string id)
    {
        using var lease = await store.Plane.CaptureAsync([new DiskToCapture(id)], None);
        var disk = lease.Disks[0];
        Assert.Equal(await store.Plane.HashVolumeAsync(id, None), await store.Plane.HashManifestAsync(disk.ManifestId, None));
        return disk;
    }

    /// <summary>A new volume whose first chunks hold random bytes, captured (every filled chunk read).</summary>
    private async Task<CapturedDisk> CaptureFilledAsync(string id, int sizeMiB, int filledChunks)
    {
        await store.FillAsync(id, sizeMiB, filledChunks);
        var captured = await CaptureAsync(id);
        Assert.Equal(filledChunks, captured.ChunksRead);
        return captured;
    }

    [Fact]
    public async Task A_second_capture_reads_only_the_chunks_written_since_the_first_even_after_a_restart()
    {
        var first = await CaptureFilledAsync("inc", 80, 20);

        var unchanged = await CaptureAsync("inc");
        Assert.Equal(0, unchanged.ChunksRead);
        Assert.Equal(0, unchanged.BytesStored);
        Assert.Equal(first.ManifestId, unchanged.ManifestId);

        await store.Plane.WriteAsync("inc", (3 * 4L * MiB) + 100, Random(10, 100), None);
        await store.Plane.WriteAsync("inc", (4 * 4L * MiB) - 5, Random(10, 101), None); // straddles chunks 3 and 4
        await store.Plane.WriteAsync("inc", 17 * 4L * MiB, Random(10, 102), None);
        store.Restart();

        var second = await CaptureAsync("inc");
        Assert.Equal(3, second.ChunksRead);
        Assert.True(second.BytesStored <= 3 * ((4 * MiB) + 16));
        var third = await CaptureAsync("inc");
        Assert.Equal(0, third.ChunksRead);
    }

    [Fact]
    public async Task Writes_made_during_a_capture_are_read_by_the_next_one()
    {
        await store.Plane.CreateVolumeAsync("during", 40 * MiB, None);
        for (var chunk = 0; chunk < 10; chunk++) await store.Plane.WriteAsync("during", chunk * 4L * MiB, Random(4 * MiB, chunk), None);
        var capture = store.Plane.CaptureAsync([new DiskToCapture("during")], None);
        await store.Plane.WriteAsync("during", 8 * MiB, Random(100, 5), None);
        using (await capture)
        {
        }
        var next = await CaptureAsync("during");
        Assert.Equal(1, next.ChunksRead);
    }

    [Fact]
    public async Task A_restored_volume_starts_with_its_manifest_as_base()
    {
        await store.Plane.CreateVolumeAsync("origin", 40 * MiB, None);
        for (var chunk = 0; chunk < 10; chunk++) await store.Plane.WriteAsync("origin", chunk * 4L * MiB, Random(4 * MiB, chunk), None);
        var origin = await CaptureAsync("origin");
        await store.Plane.RestoreVolumeAsync("restored", 40 * MiB, origin.ManifestId, None);
        await store.Plane.WriteAsync("restored", 0, Random(10, 3), None);

        var after = await CaptureAsync("restored");
        Assert.Equal(1, after.ChunksRead);
    }

    [Fact]
    public async Task A_failed_capture_leaves_the_changes_tracked()
    {
        await store.Plane.CreateVolumeAsync("fails", 40 * MiB, None);
        await store.Plane.WriteAsync("fails", 0, Random(4 * MiB, 1), None);
        await CaptureAsync("fails");
        await store.Plane.WriteAsync("fails", 4 * MiB, Random(4 * MiB, 2), None);

        using (var cancelled = new CancellationTokenSource())
        {
            await cancelled.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.Plane.CaptureAsync([new DiskToCapture("fails")], cancelled.Token));
        }
        store.Restart();
        var next = await CaptureAsync("fails");
        Assert.Equal(1, next.ChunksRead);
    }

    [Fact]
    public async Task A_base_chunk_collected_meanwhile_is_read_again_from_the_volume()
    {
        await store.Plane.CreateVolumeAsync("lost", 16 * MiB, None);
        await store.Plane.WriteAsync("lost", 0, Random(4 * MiB, 1), None);
        await store.Plane.WriteAsync("lost", 4 * MiB, Random(4 * MiB, 2), None);
        var first = await CaptureAsync("lost");
        store.Time.Advance(TimeSpan.FromHours(1));
        var report = await store.Plane.CollectGarbageAsync(_ => Task.FromResult<IReadOnlyCollection<string>>([]), None);
        Assert.Equal(2, report.ChunksDeleted);

        var again = await CaptureAsync("lost");
        Assert.Equal(first.ManifestId, again.ManifestId);
        Assert.Equal(2, again.ChunksRead);
        Assert.Equal(2, store.ChunkFiles().Count());
    }


    private Task<CollectionReport> CollectKeepingAsync(params string[] live) =>
        store.Plane.CollectGarbageAsync(_ => Task.FromResult<IReadOnlyCollection<string>>(live), None);

    [Fact]
    public async Task Unchanged_chunks_are_reused_without_a_lookup_until_a_collection_deletes_something()
    {
        await CaptureFilledAsync("kept", 40, 4);

        await store.Plane.WriteAsync("kept", 4 * 4L * MiB, Random(4096, 10), None);
        var second = await CaptureAsync("kept");
        Assert.Equal((1, 0), (second.ChunksRead, second.ChunksLookedUp));

        // A collection that deletes nothing leaves the base trusted.
        store.Time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(0, (await CollectKeepingAsync(second.ManifestId)).ChunksDeleted);
        await store.Plane.WriteAsync("kept", 5 * 4L * MiB, Random(4096, 11), None);
        var third = await CaptureAsync("kept");
        Assert.Equal((1, 0), (third.ChunksRead, third.ChunksLookedUp));

        // One that deletes a chunk, even of another volume, makes the next capture check every chunk it reuses...
        await store.Plane.CreateVolumeAsync("other", 4 * MiB, None);
        await store.Plane.WriteAsync("other", 0, Random(4 * MiB, 99), None);
        await CaptureAsync("other");
        store.Time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(1, (await CollectKeepingAsync(third.ManifestId)).ChunksDeleted);
        await store.Plane.WriteAsync("kept", 6 * 4L * MiB, Random(4096, 12), None);
        var fourth = await CaptureAsync("kept");
        Assert.Equal((1, 6), (fourth.ChunksRead, fourth.ChunksLookedUp));

        // ...and the one after trusts its base again, also after a restart.
        store.Restart();
        await store.Plane.WriteAsync("kept", 7 * 4L * MiB, Random(4096, 13), None);
        var fifth = await CaptureAsync("kept");
        Assert.Equal((1, 0), (fifth.ChunksRead, fifth.ChunksLookedUp));
    }

    [Fact]
    public async Task A_store_that_lost_its_deletion_epoch_trusts_no_recorded_base()
    {
        var first = await CaptureFilledAsync("epoch", 16, 2);
        var firstChunk = Path.GetFileName(store.ChunkFiles().First());

        // As if the store had been rolled back behind the service's back: a chunk and the epoch file are gone.
        store.Plane.Dispose();
        File.Delete(store.ChunkPath(firstChunk));
        File.Delete(Path.Combine(store.Root, "deletion-epoch"));
        store.Restart();

        await store.Plane.WriteAsync("epoch", 8 * MiB, Random(4096, 3), None);
        var next = await CaptureAsync("epoch");
        Assert.Equal(2, next.ChunksLookedUp);
        Assert.Equal(2, next.ChunksRead); // the lost chunk is read again, with the changed one
        Assert.True((await store.Plane.VerifyAsync([next.ManifestId], None)).Ok);
        Assert.NotEqual(first.ManifestId, next.ManifestId);
    }

    [Fact]
    public async Task A_base_chunk_moved_aside_as_damaged_is_read_again_by_the_next_capture()
    {
        var first = await CaptureFilledAsync("healed", 16, 2);
        var damaged = store.ChunkFiles().First();
        var bytes = await File.ReadAllBytesAsync(damaged);
        bytes[^1] ^= 0x01;
        File.SetAttributes(damaged, FileAttributes.Normal);
        await File.WriteAllBytesAsync(damaged, bytes);
        Assert.False((await store.Plane.VerifyAsync([first.ManifestId], None)).Ok);
        Assert.False(File.Exists(damaged));

        await store.Plane.WriteAsync("healed", 8 * MiB, Random(4096, 3), None);
        var next = await CaptureAsync("healed");
        Assert.Equal(2, next.ChunksRead); // the changed chunk, and the one the store no longer has
        Assert.True((await store.Plane.VerifyAsync([next.ManifestId], None)).Ok);
    }
}
