using Ims.DataPlane;
using static Ims.Tests.DataPlane.Patterns;

namespace Ims.Tests.DataPlane;

public sealed class PointInTimeTests : IDisposable
{
    private readonly StoreFolder store = new();
    private static CancellationToken None => CancellationToken.None;

    public void Dispose() => store.Dispose();

    [Fact]
    public async Task Writes_to_every_disk_during_a_capture_are_absent_from_it_and_present_in_the_volumes()
    {
        var plane = store.Plane;
        string[] ids = ["disk-0", "disk-1", "disk-2"];
        var before = new Dictionary<string, string>();
        foreach (var (id, i) in ids.Select((id, i) => (id, i)))
        {
            await plane.CreateVolumeAsync(id, 64 * MiB, None);
            for (var chunk = 0; chunk < 16; chunk += 2) await plane.WriteAsync(id, chunk * 4L * MiB, Random(4 * MiB, (i * 100) + chunk), None);
            before[id] = await plane.HashVolumeAsync(id, None);
        }

        // The instant is taken before CaptureAsync returns its task: everything written from here on is after it.
        var capture = plane.CaptureAsync(ids.Select(id => new DiskToCapture(id)).ToList(), None);
        var writes = Task.Run(async () =>
        {
            for (var round = 0; round < 3; round++)
                foreach (var (id, i) in ids.Select((id, i) => (id, i)))
                    for (var chunk = 0; chunk < 16; chunk++)
                        await plane.WriteAsync(id, (chunk * 4L * MiB) + (round * 4096), Random(8192, (round * 1000) + (i * 100) + chunk + 7), None);
        });
        using var lease = await capture;
        await writes;

        foreach (var disk in lease.Disks)
        {
            Assert.Equal(before[disk.VolumeId], await plane.HashManifestAsync(disk.ManifestId, None));
            Assert.NotEqual(before[disk.VolumeId], await plane.HashVolumeAsync(disk.VolumeId, None));
        }
        // What the writes left is exactly what the next capture sees.
        using var after = await plane.CaptureAsync(ids.Select(id => new DiskToCapture(id)).ToList(), None);
        foreach (var disk in after.Disks)
            Assert.Equal(await plane.HashVolumeAsync(disk.VolumeId, None), await plane.HashManifestAsync(disk.ManifestId, None));
    }

    [Fact]
    public async Task A_write_into_a_hole_during_a_capture_leaves_the_hole_in_the_capture()
    {
        var plane = store.Plane;
        await plane.CreateVolumeAsync("holey", 32 * MiB, None);
        await plane.WriteAsync("holey", 0, Random(MiB, 1), None);
        var expected = await plane.HashVolumeAsync("holey", None);

        var capture = plane.CaptureAsync([new DiskToCapture("holey")], None);
        for (var chunk = 1; chunk < 8; chunk++) await plane.WriteAsync("holey", chunk * 4L * MiB, Random(MiB, chunk + 10), None);
        using var lease = await capture;

        Assert.Equal(expected, await plane.HashManifestAsync(lease.Disks[0].ManifestId, None));
    }
}
