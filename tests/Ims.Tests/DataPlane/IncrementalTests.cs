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

    [Fact]
    public async Task A_second_capture_reads_only_the_chunks_written_since_the_first_even_after_a_restart()
    {
        await store.Plane.CreateVolumeAsync("inc", 80 * MiB, None);
        for (var chunk = 0; chunk < 20; chunk++) await store.Plane.WriteAsync("inc", chunk * 4L * MiB, Random(4 * MiB, chunk), None);
        var first = await CaptureAsync("inc");
        Assert.Equal(20, first.ChunksRead);

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
}
