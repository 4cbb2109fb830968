using System.Diagnostics;
using Ims.DataPlane;
using Microsoft.Extensions.Time.Testing;
using Plane = Ims.DataPlane.DataPlane;

namespace Ims.Tests.DataPlane;

/// <summary>
/// A data plane over a fresh temporary folder, with a fake clock; deleted afterwards. With an object store,
/// its chunks and manifests are in that bucket instead.
/// </summary>
public sealed class StoreFolder : IDisposable
{
    public StoreFolder(int parallelism = 2, ObjectStoreOptions? objectStore = null)
    {
        Root = Path.Combine(Path.GetTempPath(), "ims-dataplane-" + Guid.NewGuid().ToString("N"));
        Parallelism = parallelism;
        ObjectStore = objectStore;
        Plane = Open();
    }

    public string Root { get; }
    public int Parallelism { get; }
    public ObjectStoreOptions? ObjectStore { get; }
    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    public Plane Plane { get; private set; }

    public Plane Open() => Plane.Open(new DataPlaneOptions { Root = Root, Parallelism = Parallelism, ObjectStore = ObjectStore }, Time);

    /// <summary>Closes the data plane and opens a new one on the same folder, as a restarted service would.</summary>
    public void Restart()
    {
        Plane.Dispose();
        Plane = Open();
    }

    /// <summary>Creates a volume whose first <paramref name="filledChunks"/> chunks hold random bytes (seeded by their index).</summary>
    public async Task FillAsync(string volumeId, int sizeMiB, int filledChunks)
    {
        await Plane.CreateVolumeAsync(volumeId, sizeMiB * (long)Patterns.MiB, CancellationToken.None);
        for (var chunk = 0; chunk < filledChunks; chunk++)
            await Plane.WriteAsync(volumeId, chunk * 4L * Patterns.MiB, Patterns.Random(4 * Patterns.MiB, chunk), CancellationToken.None);
    }

    public string VolumePath(string volumeId) => Path.Combine(Root, "volumes", volumeId + ".raw");

    public string ChunkPath(string chunkId) => Path.Combine(Root, "chunks", chunkId[..2], chunkId[2..4], chunkId);

    public IEnumerable<string> ChunkFiles() =>
        Directory.EnumerateFiles(Path.Combine(Root, "chunks"), "*", SearchOption.AllDirectories)
            .Where(p => Path.GetFileName(p).Length == 64);

    /// <summary>512-byte blocks the file system really allocated (what <c>du</c> counts).</summary>
    public static long AllocatedBlocks(string path)
    {
        var start = new ProcessStartInfo("stat", ["-c", "%b", path]) { RedirectStandardOutput = true };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return long.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        Plane.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: the OS cleans temp folders.
        }
    }
}

/// <summary>Deterministic disk content for tests.</summary>
public static class Patterns
{
    public const int MiB = 1024 * 1024;

    public static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Compressible: a short random block repeated.</summary>
    public static byte[] Repeated(int length, int seed)
    {
        var block = Random(4096, seed);
        var bytes = new byte[length];
        for (var i = 0; i < length; i++) bytes[i] = block[i % block.Length];
        return bytes;
    }
}
