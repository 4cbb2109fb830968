using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Ims.Bench;

/// <summary>
/// The benchmark: start the service's Release build, populate it over HTTP, then measure whole-image creates (mode C),
/// job queries and image listing against a reference endpoint measured in the same run, and print one table.
/// </summary>
internal static class BenchCommand
{
    private const string TargetFramework = "net10.0";

    /// <summary>A cheap authenticated endpoint that touches no database: the yardstick the other phases are held to.</summary>
    private const string ReferencePath = "/v3/projects";

    private const string CreatePath = "/v1/cloudimages/wholeimages/action";
    private const string ListPath = "/v2/cloudimages?limit=25";

    public static async Task<int> RunAsync(string[] args)
    {
        BenchOptions options;
        try
        {
            options = BenchOptions.Parse(args);
        }
        catch (UsageException ex)
        {
            return ex.Report(BenchOptions.Usage);
        }

        using var stop = Interrupt.OnCtrlC();

        ChildService? service = null;
        try
        {
            var dll = options.ServiceDll ?? LocateServiceBuild();
            var quota = Math.Max(20_000, options.Images * 2);
            string[] settings = ["--Ims:Jobs:StepDelay=00:00:00", $"--Ims:ImageQuota={quota}", .. options.ServiceSettings];

            Console.WriteLine("IMS benchmark");
            Console.WriteLine($"machine:  {Machine.Describe()}");
            Console.WriteLine($"load average at start: {Machine.LoadAverage()}");
            // Load averages count waiting threads, not CPU; what other programs use right now says more.
            var busyBefore = Machine.UserProcessesBusyTime();
            await Task.Delay(TimeSpan.FromSeconds(2), stop.Token);
            if (Machine.UserProcessesBusyTime() - busyBefore is { } busy)
            {
                var share = busy.TotalSeconds / (2.0 * Environment.ProcessorCount);
                Console.WriteLine($"other programs used {Share(share)} of the machine in the 2 s before the run");
                if (share > 0.1)
                    Console.WriteLine("warning: the machine is busy; the figures will be worse than on a quiet machine. Re-run when it is quiet.");
            }
            Console.WriteLine($"service:  {dll}");
            Console.WriteLine("          its defaults (SQLite in a fresh temporary data folder, the default accounts file, default logging),");
            Console.WriteLine($"          except {string.Join(" ", settings)}");
            Console.WriteLine("          (no job pacing, so jobs finish as fast as the service can run them; a quota that admits every image)");

            service = await ChildService.StartAsync(dll, settings, options.KeepData, stop.Token);
            Console.WriteLine($"          listening on {service.BaseAddress} (pid {service.ProcessId}), data in {service.DataDir}");
            Console.WriteLine($"client:   this process, HttpClient over loopback; {options.Workers} workers for reads, " +
                              $"{options.CreateWorkers} for creates, one request in flight each");
            Console.WriteLine();

            var results = await MeasureAsync(service, options, stop.Token);

            Console.WriteLine();
            Console.WriteLine($"load average at end: {Machine.LoadAverage()}");
            Console.WriteLine();
            PrintTable(results);
            return 0;
        }
        catch (BenchFailure failure)
        {
            Console.Error.WriteLine($"error: {failure.Message}");
            if (service is not null) Console.Error.WriteLine($"last service output:{Environment.NewLine}{service.OutputTail()}");
            return 1;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            Console.Error.WriteLine("Interrupted; no figures.");
            return 130;
        }
        finally
        {
            service?.Dispose();
        }
    }

    private sealed record Row(PhaseResult Result, string Target, bool? Met);

