using System.Diagnostics;
using System.Globalization;

namespace Ims.Bench.Data;

/// <summary>
/// <c>Ims.Bench data</c>: our data plane against restic and borg on one deterministic sparse disk file, in one run, plus
/// the machine's own limits (openssl SHA-256 and cp of the same file), whole-image creates through the service, and
/// the peak memory of our capture; prints one table with the issue's targets.
/// </summary>
internal static class DataBenchCommand
{
    public const string Usage = """
        Usage: dotnet run -c Release --project bench/Ims.Bench -- data [options]
        (installs restic, borgbackup and qemu-utils with scripts/install-bench-tools.sh when missing, as root;
         build the service first for the whole-image part: dotnet build -c Release src/Ims.Service)

          --size-mib N          the disk's size (2048)
          --seed N              the disk's seed (20260101)
          --change KIND         the 1% change: spread (one 1 MiB write per slice of the disk) or contiguous (spread)
          --work DIR            where the disk, repositories and restores go, deleted at the end (/tmp)
          --tools LIST          comma-separated subset of ours,restic,borg,borg-fixed (all)
          --no-whole-image      skip the whole-image creates through the service
          --whole-image-repeats N   creates timed per disk size, each on its own backup (5)
          --restore-pairs N     our restore against cp --sparse=always, alternated N times after the main run (5)
          --service PATH        the service's Ims.Service.dll (default: its Release build in this repository)
          --warm                never drop the page cache (every tool runs warm alike; each phase still ends with a sync)
          --keep                leave the work folder behind
          --rgw                 also ours with its chunks and manifests in a bucket of Ceph's RADOS Gateway, and restic
                                with its S3 backend on the same gateway: the gateway of IMS_TEST_S3, IMS_TEST_S3_ACCESS_KEY
                                and IMS_TEST_S3_SECRET_KEY (eval "$(scripts/rgw.sh env)"), or else one the run starts
                                with scripts/rgw.sh and stops at the end (about 1 GB of memory)
          --rgw-port-base N     IMS_RGW_PORT_BASE for the gateway the run starts (scripts/rgw.sh's default: 17000)
        """;

    private sealed class Options
    {
        public long SizeBytes { get; set; } = 2048L * 1024 * 1024;
        public int Seed { get; set; } = 20260101;
        public bool ContiguousChange { get; set; }
        public string Work { get; set; } = Path.GetTempPath();
        public HashSet<string> Tools { get; } = ["ours", "restic", "borg", "borg-fixed"];
        public bool WholeImage { get; set; } = true;
        public int WholeImageRepeats { get; set; } = 5;
        public int RestorePairs { get; set; } = 5;
        public string? ServiceDll { get; set; }
        public bool Keep { get; set; }
        public bool Warm { get; set; }
        public bool Rgw { get; set; }
        public int? RgwPortBase { get; set; }
    }

    private sealed record ToolResult(string Name, string Invocation, Timed First, Timed Second, Timed Restore, bool RestoreVerified, long StoredBytes,
        bool InObjectStore);

    public static async Task<int> RunAsync(string[] args)
    {
        Options options;
        try
        {
            options = Parse(args);
        }
        catch (UsageException ex)
        {
            return ex.Report(Usage);
        }

        using var stop = Interrupt.OnCtrlC();

        var work = Path.Combine(options.Work, $"ims-databench-{Guid.NewGuid():N}");
        var tools = new List<IBackupTool>();
        var rgw = new Rgw?[1];
        try
        {
            Directory.CreateDirectory(work);
            return await RunInAsync(work, options, tools, rgw, stop.Token);
        }
        catch (BenchFailure failure)
        {
            Console.Error.WriteLine($"error: {failure.Message}");
            return 1;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            Console.Error.WriteLine("Interrupted; no figures.");
            return 130;
        }
        finally
        {
            if (!options.Keep)
            {
                foreach (var tool in tools)
                {
                    try
                    {
                        tool.Cleanup();
                    }
                    catch (IOException)
                    {
                    }
                }
                try
                {
                    Directory.Delete(work, recursive: true);
                }
                catch (IOException)
                {
                }
                catch (UnauthorizedAccessException)
                {
                }
            }
            // After the tools: they empty their buckets first (a gateway of the caller's stays as it was).
            rgw[0]?.Dispose();
        }
    }

