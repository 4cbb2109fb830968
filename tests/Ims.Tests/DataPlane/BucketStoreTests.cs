using System.Security.Cryptography;
using Ims.DataPlane;
using static Ims.Tests.DataPlane.Patterns;

namespace Ims.Tests.DataPlane;

/// <summary>
/// The data plane with its chunks and manifests in a bucket of the real RADOS Gateway (scripts/rgw.sh): the same
/// round trips and the same failures as with the local folder.
/// </summary>
public sealed class BucketStoreTests : IDisposable
{
    private readonly TestBucket? bucket;
    private readonly StoreFolder? store;
    private static CancellationToken None => CancellationToken.None;

    public BucketStoreTests()
    {
        if (TestBucket.Settings() is null) return; // every test here is skipped
        bucket = new TestBucket();
        store = new StoreFolder(objectStore: bucket.Options);
    }

    private TestBucket Bucket => bucket!;
    private StoreFolder Store => store!;

    public void Dispose()
    {
        store?.Dispose();
        bucket?.Dispose();
    }

    public static TheoryData<string> WritePatterns => ["random", "repeated", "scattered", "unaligned-size"];

    [RgwTheory]
    [MemberData(nameof(WritePatterns))]
    public async Task A_captured_disk_restores_byte_for_byte_from_the_bucket(string pattern)
    {
        var plane = Store.Plane;
        var size = pattern == "unaligned-size" ? (13 * MiB) + 4096 : 24L * MiB;
        await plane.CreateVolumeAsync("source", size, None);
        switch (pattern)
        {
            case "random":
                await plane.WriteAsync("source", 0, Random(9 * MiB, 1), None);
                break;
            case "repeated":
                await plane.WriteAsync("source", 4 * MiB, Repeated(8 * MiB, 2), None);
                await plane.WriteAsync("source", 16 * MiB, Repeated(4 * MiB, 2), None);
                break;
            case "scattered":
                for (var i = 0; i < 6; i++) await plane.WriteAsync("source", (i * 4L * MiB) + (i * 8192), Random(4096 * (i + 1), i), None);
                break;
            case "unaligned-size":
                await plane.WriteAsync("source", size - 5000, Random(5000, 3), None);
                await plane.WriteAsync("source", 0, Random(100, 4), None);
                break;
        }
        var sourceHash = await plane.HashVolumeAsync("source", None);

        using var lease = await plane.CaptureAsync([new DiskToCapture("source")], None);
        var disk = Assert.Single(lease.Disks);
        Assert.Equal(size, await plane.ManifestSizeAsync(disk.ManifestId, None));
        Assert.Equal(sourceHash, await plane.HashManifestAsync(disk.ManifestId, None));

        // The chunks and the manifest are objects in the bucket, named by their SHA-256; none is in the local folder.
        Assert.Equal([$"manifests/{disk.ManifestId}"], await Bucket.KeysAsync("manifests/"));
        var chunks = await Bucket.ChunksAsync();
        Assert.NotEmpty(chunks);
        foreach (var chunk in chunks) Assert.Equal(64, chunk.Length);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(Store.Root, "chunks"), "*", SearchOption.AllDirectories));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(Store.Root, "manifests")));

        // A restarted data plane (a new process) restores from the bucket alone.
        Store.Restart();
        await Store.Plane.RestoreVolumeAsync("copy", size, disk.ManifestId, None);
        Assert.Equal(sourceHash, await Store.Plane.HashVolumeAsync("copy", None));
    }

    [RgwFact]
    public async Task A_second_capture_stores_only_the_changed_chunk_and_identical_chunks_once()
    {
        await Store.FillAsync("v", 32, 6);
        await Store.Plane.WriteAsync("v", 24 * MiB, Random(4 * MiB, 0), None); // the same bytes as chunk 0
        using var first = await Store.Plane.CaptureAsync([new DiskToCapture("v")], None);
        Assert.Equal(6, (await Bucket.ChunksAsync()).Count);

        await Store.Plane.WriteAsync("v", (2 * 4L * MiB) + 100, Random(1000, 99), None);
        var changedHash = await Store.Plane.HashVolumeAsync("v", None);
        using var second = await Store.Plane.CaptureAsync([new DiskToCapture("v")], None);
        var disk = Assert.Single(second.Disks);
        Assert.Equal(1, disk.ChunksRead);
        Assert.Equal(0, disk.ChunksLookedUp); // the base was recorded under the bucket's deletion epoch
        Assert.Equal(7, (await Bucket.ChunksAsync()).Count);

        await Store.Plane.RestoreVolumeAsync("copy", 32 * MiB, disk.ManifestId, None);
        Assert.Equal(changedHash, await Store.Plane.HashVolumeAsync("copy", None));
    }

    [RgwFact]
    public async Task A_raw_image_imports_into_the_bucket_and_restores_byte_for_byte()
    {
        var path = Path.Combine(Store.Root, "upload.raw");
        var image = new byte[(6 * MiB) + 512];
        Random(MiB, 9).CopyTo(image, 5 * MiB);
        await File.WriteAllBytesAsync(path, image);

        using var lease = await Store.Plane.ImportAsync(path, DiskFormat.Raw, None);
        var disk = Assert.Single(lease.Disks);
        Assert.Single(await Bucket.ChunksAsync());
        await Store.Plane.RestoreVolumeAsync("from-image", image.Length, disk.ManifestId, None);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(image)), await Store.Plane.HashVolumeAsync("from-image", None));
    }

    private async Task<(string ManifestId, List<string> ChunkIds)> CaptureTwoChunksAsync()
    {
        await Store.Plane.CreateVolumeAsync("v", 16 * MiB, None);
        await Store.Plane.WriteAsync("v", 0, Random(4 * MiB, 1), None);
        await Store.Plane.WriteAsync("v", 8 * MiB, Repeated(4 * MiB, 2), None);
        using var lease = await Store.Plane.CaptureAsync([new DiskToCapture("v")], None);
        var chunkIds = await Bucket.ChunksAsync();
        Assert.Equal(2, chunkIds.Count);
        return (lease.Disks[0].ManifestId, chunkIds);
    }

    [RgwFact]
    public async Task A_damaged_object_fails_the_restore_leaving_no_volume_and_the_next_capture_stores_it_again()
    {
        var (manifestId, chunkIds) = await CaptureTwoChunksAsync();
        Assert.True((await Store.Plane.VerifyAsync([manifestId], None)).Ok);
        foreach (var chunkId in chunkIds)
        {
            var bytes = await Bucket.GetAsync($"chunks/{chunkId}");
            bytes[^100] ^= 0x40;
            await Bucket.PutAsync($"chunks/{chunkId}", bytes);
        }

        var error = await Assert.ThrowsAsync<DamagedChunkException>(() => Store.Plane.RestoreVolumeAsync("restored", 16 * MiB, manifestId, None));
        Assert.Contains("damaged", error.Message, StringComparison.Ordinal);
        Assert.False(Store.Plane.VolumeExists("restored"));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(Store.Root, "volumes"), "restored*"));

        var report = await Store.Plane.VerifyAsync([manifestId], None);
        Assert.False(report.Ok);
        Assert.Equal(chunkIds, report.Damaged.Select(d => d.ChunkId).Order(StringComparer.Ordinal));
        Assert.Equal([0L, 2L], report.Damaged.Select(d => d.ChunkIndex).Order());
        // Moved aside: the store no longer claims to have them, and the damaged bytes are kept for a look.
        Assert.Empty(await Bucket.ChunksAsync());
        Assert.Equal(chunkIds.Select(c => $"chunks/{c}.bad"), await Bucket.KeysAsync("chunks/"));

        // The volume still holds the bytes: a full capture of a copy stores the chunks again, and the disk restores.
        var buffer = new byte[16 * MiB];
        await Store.Plane.ReadAsync("v", 0, buffer, None);
        await Store.Plane.CreateVolumeAsync("again", 16 * MiB, None);
        await Store.Plane.WriteAsync("again", 0, buffer, None);
        using var lease = await Store.Plane.CaptureAsync([new DiskToCapture("again")], None);
        Assert.Equal(manifestId, lease.Disks[0].ManifestId);
        Assert.True((await Store.Plane.VerifyAsync([manifestId], None)).Ok);
        await Store.Plane.RestoreVolumeAsync("restored", 16 * MiB, manifestId, None);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(buffer)), await Store.Plane.HashVolumeAsync("restored", None));
    }

    [RgwFact]
    public async Task A_missing_object_or_manifest_fails_the_restore_and_is_reported()
    {
        var (manifestId, chunkIds) = await CaptureTwoChunksAsync();
        await Bucket.DeleteAsync($"chunks/{chunkIds[1]}");

        var error = await Assert.ThrowsAsync<DamagedChunkException>(() => Store.Plane.RestoreVolumeAsync("restored", 16 * MiB, manifestId, None));
        Assert.Contains("missing", error.Message, StringComparison.Ordinal);
        Assert.False(Store.Plane.VolumeExists("restored"));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(Store.Root, "volumes"), "restored*"));

        var report = await Store.Plane.VerifyAsync([manifestId, new string('a', 64)], None);
        Assert.Equal(2, report.Damaged.Count);
        Assert.Contains(report.Damaged, d => d.ChunkId == chunkIds[1] && d.Problem.Contains("missing", StringComparison.Ordinal));
        Assert.Contains(report.Damaged, d => d.ManifestId == new string('a', 64) && d.ChunkIndex == -1);

        await Bucket.DeleteAsync($"manifests/{manifestId}");
        await Assert.ThrowsAsync<DamagedChunkException>(() => Store.Plane.ManifestSizeAsync(manifestId, None));
        await Assert.ThrowsAsync<DamagedChunkException>(() => Store.Plane.RestoreVolumeAsync("restored", 16 * MiB, manifestId, None));
        Assert.False(Store.Plane.VolumeExists("restored"));
    }

    [RgwFact]
    public async Task A_collection_deletes_what_no_live_manifest_names_and_keeps_the_rest()
    {
        await Store.FillAsync("keep", 16, 2);
        await Store.FillAsync("drop", 16, 3); // chunks 0 and 1 equal keep's
        await Store.Plane.WriteAsync("drop", 2 * 4L * MiB, Random(4 * MiB, 77), None);
        string keep, drop;
        using (var lease = await Store.Plane.CaptureAsync([new DiskToCapture("keep"), new DiskToCapture("drop")], None))
        {
            keep = lease.Disks[0].ManifestId;
            drop = lease.Disks[1].ManifestId;
        }
        Assert.Equal(3, (await Bucket.ChunksAsync()).Count);

        var report = await Store.Plane.CollectGarbageAsync(_ => Task.FromResult<IReadOnlyCollection<string>>([keep]), None);
        Assert.Equal(1, report.ChunksDeleted);
        Assert.Equal(2, report.ChunksKept);
        Assert.Equal(1, report.ManifestsDeleted);
        Assert.Equal([$"manifests/{keep}"], await Bucket.KeysAsync("manifests/"));
        Assert.Equal(2, (await Bucket.ChunksAsync()).Count);
        Assert.True((await Store.Plane.VerifyAsync([keep], None)).Ok);
        Assert.False((await Store.Plane.VerifyAsync([drop], None)).Ok);
    }

    [RgwFact]
    public async Task A_capture_started_during_a_collection_keeps_every_chunk_it_stores_or_reuses()
    {
        await Store.FillAsync("v", 16, 2);
        string first;
        using (var lease = await Store.Plane.CaptureAsync([new DiskToCapture("v")], None)) first = lease.Disks[0].ManifestId;
        await Store.Plane.WriteAsync("v", 12 * MiB, Random(4 * MiB, 5), None);
        var expected = await Store.Plane.HashVolumeAsync("v", None);

        // The collection holds: nothing is live but what it is told (none) and what running operations pin.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var asked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var collection = Store.Plane.CollectGarbageAsync(async _ =>
        {
            asked.TrySetResult();
            await release.Task;
            return [];
        }, None);
        await asked.Task;
        var capture = Store.Plane.CaptureAsync([new DiskToCapture("v")], None);
        release.SetResult();
        await collection;
        using var second = await capture;

        var manifestId = second.Disks[0].ManifestId;
        Assert.NotEqual(first, manifestId);
        Assert.True((await Store.Plane.VerifyAsync([manifestId], None)).Ok);
        await Store.Plane.RestoreVolumeAsync("copy", 16 * MiB, manifestId, None);
        Assert.Equal(expected, await Store.Plane.HashVolumeAsync("copy", None));
    }

    [RgwFact]
    public void Wrong_keys_or_a_bucket_of_another_version_are_refused_when_the_data_plane_opens()
    {
        using var wrongKeys = new TestBucket();
        var bad = wrongKeys.Options with { SecretKey = "not-the-secret" };
        var root = Path.Combine(Path.GetTempPath(), "ims-dataplane-" + Guid.NewGuid().ToString("N"));
        try
        {
            var refused = Assert.Throws<ObjectStoreUnusableException>(() =>
                global::Ims.DataPlane.DataPlane.Open(new DataPlaneOptions { Root = root, ObjectStore = bad }, TimeProvider.System));
            Assert.Contains("403", refused.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("not-the-secret", refused.Message, StringComparison.Ordinal);

            Bucket.PutAsync("config", """{"version":2,"chunk_size":4194304}"""u8.ToArray()).GetAwaiter().GetResult();
            var error = Assert.Throws<NotSupportedException>(() => Store.Open());
            Assert.Contains("version 2", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }
}
