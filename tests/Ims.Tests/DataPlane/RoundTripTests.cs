using System.Security.Cryptography;
using Ims.DataPlane;
using static Ims.Tests.DataPlane.Patterns;

namespace Ims.Tests.DataPlane;

public sealed class RoundTripTests : IDisposable
{
    private readonly StoreFolder store = new();
    private static CancellationToken None => CancellationToken.None;

    public void Dispose() => store.Dispose();

    [Fact]
    public async Task A_new_volume_reads_as_zeros_and_hashes_like_zeros()
    {
        var plane = store.Plane;
        await plane.CreateVolumeAsync("vol-a", 10 * MiB, None);
        await plane.CreateVolumeAsync("vol-a", 10 * MiB, None); // idempotent

        Assert.True(plane.VolumeExists("vol-a"));
        Assert.Equal(10 * MiB, plane.VolumeSize("vol-a"));
        var buffer = new byte[4096];
        Assert.Equal(4096, await plane.ReadAsync("vol-a", 5 * MiB, buffer, None));
        Assert.All(buffer, b => Assert.Equal(0, b));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(new byte[10 * MiB])), await plane.HashVolumeAsync("vol-a", None));
        Assert.Equal(0, StoreFolder.AllocatedBlocks(store.VolumePath("vol-a")));
    }

    [Fact]
    public async Task Writes_read_back_and_ranges_outside_the_volume_are_refused()
    {
        var plane = store.Plane;
        await plane.CreateVolumeAsync("vol-b", 8 * MiB, None);
        var data = Random(3 * MiB, 7);
        await plane.WriteAsync("vol-b", (3 * MiB) + 17, data, None); // spans a chunk boundary
        var back = new byte[data.Length];
        Assert.Equal(data.Length, await plane.ReadAsync("vol-b", (3 * MiB) + 17, back, None));
        Assert.Equal(data, back);

        Assert.Equal(0, await plane.ReadAsync("vol-b", 8 * MiB, back, None));
        Assert.Equal(10, await plane.ReadAsync("vol-b", (8 * MiB) - 10, back, None));
        await Assert.ThrowsAsync<VolumeRangeException>(() => plane.WriteAsync("vol-b", (8 * MiB) - 1, new byte[2], None));
        await Assert.ThrowsAsync<VolumeRangeException>(() => plane.WriteAsync("vol-b", -1, new byte[1], None));
        await Assert.ThrowsAsync<VolumeRangeException>(() => plane.ReadAsync("vol-b", (8 * MiB) + 1, back, None));
        await Assert.ThrowsAsync<VolumeRangeException>(() => plane.WriteAsync("missing", 0, new byte[1], None));
        Assert.Throws<VolumeRangeException>(() => plane.VolumeSize("missing"));

        await plane.DeleteVolumeAsync("vol-b", None);
        await plane.DeleteVolumeAsync("vol-b", None);
        Assert.False(plane.VolumeExists("vol-b"));
    }

    public static TheoryData<string> WritePatterns => ["random", "repeated", "scattered", "unaligned-size", "empty"];

    [Theory]
    [MemberData(nameof(WritePatterns))]
    public async Task A_captured_disk_restores_byte_for_byte_and_sparse(string pattern)
    {
        var plane = store.Plane;
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
                await plane.WriteAsync("source", 12 * MiB, new byte[4 * MiB], None); // written zeros: allocated, but nothing to store
                break;
            case "unaligned-size":
                await plane.WriteAsync("source", size - 5000, Random(5000, 3), None);
                await plane.WriteAsync("source", 0, Random(100, 4), None);
                break;
        }
        var sourceHash = await plane.HashVolumeAsync("source", None);

        using var lease = await plane.CaptureAsync([new DiskToCapture("source")], None);
        var disk = Assert.Single(lease.Disks);
        Assert.Equal("source", disk.VolumeId);
        Assert.Equal(size, disk.SizeBytes);
        Assert.Equal(size, await plane.ManifestSizeAsync(disk.ManifestId, None));
        Assert.Equal(sourceHash, await plane.HashManifestAsync(disk.ManifestId, None));

        await plane.RestoreVolumeAsync("copy", size, disk.ManifestId, None);
        await plane.RestoreVolumeAsync("copy", size, disk.ManifestId, None); // idempotent
        Assert.Equal(size, plane.VolumeSize("copy"));
        Assert.Equal(sourceHash, await plane.HashVolumeAsync("copy", None));
        Assert.True(StoreFolder.AllocatedBlocks(store.VolumePath("copy")) <= StoreFolder.AllocatedBlocks(store.VolumePath("source")));
    }

    [Fact]
    public async Task Identical_chunks_are_stored_once_across_disks_and_captures()
    {
        var plane = store.Plane;
        var chunk = Random(4 * MiB, 11);
        foreach (var id in new[] { "d1", "d2" })
        {
            await plane.CreateVolumeAsync(id, 16 * MiB, None);
            await plane.WriteAsync(id, 0, chunk, None);
            await plane.WriteAsync(id, 8 * MiB, chunk, None);
        }
        using var first = await plane.CaptureAsync([new DiskToCapture("d1"), new DiskToCapture("d2")], None);
        Assert.Single(store.ChunkFiles());
        Assert.Equal(first.Disks[0].ManifestId, first.Disks[1].ManifestId);
        Assert.Equal(0, first.Disks[0].BytesStored + first.Disks[1].BytesStored - (4 * MiB) - 16);
    }

    [Fact]
    public async Task A_bigger_volume_restored_from_a_smaller_disk_is_zero_past_the_disk()
    {
        var plane = store.Plane;
        await plane.CreateVolumeAsync("small", 8 * MiB, None);
        await plane.WriteAsync("small", 0, Random(MiB, 5), None);
        using var lease = await plane.CaptureAsync([new DiskToCapture("small")], None);

        await plane.RestoreVolumeAsync("big", 20 * MiB, lease.Disks[0].ManifestId, None);
        var expected = new byte[20 * MiB];
        Random(MiB, 5).CopyTo(expected, 0);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(expected)), await plane.HashVolumeAsync("big", None));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => plane.RestoreVolumeAsync("tiny", 4 * MiB, lease.Disks[0].ManifestId, None));
        Assert.False(plane.VolumeExists("tiny"));
    }

    [Fact]
    public async Task A_raw_image_imports_with_its_size_and_restores_byte_for_byte()
    {
        var path = Path.Combine(store.Root, "upload.raw");
        var image = new byte[(6 * MiB) + 512];
        Random(MiB, 9).CopyTo(image, 5 * MiB);
        await File.WriteAllBytesAsync(path, image);

        using var lease = await store.Plane.ImportAsync(path, DiskFormat.Raw, None);
        var disk = Assert.Single(lease.Disks);
        Assert.Equal(image.Length, disk.SizeBytes);
        await store.Plane.RestoreVolumeAsync("from-image", image.Length, disk.ManifestId, None);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(image)), await store.Plane.HashVolumeAsync("from-image", None));
    }

    [Fact]
    public async Task Garbage_and_empty_uploads_are_invalid_images()
    {
        var garbage = Path.Combine(store.Root, "garbage.qcow2");
        await File.WriteAllBytesAsync(garbage, Random(4096, 1));
        await Assert.ThrowsAsync<InvalidDiskImageException>(() => store.Plane.ImportAsync(garbage, DiskFormat.Qcow2, None));
        var empty = Path.Combine(store.Root, "empty.raw");
        await File.WriteAllBytesAsync(empty, []);
        await Assert.ThrowsAsync<InvalidDiskImageException>(() => store.Plane.ImportAsync(empty, DiskFormat.Raw, None));
        var odd = Path.Combine(store.Root, "odd.raw");
        await File.WriteAllBytesAsync(odd, new byte[1000]);
        await Assert.ThrowsAsync<InvalidDiskImageException>(() => store.Plane.ImportAsync(odd, DiskFormat.Raw, None));
    }
}