    private static async Task<int> RunInAsync(string work, Options options, List<IBackupTool> tools, Rgw?[] rgwHolder, CancellationToken ct)
    {
        Console.WriteLine("IMS data-plane benchmark");
        Console.WriteLine($"machine:  {Machine.Describe()}");
        Console.WriteLine($"commit:   {Machine.SourceRevision()}");
        Console.WriteLine($"load average at start: {Machine.LoadAverage()}");
        await InstallToolsAsync(ct);
        Console.WriteLine($"tools:    {await VersionAsync("restic", "version")}; {await VersionAsync("borg", "--version")}; " +
                          $"{await VersionAsync("openssl", "version")}; {await VersionAsync("cp", "--version")}");
        var dropped = !options.Warm && await PageCache.ProbeAsync(ct);
        Console.WriteLine(dropped
            ? "page cache: dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before every timed phase of every tool: all start cold"
            : options.Warm
                ? "page cache: kept (--warm): every tool runs warm alike, each phase after a sync"
                : "page cache: could not be dropped (not root?): every tool runs warm alike, each phase after a sync");
        Console.WriteLine("timing:   wall time of the tool's run (process start included for restic and borg; the library call alone for ours); " +
                          "restores also until the restored files are fsynced; throughput = logical disk size / that time; MB = 10^6 bytes");

        var disk = BenchDisk.Make(options.SizeBytes, options.Seed, options.ContiguousChange);
        var file = Path.Combine(work, "disk.img");
        Console.WriteLine($"disk:     {file}");
        Console.WriteLine($"          {disk.Describe()}");
        var sw = Stopwatch.StartNew();
        disk.WriteFile(file);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"          written in {sw.Elapsed.TotalSeconds:0.0} s; allocated {AllocatedBytes(file) / 1e6:0} MB"));
        Console.WriteLine();

        // The machine's limits on the same file.
        await PageCache.DropAsync(ct);
        var openssl = await ExternalProgram.RunAsync("openssl", ["dgst", "-sha256", file], ct);
        var originalHash = await ExternalProgram.OutputOfAsync("openssl", ["dgst", "-sha256", "-r", file], ct);
        originalHash = originalHash.Split(' ')[0];
        var cp = await SparseCopyAsync(file, work, ct);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"openssl dgst -sha256: {openssl.TotalSeconds:0.00} s ({Rate(disk.Size, openssl)}); cp --sparse=always + fsync: {cp.TotalSeconds:0.00} s ({Rate(disk.Size, cp)})"));
        Console.WriteLine($"sha256 of the original disk: {originalHash}");

        var ours = options.Tools.Contains("ours") ? new Ours(work, disk) : null;
        if (ours is not null) tools.Add(ours);
        if (options.Tools.Contains("restic")) tools.Add(new Restic(work, file));
        if (options.Tools.Contains("borg")) tools.Add(new Borg(work, file, fixedChunks: false));
        if (options.Tools.Contains("borg-fixed")) tools.Add(new Borg(work, file, fixedChunks: true));
        if (options.Rgw && (options.Tools.Contains("ours") || options.Tools.Contains("restic")))
        {
            var rgw = rgwHolder[0] = await Rgw.ConnectAsync(FindScript("rgw.sh"), options.RgwPortBase, ct);
            Console.WriteLine(rgw.Started
                ? $"rgw:      {rgw.Endpoint}, a throwaway single-node Ceph cluster started by scripts/rgw.sh for this run"
                : $"rgw:      {rgw.Endpoint} (IMS_TEST_S3)");
            // Buckets of this run's own: nothing of another run or of the service is counted or deleted.
            var bucketPrefix = $"databench-{Path.GetFileName(work)[^12..]}";
            if (options.Tools.Contains("ours")) tools.Add(new Ours(work, disk, rgw, $"{bucketPrefix}-ours"));
            if (options.Tools.Contains("restic")) tools.Add(new Restic(work, file, rgw, $"{bucketPrefix}-restic"));
        }

        foreach (var tool in tools)
        {
            Console.WriteLine($"{tool.Name}: {tool.Invocation}");
            await tool.PrepareAsync(ct);
        }
        if (ours is not null)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  ours: the disk written into a fresh volume through WriteAsync in {ours.WriteIn.TotalSeconds:0.0} s (untimed set-up)"));
        Console.WriteLine();

        var first = new Dictionary<IBackupTool, Timed>();
        foreach (var tool in tools)
        {
            await PageCache.DropAsync(ct);
            first[tool] = await tool.BackupAsync(1, ct);
            Report(tool, "first backup", disk.Size, first[tool]);
        }

        disk.ApplyChangeToFile(file);
        foreach (var tool in tools) await tool.ApplyChangeAsync(ct);
        var changedHash = BenchDisk.HashFile(file);
        Console.WriteLine($"1% change applied to the file (and to our volume through WriteAsync); sha256 now {changedHash}");
        await PageCache.DropAsync(ct);
        var changedChunks = disk.ChangedChunks().Count;
        var copyChanged = disk.CopyChangedChunks(file, Path.Combine(work, "changed-chunks.img"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"copy of the {changedChunks} changed 4 MiB chunks + fsync (machine limit for the second backup): {copyChanged.TotalMilliseconds:0} ms"));

        var second = new Dictionary<IBackupTool, Timed>();
        foreach (var tool in tools)
        {
            await PageCache.DropAsync(ct);
            second[tool] = await tool.BackupAsync(2, ct);
            Report(tool, "second backup", disk.Size, second[tool]);
        }

        var results = new List<ToolResult>();
        foreach (var tool in tools)
        {
            await PageCache.DropAsync(ct);
            var (restore, hash) = await tool.RestoreAsync(ct);
            var verified = hash == changedHash;
            Report(tool, "restore", disk.Size, restore with { Note = verified ? "sha256 matches" : $"SHA256 MISMATCH: {hash}" });
            results.Add(new ToolResult(tool.Name, tool.Invocation, first[tool], second[tool], restore, verified, tool.StoredBytes(), tool.InObjectStore));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {tool.Name}: stores {tool.StoredBytes() / 1e6:0.0} MB"));
            if (tool != ours) tool.Cleanup();
        }

        var restorePairs = new List<(TimeSpan Restore, TimeSpan Copy)>();
        if (ours is not null && options.RestorePairs > 0)
        {
            // One cp and one restore measured once each can land on different moments of a machine whose other load
            // comes and goes; alternating them, each cold, and taking the median ratio compares like with like.
            Console.WriteLine();
            Console.WriteLine($"restore against cp --sparse=always, alternated {options.RestorePairs} times (each cold, each until fsynced):");
            for (var pair = 0; pair < options.RestorePairs; pair++)
            {
                var copy = await SparseCopyAsync(file, work, ct);
                var (restore, hash) = await ours.RestoreAsync(ct);
                if (hash != changedHash) throw new BenchFailure($"restore {pair + 1} of the alternated pairs did not match the disk: {hash}");
                restorePairs.Add((restore.Elapsed, copy));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  pair {pair + 1}: ours {Rate(disk.Size, restore.Elapsed)}, cp {Rate(disk.Size, copy)} = {copy / restore.Elapsed:0.00}x; load {Machine.LoadAverage()}"));
            }
        }

        IReadOnlyList<WholeImageResult> wholeImages = [];
        if (options.WholeImage)
        {
            Console.WriteLine();
            wholeImages = await MeasureWholeImagesAsync(options, disk, ct);
        }

        Console.WriteLine();
        Console.WriteLine($"load average at end: {Machine.LoadAverage()}");
        Console.WriteLine();
        PrintTable(disk, results, ours, new MachineLimits(openssl, cp, copyChanged, changedChunks), wholeImages, restorePairs);
        return 0;
    }

    private static async Task<IReadOnlyList<WholeImageResult>> MeasureWholeImagesAsync(Options options, BenchDisk disk, CancellationToken ct)
    {
        var dll = options.ServiceDll ?? BenchCommand.LocateServiceBuild();
        string[] settings = ["--Ims:Jobs:StepDelay=00:00:00"];
        using var service = await ChildService.StartAsync(dll, settings, keepData: false, ct);
        Console.WriteLine($"whole image: service {dll} (pid {service.ProcessId}, {string.Join(" ", settings)}), data in {service.DataDir}");
        try
        {
            // EVS takes data disks of 10 GB and up: the small case is the smallest disk holding the 2 GiB benchmark disk.
            return await WholeImage.MeasureAsync(service, disk,
                [("data disk 10 GB", 10), ("data disk 2 TiB (2048 GB, sparse)", 2048)], options.WholeImageRepeats,
                line => Console.WriteLine($"  {line}"), ct);
        }
        catch (BenchFailure failure)
        {
            throw new BenchFailure($"{failure.Message}{Environment.NewLine}last service output:{Environment.NewLine}{service.OutputTail()}");
        }
    }

    private static void Report(IBackupTool tool, string phase, long size, Timed timed)
    {
        var note = timed.Note is null ? "" : $"; {timed.Note}";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {tool.Name}: {phase} {timed.Elapsed.TotalSeconds:0.000} s ({Rate(size, timed.Elapsed)}){note}; load {Machine.LoadAverage()}"));
    }

    private static double MBps(long size, TimeSpan elapsed) => size / 1e6 / elapsed.TotalSeconds;

    private static string Rate(long size, TimeSpan elapsed) => string.Create(CultureInfo.InvariantCulture, $"{MBps(size, elapsed):0} MB/s");

    /// <summary>The machine's own times on the same file: hashing it, copying it, copying the chunks the change touched.</summary>
    /// <summary>cp --sparse=always of the disk, cold, until the copy is fsynced; the copy is deleted after.</summary>
    private static async Task<TimeSpan> SparseCopyAsync(string file, string work, CancellationToken ct)
    {
        await PageCache.DropAsync(ct);
        var copyPath = Path.Combine(work, "disk-copy.img");
        var cp = await ExternalProgram.RunAsync("cp", ["--sparse=always", file, copyPath], ct);
        cp += Storage.FlushFiles(work); // the copy is the only dirty file there
        File.Delete(copyPath);
        return cp;
    }

    private sealed record MachineLimits(TimeSpan Openssl, TimeSpan Cp, TimeSpan CopyChanged, int ChangedChunks);

    private static void PrintTable(BenchDisk disk, List<ToolResult> results, Ours? ours, MachineLimits limits,
        IReadOnlyList<WholeImageResult> wholeImages, IReadOnlyList<(TimeSpan Restore, TimeSpan Copy)> restorePairs)
    {
        var (openssl, cp) = (limits.Openssl, limits.Cp);
        var size = disk.Size;
        // The --rgw rows have a table of their own, beside their local counterparts; the peers and targets stay local.
        var inBuckets = results.Where(r => r.InObjectStore).ToList();
        var local = results.Where(r => !r.InObjectStore).ToList();
        results = local;
        var peers = results.Where(r => ours is null || r.Name != ours.Name).ToList();
        double Best(Func<ToolResult, TimeSpan> phase) => peers.Count == 0 ? double.NaN : peers.Max(r => MBps(size, phase(r)));
        var bestFirst = Best(r => r.First.Elapsed);
        var bestSecond = Best(r => r.Second.Elapsed);
        var bestRestore = Best(r => r.Restore.Elapsed);
        string Ratio(double value, double best) => double.IsNaN(best) ? "-" : string.Create(CultureInfo.InvariantCulture, $"{value / best:0.00}x");

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Disk: {size / 1024.0 / 1024 / 1024:0.##} GiB logical ({disk.BytesOf(ExtentKind.Random) / 1e6:0} MB random, {disk.BytesOf(ExtentKind.Repeated) / 1e6:0} MB repeated, rest holes); ratios vs the fastest peer in the same column (restic, borg, borg fixed)."));
        Console.WriteLine();
        Console.WriteLine("| tool | first backup MB/s | vs fastest peer | second backup s | second MB/s | vs fastest peer | restore MB/s | vs fastest peer | restore verified | stored MB | vs restic |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|");
        var restic = results.FirstOrDefault(r => r.Name == "restic");
        foreach (var r in results)
        {
            var first = MBps(size, r.First.Elapsed);
            var second = MBps(size, r.Second.Elapsed);
            var restore = MBps(size, r.Restore.Elapsed);
            var stored = restic is null ? "-" : string.Create(CultureInfo.InvariantCulture, $"{(double)r.StoredBytes / restic.StoredBytes:0.00}x");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Name} | {first:0} | {Ratio(first, bestFirst)} | {r.Second.Elapsed.TotalSeconds:0.000} | {second:0} | {Ratio(second, bestSecond)} | " +
                $"{restore:0} | {Ratio(restore, bestRestore)} | {(r.RestoreVerified ? "yes" : "NO")} | {r.StoredBytes / 1e6:0.0} | {stored} |"));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| openssl dgst -sha256 (machine limit) | {MBps(size, openssl):0} | {Ratio(MBps(size, openssl), bestFirst)} | | | | | | | | |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| cp --sparse=always (machine limit) | {MBps(size, cp):0} | {Ratio(MBps(size, cp), bestFirst)} | | | | {MBps(size, cp):0} | {Ratio(MBps(size, cp), bestRestore)} | | | |"));
        var copyChanged = MBps(size, limits.CopyChanged);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| copy of the {limits.ChangedChunks} changed 4 MiB chunks (machine limit) | | | {limits.CopyChanged.TotalSeconds:0.000} | {copyChanged:0} | {Ratio(copyChanged, bestSecond)} | | | | | |"));
        Console.WriteLine();
        if (inBuckets.Count > 0) PrintObjectStoreTable(size, local, inBuckets);

        if (wholeImages.Count > 0)
        {
            Console.WriteLine("| whole image from a backup (mode C, POST until job SUCCESS, 1 ms polling) | bytes in the disk | creates ms | median ms |");
            Console.WriteLine("|---|---|---|---:|");
            foreach (var w in wholeImages)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {w.Label} | {(w.BytesWritten > 0 ? $"{w.BytesWritten / 1e6:0} MB written" : "none (no data endpoint)")} | {string.Join(", ", w.CreateMs.Select(t => t.ToString("0.0", CultureInfo.InvariantCulture)))} | {w.MedianMs:0.0} |"));
            Console.WriteLine();
        }

        var ourResult = ours is null ? null : results.First(r => r.Name == ours.Name);
        var targets = new List<(string Target, string Measured, bool? Met)>();
        if (ourResult is not null)
        {
            var first = MBps(size, ourResult.First.Elapsed);
            var restore = MBps(size, ourResult.Restore.Elapsed);
            var speedup = ourResult.First.Elapsed / ourResult.Second.Elapsed;
            targets.Add(("first backup >= 2x the fastest peer", string.Create(CultureInfo.InvariantCulture, $"{first:0} MB/s = {Ratio(first, bestFirst)}"),
                double.IsNaN(bestFirst) ? null : first >= 2 * bestFirst));
            targets.Add(("second backup >= 20x faster than our first", string.Create(CultureInfo.InvariantCulture,
                $"{ourResult.Second.Elapsed.TotalMilliseconds:0} ms vs {ourResult.First.Elapsed.TotalMilliseconds:0} ms = {speedup:0.0}x " +
                $"(a plain copy of the {limits.ChangedChunks} changed 4 MiB chunks with fsync, the machine's limit, takes " +
                $"{limits.CopyChanged.TotalMilliseconds:0} ms = {ourResult.First.Elapsed / limits.CopyChanged:0.0}x)"), speedup >= 20));
            targets.Add(("restore >= 2x the fastest peer and >= 1 GB/s", string.Create(CultureInfo.InvariantCulture, $"{restore:0} MB/s = {Ratio(restore, bestRestore)}"),
                double.IsNaN(bestRestore) ? null : restore >= 2 * bestRestore && restore >= 1000));
            // The machine's own limit for writing this disk: a sparse copy of the same file, measured in this run.
            var copyRate = MBps(size, cp);
            targets.Add(("restore >= cp --sparse=always of the same disk", string.Create(CultureInfo.InvariantCulture,
                $"{restore:0} MB/s vs {copyRate:0} MB/s = {restore / copyRate:0.00}x"), restore >= copyRate));
            if (restorePairs.Count > 0)
            {
                var ratios = restorePairs.Select(p => p.Copy / p.Restore).Order().ToList();
                var median = ratios[ratios.Count / 2];
                targets.Add(($"restore >= cp --sparse=always, median of {ratios.Count} alternated pairs", string.Create(CultureInfo.InvariantCulture,
                    $"{median:0.00}x (pairs {string.Join(", ", restorePairs.Select(p => (p.Copy / p.Restore).ToString("0.00", CultureInfo.InvariantCulture)))})"),
                    median >= 1));
            }
            if (restic is not null)
                targets.Add(("bytes stored <= restic's", string.Create(CultureInfo.InvariantCulture,
                    $"{ourResult.StoredBytes / 1e6:0.0} MB vs {restic.StoredBytes / 1e6:0.0} MB"), ourResult.StoredBytes <= restic.StoredBytes));
            var peak = ours!.Captures.Max(c => c.PeakKiB);
            targets.Add(("peak memory of a capture < 256 MiB", string.Create(CultureInfo.InvariantCulture,
                $"{peak / 1024.0:0.0} MiB (VmHWM of the capture process; {ours.Captures[0].BeforeCaptureKiB / 1024.0:0.0} MiB before capturing)"), peak < 256 * 1024));
            targets.Add(("restores byte for byte", ourResult.RestoreVerified ? "sha256 matches" : "MISMATCH", ourResult.RestoreVerified));
        }
        foreach (var w in wholeImages)
            targets.Add(($"whole image < 50 ms, {w.Label}", string.Create(CultureInfo.InvariantCulture,
                $"median {w.MedianMs:0.0} ms, max {w.MaxMs:0.0} ms{(w.BytesWritten == 0 ? " (EMPTY disk: no data endpoint yet)" : "")}"), w.MedianMs < 50));

        Console.WriteLine("| target | measured | met? |");
        Console.WriteLine("|---|---|---|");
        foreach (var (target, measured, met) in targets)
            Console.WriteLine($"| {target} | {measured} | {(met is null ? "-" : met.Value ? "met" : "NOT met")} |");
    }

    /// <summary>
    /// The --rgw rows beside the same tools on the local folder, all in this run: ours with its chunks in a bucket, and
    /// restic with its S3 backend on the same gateway; ratios against restic on the gateway.
    /// </summary>
    private static void PrintObjectStoreTable(long size, List<ToolResult> local, List<ToolResult> inBuckets)
    {
        var resticS3 = inBuckets.FirstOrDefault(r => r.Name.StartsWith("restic", StringComparison.Ordinal));
        string Vs(double value, double other) => string.Create(CultureInfo.InvariantCulture, $"{value / other:0.00}x");
        Console.WriteLine("Chunks in Ceph's RADOS Gateway (S3) beside the local folder, same disk, same run; \"vs restic S3\": against restic's own S3 backend on the same gateway.");
        Console.WriteLine();
        Console.WriteLine("| tool | repository | first backup MB/s | vs restic S3 | second backup s | vs restic S3 | restore MB/s | vs restic S3 | restore verified | stored MB | vs restic S3 |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|");
        var rows = local.Where(r => r.Name.StartsWith("ours", StringComparison.Ordinal) || r.Name == "restic").Concat(inBuckets);
        foreach (var r in rows)
        {
            var first = MBps(size, r.First.Elapsed);
            var restore = MBps(size, r.Restore.Elapsed);
            var where = r.InObjectStore ? "RGW bucket" : "local folder";
            var (firstVs, secondVs, restoreVs, storedVs) = resticS3 is null
                ? ("-", "-", "-", "-")
                // Faster is a higher multiple for every column: times are inverted.
                : (Vs(first, MBps(size, resticS3.First.Elapsed)), Vs(resticS3.Second.Elapsed.TotalSeconds, r.Second.Elapsed.TotalSeconds),
                    Vs(restore, MBps(size, resticS3.Restore.Elapsed)), Vs(r.StoredBytes, resticS3.StoredBytes));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Name} | {where} | {first:0} | {firstVs} | {r.Second.Elapsed.TotalSeconds:0.000} | {secondVs} | {restore:0} | {restoreVs} | " +
                $"{(r.RestoreVerified ? "yes" : "NO")} | {r.StoredBytes / 1e6:0.0} | {storedVs} |"));
        }
        Console.WriteLine();
        Console.WriteLine("vs restic S3: throughput as a multiple of restic's on the gateway (second backup: restic's time / this time, so above 1x is faster); stored: bytes as a multiple of restic's.");
        Console.WriteLine();
    }

    private static async Task InstallToolsAsync(CancellationToken ct)
    {
        var script = FindScript("install-bench-tools.sh");
        if (script is null)
        {
            Console.WriteLine("tools:    scripts/install-bench-tools.sh not found; restic, borg and openssl must be installed");
            return;
        }
        await ExternalProgram.RunAsync("sh", [script], ct);
    }

    private static string? FindScript(string name)
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "scripts", name);
                if (File.Exists(candidate)) return candidate;
            }
        }
        return null;
    }

    private static async Task<string> VersionAsync(string program, string argument)
    {
        try
        {
            var text = await ExternalProgram.OutputOfAsync(program, [argument], CancellationToken.None);
            return text.Split('\n')[0].Trim();
        }
        catch (BenchFailure)
        {
            return $"{program} (version unknown)";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return $"{program} MISSING";
        }
    }

    /// <summary>Bytes the file system allocated to a file (du), to show the disk file is sparse.</summary>
    private static long AllocatedBytes(string path)
    {
        try
        {
            var output = ExternalProgram.OutputOfAsync("du", ["--block-size=1", path], CancellationToken.None).GetAwaiter().GetResult();
            return long.Parse(output.Split('\t')[0], CultureInfo.InvariantCulture);
        }
        catch (BenchFailure)
        {
            return -1;
        }
    }

    private static Options Parse(string[] args)
    {
        var options = new Options();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            switch (arg)
            {
                case "-h" or "--help": throw new UsageException(null);
                case "--no-whole-image": options.WholeImage = false; continue;
                case "--keep": options.Keep = true; continue;
                case "--warm": options.Warm = true; continue;
                case "--rgw": options.Rgw = true; continue;
            }
            if (!arg.StartsWith("--", StringComparison.Ordinal)) throw new UsageException($"unexpected argument '{arg}'");
            if (i + 1 >= args.Length) throw new UsageException($"{arg} needs a value");
            var value = args[++i];
            switch (arg[2..])
            {
                case "size-mib": options.SizeBytes = Number(arg, value, 16) * 1024L * 1024; break;
                case "seed": options.Seed = (int)Number(arg, value, 0); break;
                case "change":
                    options.ContiguousChange = value switch
                    {
                        "spread" => false,
                        "contiguous" => true,
                        _ => throw new UsageException("--change is spread or contiguous"),
                    };
                    break;
                case "work": options.Work = Path.GetFullPath(value); break;
                case "whole-image-repeats": options.WholeImageRepeats = (int)Number(arg, value, 1); break;
                case "restore-pairs": options.RestorePairs = (int)Number(arg, value, 0); break;
                case "service": options.ServiceDll = Path.GetFullPath(value); break;
                case "rgw-port-base": options.RgwPortBase = (int)Number(arg, value, 1024); break;
                case "tools":
                    options.Tools.Clear();
                    foreach (var name in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        if (name is not ("ours" or "restic" or "borg" or "borg-fixed")) throw new UsageException($"unknown tool '{name}'");
                        options.Tools.Add(name);
                    }
                    break;
                default: throw new UsageException($"unknown option {arg}");
            }
        }
        return options;
    }

    private static long Number(string name, string value, long min) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= int.MaxValue
            ? n
            : throw new UsageException($"{name} must be a whole number of at least {min}");
}
