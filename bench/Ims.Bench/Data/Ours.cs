using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Ims.DataPlane;
using Ims.DataPlane.Store;

namespace Ims.Bench.Data;

/// <summary>What a capture child reported.</summary>
internal sealed record CaptureReport(double Seconds, string ManifestId, long ChunksRead, long BytesStored, long PeakKiB, long BeforeCaptureKiB, long DiskBytesRead);

/// <summary>
/// Our data plane, called as a library. The captures run in a child process of this program (the hidden
/// <c>data-capture</c> command) so that the child's peak resident memory (VmHWM) is the capture's, not this process's
/// (which has held the disk generator's buffers); the capture is timed inside the child, around
/// <see cref="Ims.DataPlane.DataPlane.CaptureAsync"/> alone, as a service calling the library would pay it (process
/// start and the store's opening are not part of a backup). Restores run in this process.
/// </summary>
/// <remarks>
/// With <c>rgw</c> and <c>bucket</c> the chunks and manifests go to that bucket of the gateway (the volumes stay in the
/// work folder), as the service keeps them with <c>Ims:ObjectStore</c> set.
/// </remarks>
internal sealed class Ours(string work, BenchDisk disk, Rgw? rgw = null, string? bucket = null) : IBackupTool
{
    private const string Volume = "bench-disk";
    private const string RestoredVolume = "bench-restored";

    /// <summary>The environment variables that hand the capture child the bucket (kept off its command line: a key is in them).</summary>
    public const string EndpointVariable = "IMS_BENCH_S3_ENDPOINT";
    public const string BucketVariable = "IMS_BENCH_S3_BUCKET";
    public const string AccessKeyVariable = "IMS_BENCH_S3_ACCESS_KEY";
    public const string SecretKeyVariable = "IMS_BENCH_S3_SECRET_KEY";

    private readonly string _root = Path.Combine(work, rgw is null ? "ours" : "ours-rgw");
    private readonly List<CaptureReport> _captures = [];
    private readonly ObjectStoreOptions? _objectStore = rgw?.Bucket(bucket ?? throw new ArgumentNullException(nameof(bucket)));

    public string Name => rgw is null ? "ours (Ims.DataPlane)" : "ours, chunks in RGW";

    public bool InObjectStore => rgw is not null;
    public string Invocation => "CreateVolumeAsync + WriteAsync (untimed); CaptureAsync (x2, child process); RestoreVolumeAsync"
                                + (rgw is null ? "" : $"; chunks and manifests in bucket {bucket} of {rgw.Endpoint}");

    public IReadOnlyList<CaptureReport> Captures => _captures;

    /// <summary>How long writing the disk into the volume took (untimed set-up, printed for information).</summary>
    public TimeSpan WriteIn { get; private set; }

    private DataPlane.DataPlane Open() =>
        DataPlane.DataPlane.Open(new DataPlaneOptions { Root = _root, ObjectStore = _objectStore }, TimeProvider.System);

    public async Task PrepareAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(_root);
        using var plane = Open();
        var started = Stopwatch.GetTimestamp();
        await plane.CreateVolumeAsync(Volume, disk.Size, ct);
        // The disk's content through the guest write path; holes are left unwritten, as on the peers' sparse file.
        var buffer = new byte[BenchDisk.Unit];
        foreach (var (extent, offset) in disk.DataUnits())
        {
            disk.FillUnit(extent, offset, buffer);
            await plane.WriteAsync(Volume, offset, buffer, ct);
        }
        WriteIn = Stopwatch.GetElapsedTime(started);
    }

    public async Task<Timed> BackupAsync(int round, CancellationToken ct)
    {
        var report = await CaptureInChildAsync(ct);
        _captures.Add(report);
        return new Timed(TimeSpan.FromSeconds(report.Seconds), string.Create(CultureInfo.InvariantCulture,
            $"{report.ChunksRead} chunks read ({report.DiskBytesRead / 1e6:0.0} MB from the disk), {report.BytesStored / 1e6:0.0} MB newly stored, peak RSS {report.PeakKiB / 1024.0:0.0} MiB"));
    }

    public async Task ApplyChangeAsync(CancellationToken ct)
    {
        using var plane = Open();
        var buffer = new byte[BenchDisk.ChangeWriteSize];
        foreach (var write in disk.Change)
        {
            disk.FillChange(write, buffer);
            await plane.WriteAsync(Volume, write.Offset, buffer.AsMemory(0, write.Length), ct);
        }
    }

    public async Task<(Timed, string)> RestoreAsync(CancellationToken ct)
    {
        var manifest = _captures[^1].ManifestId;
        using var plane = Open();
        await PageCache.DropAsync(ct);
        var started = Stopwatch.GetTimestamp();
        await plane.RestoreVolumeAsync(RestoredVolume, disk.Size, manifest, ct);
        var run = Stopwatch.GetElapsedTime(started);
        // Every volume file is flushed, but only the restored one can be dirty: the bench synced before the restore.
        var time = new Timed(run + Storage.FlushFiles(Path.Combine(_root, "volumes")));
        var hash = await plane.HashVolumeAsync(RestoredVolume, ct);
        await plane.DeleteVolumeAsync(RestoredVolume, ct);
        return (time, hash);
    }

    public long StoredBytes() => rgw is null
        ? Storage.FolderBytes(Path.Combine(_root, "chunks")) + Storage.FolderBytes(Path.Combine(_root, "manifests"))
        : rgw.BucketBytes(bucket!);

    public void Cleanup()
    {
        Storage.DeleteFolder(_root);
        rgw?.EmptyBucket(bucket!);
    }

    private async Task<CaptureReport> CaptureInChildAsync(CancellationToken ct)
    {
        var self = Environment.ProcessPath ?? throw new BenchFailure("No path to this program for the capture child.");
        var info = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // Started through `dotnet Ims.Bench.dll`, the program is the dll, not the host.
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") info.ArgumentList.Add(typeof(Ours).Assembly.Location);
        info.ArgumentList.Add(CaptureChild.Command);
        info.ArgumentList.Add(_root);
        info.ArgumentList.Add(Volume);
        info.ArgumentList.Add(PageCache.CanDrop ? "cold" : "warm");
        if (_objectStore is { } store)
        {
            info.Environment[EndpointVariable] = store.Endpoint;
            info.Environment[BucketVariable] = store.Bucket;
            info.Environment[AccessKeyVariable] = store.AccessKey;
            info.Environment[SecretKeyVariable] = store.SecretKey;
        }
        using var process = Process.Start(info) ?? throw new BenchFailure("The capture child did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        var output = await stdout;
        if (process.ExitCode != 0)
            throw new BenchFailure($"The capture child exited with {process.ExitCode}:{Environment.NewLine}{output}{await stderr}");
        var last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        return JsonSerializer.Deserialize<CaptureReport>(last, CaptureChild.Json)
               ?? throw new BenchFailure($"The capture child answered '{last}'.");
    }
}