    private static async Task<List<Row>> MeasureAsync(ChildService service, BenchOptions options, CancellationToken ct)
    {
        using var setupHttp = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 32 })
        {
            BaseAddress = service.BaseAddress,
            Timeout = TimeSpan.FromSeconds(60),
        };
        var token = await Api.IssueTokenAsync(setupHttp, ct);
        var api = new Api(setupHttp, token);

        var sw = Stopwatch.StartNew();
        Console.WriteLine($"populating: {options.Servers} servers in one CBR vault, checkpoints until {options.Images} fresh backups");
        var backups = await Population.FreshBackupsAsync(api, options.Servers, options.Images,
            line => Console.WriteLine($"  {line}"), ct);
        Console.WriteLine($"  {backups.Count} fresh backups in {sw.Elapsed.TotalSeconds:0} s");

        // Creates: each request registers a different fresh backup; together they make the images the reads run against.
        using var createClient = Load.Client(service.BaseAddress, token, options.CreateWorkers);
        var jobIds = new string?[options.Images];
        string? firstError = null;
        var createUri = new Uri(service.BaseAddress, CreatePath);
        var json = MediaTypeHeaderValue.Parse("application/json");
        async ValueTask<bool> Create(int index, byte[] buffer, CancellationToken token)
        {
            var body = JsonSerializer.SerializeToUtf8Bytes(new
            {
                name = $"bench-img-{index:D6}",
                backup_id = backups[index],
                whole_image_type = "CBR",
            });
            using var request = new HttpRequestMessage(HttpMethod.Post, createUri) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = json;
            using var response = await createClient.SendAsync(request, token);
            var answer = await response.Content.ReadAsByteArrayAsync(token);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                Interlocked.CompareExchange(ref firstError, $"{(int)response.StatusCode} {Encoding.UTF8.GetString(answer)}", null);
                return false;
            }
            using var doc = JsonDocument.Parse(answer);
            jobIds[index] = doc.RootElement.GetProperty("job_id").GetString();
            return true;
        }

        Console.WriteLine($"create: {options.CreateWarmup} warm-up creates, then {options.Images - options.CreateWarmup} measured");
        var warmup = options.CreateWarmup;
        if (warmup > 0)
            await Load.RunAsync("create warm-up", options.CreateWorkers, warmup, options.CreateLimit, Create, service.CpuTime, ct);
        var create = await Load.RunAsync("create (mode C)", options.CreateWorkers, options.Images - warmup, options.CreateLimit,
            (i, buffer, token) => Create(i + warmup, buffer, token), service.CpuTime, ct);
        if (firstError is not null) Console.WriteLine($"  first failed create: {firstError}");
        Report(create);

        sw.Restart();
        var created = jobIds.Where(id => id is not null).Select(id => id!).ToArray();
        await Parallel.ForEachAsync(created, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct },
            async (jobId, token) => await api.WaitForJobAsync(jobId, token));
        Console.WriteLine($"  all {created.Length} image jobs SUCCESS {sw.Elapsed.TotalSeconds:0.0} s after the last create answered");
        if (created.Length < options.Images)
            throw new BenchFailure($"Only {created.Length} of {options.Images} creates succeeded; the read phases would not run at {options.Images} images.");

        var listed = await api.GetAsync(ListPath, ct);
        var page = listed["images"]!.AsArray().Count;
        if (page != 25) throw new BenchFailure($"GET {ListPath} returned {page} images, expected 25.");

        using var readClient = Load.Client(service.BaseAddress, token, options.Workers);
        var referenceUri = new Uri(service.BaseAddress, ReferencePath);
        var reference = await ReadPhaseAsync($"reference GET {ReferencePath}", service, options, options.ReferenceRequests,
            (_, buffer, token) => Load.GetAsync(readClient, referenceUri, buffer, token), ct);

        var jobUris = created.Select(id => new Uri(service.BaseAddress, $"/v1/{api.ProjectId}/jobs/{id}")).ToArray();
        var jobs = await ReadPhaseAsync($"job query ({created.Length} image jobs)", service, options, options.JobQueries,
            (_, buffer, token) => Load.GetAsync(readClient, jobUris[Random.Shared.Next(jobUris.Length)], buffer, token), ct);

        var listUri = new Uri(service.BaseAddress, ListPath);
        var list = await ReadPhaseAsync($"list ?limit=25 ({created.Length} images)", service, options, options.ListQueries,
            (_, buffer, token) => Load.GetAsync(readClient, listUri, buffer, token), ct);

        return
        [
            new Row(reference, "-", null),
            new Row(create, "-", null),
            new Row(jobs, "p99 < 5 ms and > 10,000 req/s", jobs.Errors == 0 && jobs.P99 < 5 && jobs.Throughput > 10_000),
            new Row(list, "p99 < 20 ms", list.Errors == 0 && list.P99 < 20),
        ];
    }

    private static async Task<PhaseResult> ReadPhaseAsync(string name, ChildService service, BenchOptions options, int requests,
        Load.Request send, CancellationToken ct)
    {
        Console.WriteLine($"{name}: {options.ReadWarmup.TotalSeconds:0} s warm-up, then {requests} requests measured");
        if (options.ReadWarmup > TimeSpan.Zero) await Load.WarmUpAsync(options.Workers, options.ReadWarmup, send, ct);
        var result = await Load.RunAsync(name, options.Workers, requests, options.PhaseLimit, send, service.CpuTime, ct);
        Report(result);
        return result;
    }

    private static void Report(PhaseResult r)
    {
        var limit = r.HitLimit ? " (stopped at the phase time limit)" : "";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {r.Requests} requests in {r.Elapsed.TotalSeconds:0.0} s: {r.Throughput:0} req/s, p50 {r.P50:0.00} ms, " +
            $"p99 {r.P99:0.00} ms, max {r.Percentile(1):0.00} ms, {r.Errors} errors{limit}; " +
            $"CPU per request: service {r.ServiceCpuUs:0} µs, client {r.ClientCpuUs:0} µs; other programs: {Share(r.OthersShare)} of the machine"));
    }

    private static string Share(double? share) => share is { } s ? string.Create(CultureInfo.InvariantCulture, $"{s:P0}") : "unknown";

    private static void PrintTable(List<Row> rows)
    {
        var reference = rows[0].Result;
        Console.WriteLine("| phase | requests | req/s | p50 ms | p99 ms | req/s vs reference | p99 vs reference | target | met? | other programs' CPU |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---|---|---:|");
        foreach (var (r, target, met) in rows)
        {
            var errors = r.Errors > 0 ? $" ({r.Errors} errors)" : "";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Name} | {r.Requests}{errors} | {r.Throughput:0} | {r.P50:0.00} | {r.P99:0.00} | " +
                $"{r.Throughput / reference.Throughput:0.00}x | {r.P99 / reference.P99:0.00}x | {target} | " +
                $"{(met is null ? "-" : met.Value ? "yes" : "NO")} | {Share(r.OthersShare)} |"));
        }
        Console.WriteLine();
        Console.WriteLine("req/s vs reference: the phase's throughput as a multiple of the reference's (1.00x = as fast as an");
        Console.WriteLine("authenticated request that touches no database); p99 vs reference: its p99 latency as a multiple of the reference's.");
        Console.WriteLine("other programs' CPU: the share of all cores used by neither the service nor this client during the phase.");
        var missed = rows.Where(r => r.Met == false).Select(r => r.Result.Name).ToList();
        Console.WriteLine(missed.Count == 0 ? "targets: all met" : $"targets missed: {string.Join(", ", missed)}");
    }

    /// <summary>
    /// The Release build of src/Ims.Service in the repository around this program (or the working directory). The
    /// bench builds nothing itself; a build older than its sources would measure code that is no longer there.
    /// </summary>
    internal static string LocateServiceBuild()
    {
        // The repository this program was built in, wherever it is started from; then the one around the working folder.
        var root = FindRepositoryRoot(AppContext.BaseDirectory) ?? FindRepositoryRoot(Directory.GetCurrentDirectory())
            ?? throw new BenchFailure("No Ims.slnx above this program or the current folder: give the service with --service.");
        var project = Path.Combine(root, "src", "Ims.Service");
        var dll = Path.Combine(project, "bin", "Release", TargetFramework, "Ims.Service.dll");
        const string build = "dotnet build -c Release src/Ims.Service";
        if (!File.Exists(dll)) throw new BenchFailure($"No Release build of the service at {dll}: run `{build}` first.");
        var output = Path.GetDirectoryName(dll)!;
        var built = File.GetLastWriteTimeUtc(dll);
        // Settings files are copied, not compiled: their copy next to the binary is what the service reads.
        DateTime BuiltFrom(string source) =>
            Path.GetExtension(source) == ".json" && File.Exists(Path.Combine(output, Path.GetFileName(source)))
                ? File.GetLastWriteTimeUtc(Path.Combine(output, Path.GetFileName(source)))
                : built;
        var newer = Directory.EnumerateFiles(project, "*", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => Path.GetExtension(f) is ".cs" or ".sql" or ".csproj" or ".json")
            .Concat(new[] { "Directory.Build.props", "Directory.Packages.props" }.Select(f => Path.Combine(root, f)).Where(File.Exists))
            .FirstOrDefault(f => File.GetLastWriteTimeUtc(f) > BuiltFrom(f));
        if (newer is not null)
            throw new BenchFailure($"The service's Release build is older than {Path.GetRelativePath(root, newer)}: run `{build}` first.");
        return dll;
    }

    private static string? FindRepositoryRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Ims.slnx"))) return dir.FullName;
        return null;
    }
}
