using Ims.DataPlane;
using static Ims.Tests.DataPlane.Patterns;

namespace Ims.Tests.DataPlane;

public sealed class DamageTests : IDisposable
{
    private readonly StoreFolder store = new();
    private static CancellationToken None => CancellationToken.None;

    public void Dispose() => store.Dispose();

    private async Task<(string ManifestId, string[] ChunkIds)> CaptureTwoChunksAsync()
    {
        await store.Plane.CreateVolumeAsync("v", 16 * MiB, None);
        await store.Plane.WriteAsync("v", 0, Random(4 * MiB, 1), None);
        await store.Plane.WriteAsync("v", 8 * MiB, Repeated(4 * MiB, 2), None);
        using var lease = await store.Plane.CaptureAsync([new DiskToCapture("v")], None);
        var chunkIds = store.ChunkFiles().Select(p => Path.GetFileName(p)).ToArray();
        Assert.Equal(2, chunkIds.Length);
        return (lease.Disks[0].ManifestId, chunkIds);
    }

    [Fact]
    public async Task A_flipped_byte_is_reported_by_verify_and_fails_a_restore_leaving_no_volume()
    {
        var (manifestId, chunkIds) = await CaptureTwoChunksAsync();
        Assert.True((await store.Plane.VerifyAsync([manifestId], None)).Ok);

        foreach (var chunkId in chunkIds)
        {
            var path = store.ChunkPath(chunkId);
            var bytes = await File.ReadAllBytesAsync(path);
            bytes[^100] ^= 0x40;
            await File.WriteAllBytesAsync(path, bytes);
        }

        var error = await Assert.ThrowsAsync<DamagedChunkException>(() => store.Plane.RestoreVolumeAsync("restored", 16 * MiB, manifestId, None));
        Assert.Contains("damaged", error.Message, StringComparison.Ordinal);
        Assert.False(store.Plane.VolumeExists("restored"));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(store.Root, "volumes"), "restored*"));

        var report = await store.Plane.VerifyAsync([manifestId], None);
        Assert.False(report.Ok);
        Assert.Equal(2, report.ChunksChecked);
        Assert.Equal(chunkIds.Order(), report.Damaged.Select(d => d.ChunkId).Order());
        Assert.All(report.Damaged, d => Assert.Equal(manifestId, d.ManifestId));
        Assert.Equal([0L, 2L], report.Damaged.Select(d => d.ChunkIndex).Order());
    }

    [Fact]
    public async Task A_torn_chunk_is_detected_never_served_and_stored_again_by_the_next_capture()
    {
        var (manifestId, chunkIds) = await CaptureTwoChunksAsync();
        var path = store.ChunkPath(chunkIds[0]);
        using (var file = File.OpenHandle(path, FileMode.Open, FileAccess.Write)) RandomAccess.SetLength(file, RandomAccess.GetLength(file) / 2);

        await Assert.ThrowsAsync<DamagedChunkException>(() => store.Plane.HashManifestAsync(manifestId, None));
        await Assert.ThrowsAsync<DamagedChunkException>(() => store.Plane.RestoreVolumeAsync("restored", 16 * MiB, manifestId, None));
        Assert.False(store.Plane.VolumeExists("restored"));
        Assert.False(File.Exists(path)); // moved aside, so the store no longer claims to have it
        Assert.True(File.Exists(path + ".bad"));

        // The volume still holds the bytes: a full capture of a fresh copy stores the chunk again.
        await store.Plane.CreateVolumeAsync("again", 16 * MiB, None);
        var buffer = new byte[16 * MiB];
        await store.Plane.ReadAsync("v", 0, buffer, None);
        await store.Plane.WriteAsync("again", 0, buffer, None);
        using var lease = await store.Plane.CaptureAsync([new DiskToCapture("again")], None);
        Assert.Equal(manifestId, lease.Disks[0].ManifestId);
        Assert.True((await store.Plane.VerifyAsync([manifestId], None)).Ok);
    }

    [Fact]
    public async Task A_missing_chunk_or_manifest_is_reported()
    {
        var (manifestId, chunkIds) = await CaptureTwoChunksAsync();
        File.Delete(store.ChunkPath(chunkIds[1]));
        var report = await store.Plane.VerifyAsync([manifestId, new string('a', 64)], None);
        Assert.Equal(2, report.Damaged.Count);
        Assert.Contains(report.Damaged, d => d.ChunkId == chunkIds[1] && d.Problem.Contains("missing", StringComparison.Ordinal));
        Assert.Contains(report.Damaged, d => d.ManifestId == new string('a', 64) && d.ChunkIndex == -1);
        await Assert.ThrowsAsync<DamagedChunkException>(() => store.Plane.ManifestSizeAsync(new string('a', 64), None));
    }

    [Fact]
    public async Task A_store_of_an_unknown_version_is_refused()
    {
        store.Plane.Dispose();
        await File.WriteAllTextAsync(Path.Combine(store.Root, "config"), """{"version":2,"chunk_size":4194304}""");
        var error = Assert.Throws<NotSupportedException>(() => store.Open());
        Assert.Contains("version 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_store_config_records_version_and_chunk_size()
    {
        var config = await File.ReadAllTextAsync(Path.Combine(store.Root, "config"));
        Assert.Equal("""{"version":1,"chunk_size":4194304}""", config);
    }
}