/// <summary>The child side of <see cref="Ours"/>: open the store, capture one volume, report time and peak memory.</summary>
internal static class CaptureChild
{
    public const string Command = "data-capture";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length != 3 || args[2] is not ("cold" or "warm"))
        {
            await Console.Error.WriteLineAsync($"usage: {Command} ROOT VOLUME cold|warm (started by the data benchmark)");
            return 2;
        }
        var objectStore = ObjectStoreFromEnvironment();
        // The warm-up's chunks in a bucket of their own, so that they neither count as stored nor make the timed capture's
        // chunks look already stored.
        await WarmUpAsync(args[0] + ".warm-up", objectStore is null ? null : objectStore with { Bucket = objectStore.Bucket + "-warm-up" });
        using var plane = DataPlane.DataPlane.Open(new DataPlaneOptions { Root = args[0], ObjectStore = objectStore }, TimeProvider.System);
        var before = PeakResidentKiB();
        // The same start as the peers': the bench dropped the cache before starting this child; opening the store may
        // have read some of it back.
        if (args[2] == "cold") await PageCache.ProbeAsync(CancellationToken.None);
        await PageCache.DropAsync(CancellationToken.None);
        var readBefore = StorageBytesRead();
        var started = Stopwatch.GetTimestamp();
        using var lease = await plane.CaptureAsync([new DiskToCapture(args[1])], CancellationToken.None);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var diskBytesRead = StorageBytesRead() - readBefore;
        var disk = lease.Disks[0];
        var report = new CaptureReport(seconds, disk.ManifestId, disk.ChunksRead, disk.BytesStored, PeakResidentKiB(), before, diskBytesRead);
        Console.WriteLine(JsonSerializer.Serialize(report, Json));
        return 0;
    }

    /// <summary>
    /// Runs a full and an incremental capture of a small volume in a throwaway store, so that the timed capture runs
    /// compiled code as it does in the long-running service (a fresh process otherwise spends tens of milliseconds
    /// compiling, which would dominate a capture that reads a few chunks).
    /// </summary>
    private static ObjectStoreOptions? ObjectStoreFromEnvironment()
    {
        var endpoint = Environment.GetEnvironmentVariable(Ours.EndpointVariable);
        if (string.IsNullOrEmpty(endpoint)) return null;
        return new ObjectStoreOptions
        {
            Endpoint = endpoint,
            Bucket = Environment.GetEnvironmentVariable(Ours.BucketVariable),
            AccessKey = Environment.GetEnvironmentVariable(Ours.AccessKeyVariable),
            SecretKey = Environment.GetEnvironmentVariable(Ours.SecretKeyVariable),
        };
    }

    private static async Task WarmUpAsync(string root, ObjectStoreOptions? objectStore)
    {
        try
        {
            using var plane = DataPlane.DataPlane.Open(new DataPlaneOptions { Root = root, ObjectStore = objectStore }, TimeProvider.System);
            await plane.CreateVolumeAsync("warm-up", 4L * DataPlane.DataPlane.ChunkSize, CancellationToken.None);
            var bytes = new byte[DataPlane.DataPlane.ChunkSize + 4096];
            Random.Shared.NextBytes(bytes);
            await plane.WriteAsync("warm-up", 0, bytes, CancellationToken.None);
            using (await plane.CaptureAsync([new DiskToCapture("warm-up")], CancellationToken.None)) { }
            await plane.WriteAsync("warm-up", 2L * DataPlane.DataPlane.ChunkSize, bytes.AsMemory(0, 4096), CancellationToken.None);
            using (await plane.CaptureAsync([new DiskToCapture("warm-up")], CancellationToken.None)) { }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
            if (objectStore is not null)
            {
                using var bucket = new Bucket(objectStore);
                foreach (var item in bucket.List("").ToList()) bucket.Delete(item.Key);
            }
        }
    }

    /// <summary>Bytes this process caused to be fetched from storage (read_bytes in /proc/self/io; 0 where there is none).</summary>
    private static long StorageBytesRead()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/io"))
            {
                if (line.StartsWith("read_bytes:", StringComparison.Ordinal))
                    return long.Parse(line["read_bytes:".Length..].Trim(), CultureInfo.InvariantCulture);
            }
        }
        catch (IOException)
        {
        }
        return 0;
    }

    /// <summary>VmHWM: the most resident memory the process has had, from /proc/self/status (-1 where there is none).</summary>
    public static long PeakResidentKiB()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith("VmHWM:", StringComparison.Ordinal)) continue;
                return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }
        catch (IOException)
        {
        }
        return -1;
    }
}
