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
        if (options.Compares) return await CompareAsync(options, stop.Token);

        ChildService? service = null;
        try
        {
            var dll = options.ServiceDll ?? LocateServiceBuild();
            var settings = BaseSettings(options);

            Console.WriteLine("IMS benchmark");
            await DescribeMachineAsync(stop.Token);
            Console.WriteLine($"service:  {dll}");
            Console.WriteLine("          its defaults (SQLite in a fresh temporary data folder, the default accounts file, default logging),");
            Console.WriteLine($"          except {string.Join(" ", settings)}");
            Console.WriteLine("          (no job pacing, so jobs finish as fast as the service can run them; a quota that admits every image)");

            service = await ChildService.StartAsync(dll, settings, options.KeepData, stop.Token);
            Console.WriteLine($"          listening on {service.BaseAddress} (pid {service.ProcessId}), data in {service.DataDir}");
            Console.WriteLine($"client:   this process, HttpClient over loopback; {options.Workers} workers for reads, " +
                              $"{options.CreateWorkers} for creates, one request in flight each");
            Console.WriteLine();

            var results = await MeasureAsync(new Target([service], null), options, stop.Token);

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

    /// <summary>One service configuration of a comparing run.</summary>
    private sealed record Configuration(string Database, int Nodes)
    {
        public string Label => Database == "sqlite" ? "SQLite" : Nodes == 1 ? "PostgreSQL" : $"PostgreSQL, {Nodes} nodes";
    }

    private sealed record Measured(Configuration Configuration, List<Row> Rows, string LoadAtStart, string LoadAtEnd);

    /// <summary>
    /// The same phases on each configuration in turn (each on a fresh service and, on PostgreSQL, a fresh throwaway
    /// cluster), then one table comparing them: each phase also as ratios to the reference measured on the same
    /// configuration, so that the load of the machine at that moment cancels out.
    /// </summary>
    private static async Task<int> CompareAsync(BenchOptions options, CancellationToken ct)
    {
        var configurations = options.Databases.Select(d => new Configuration(d, 1)).ToList();
        if (options.Nodes > 1)
        {
            // The several nodes' figures are read against one node on the same database, so that one runs too.
            if (!options.Databases.Contains("postgres")) configurations.Add(new Configuration("postgres", 1));
            configurations.Add(new Configuration("postgres", options.Nodes));
        }
        var nodes = new List<ChildService>();
        ThrowawayPostgres? postgres = null;
        try
        {
            var dll = options.ServiceDll ?? LocateServiceBuild();
            var settings = BaseSettings(options);
            Console.WriteLine("IMS benchmark, compared: " + string.Join("; ", configurations.Select(c => c.Label)));
            await DescribeMachineAsync(ct);
            Console.WriteLine($"commit:   {Machine.SourceRevision()}");
            Console.WriteLine($"service:  {dll}");
            Console.WriteLine("          its defaults (a fresh temporary data folder per node, the default accounts file, default logging),");
            Console.WriteLine($"          except {string.Join(" ", settings)} and, per configuration, the database and the node names below");
            Console.WriteLine($"client:   this process, HttpClient over loopback; {options.Workers} workers for reads, " +
                              $"{options.CreateWorkers} for creates, one request in flight each; with several nodes request i goes to node i mod N");

            var measured = new List<Measured>();
            foreach (var configuration in configurations)
            {
                Console.WriteLine();
                Console.WriteLine($"== {configuration.Label} ==");
                var loadAtStart = Machine.LoadAverage();
                Console.WriteLine($"load average at start: {loadAtStart}");
                List<string> configurationSettings = [.. settings];
                if (configuration.Database == "postgres")
                {
                    var root = FindRepositoryRoot(AppContext.BaseDirectory) ?? FindRepositoryRoot(Directory.GetCurrentDirectory())
                        ?? throw new BenchFailure("No Ims.slnx above this program or the current folder: scripts/postgres.sh is needed.");
                    postgres = await ThrowawayPostgres.StartAsync(root, options.PostgresPort ?? ChildService.FreeLoopbackPort(), ct);
                    Console.WriteLine($"database: PostgreSQL of scripts/postgres.sh (fsync off) on port {postgres.Port}, folder {postgres.Dir}");
                    configurationSettings.Add($"--Ims:Postgres={postgres.ConnectionString}");
                }
                else
                {
                    Console.WriteLine("database: SQLite in the node's data folder");
                }
                for (var i = 0; i < configuration.Nodes; i++)
                {
                    List<string> nodeSettings = [.. configurationSettings];
                    if (configuration.Nodes > 1) nodeSettings.Add($"--Ims:Node:Name=bench-node-{NodeName(i)}");
                    // One after the other: the first makes the schema, the others find it.
                    var node = await ChildService.StartAsync(dll, nodeSettings, options.KeepData, ct);
                    nodes.Add(node);
                    Console.WriteLine($"node {NodeName(i)}:   listening on {node.BaseAddress} (pid {node.ProcessId}), data in {node.DataDir}");
                }

                var rows = await MeasureAsync(new Target([.. nodes], postgres is null ? null : postgres.CpuTime), options, ct);
                var loadAtEnd = Machine.LoadAverage();
                Console.WriteLine($"load average at end: {loadAtEnd}");
                measured.Add(new Measured(configuration, rows, loadAtStart, loadAtEnd));

                foreach (var node in nodes) node.Dispose();
                nodes.Clear();
                postgres?.Dispose();
                postgres = null;
            }

            Console.WriteLine();
            PrintComparison(measured);
            return 0;
        }
        catch (BenchFailure failure)
        {
            Console.Error.WriteLine($"error: {failure.Message}");
            for (var i = 0; i < nodes.Count; i++)
                Console.Error.WriteLine($"last output of node {NodeName(i)}:{Environment.NewLine}{nodes[i].OutputTail()}");
            return 1;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Console.Error.WriteLine("Interrupted; no figures.");
            return 130;
        }
        finally
        {
            foreach (var node in nodes) node.Dispose();
            postgres?.Dispose();
        }
    }

    private static string NodeName(int index) => ((char)('a' + index)).ToString();

    private static void PrintComparison(List<Measured> measured)
    {
        static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
        Console.WriteLine("Each phase on each configuration; the ratios are to the reference phase (GET /v3/projects, no database) of the same configuration.");
        Console.WriteLine();
        Console.WriteLine("| configuration | phase | requests | req/s | p50 ms | p99 ms | req/s vs reference | p99 vs reference | service CPU µs/req | service CPU vs reference | PostgreSQL CPU µs/req | load average start / end |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var m in measured)
        {
            var reference = m.Rows[0].Result;
            foreach (var row in m.Rows)
            {
                var r = row.Result;
                var errors = r.Errors > 0 ? $" ({r.Errors} errors)" : "";
                Console.WriteLine($"| {m.Configuration.Label} | {r.Name} | {r.Requests}{errors} | {F(r.Throughput, "0")} | {F(r.P50, "0.00")} | {F(r.P99, "0.00")} | " +
                                  $"{F(r.Throughput / reference.Throughput, "0.00")}x | {F(r.P99 / reference.P99, "0.00")}x | {F(r.ServiceCpuUs, "0")} | " +
                                  $"{F(r.ServiceCpuUs / reference.ServiceCpuUs, "0.00")}x | {(r.DatabaseCpuUs is { } db ? F(db, "0") : "-")} | {m.LoadAtStart} / {m.LoadAtEnd} |");
            }
        }

        Console.WriteLine();
        Console.WriteLine($"Where the {Environment.ProcessorCount} cores went during each phase (shares of all cores; what is left is idle):");
        Console.WriteLine();
        Console.WriteLine("| configuration | phase | service (all nodes) | PostgreSQL | this client | other programs |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|");
        foreach (var m in measured)
        {
            foreach (var row in m.Rows)
            {
                var r = row.Result;
                Console.WriteLine($"| {m.Configuration.Label} | {r.Name} | {Share(r.ServiceShare)} | {(r.DatabaseShare is { } db ? Share(db) : "-")} | {Share(r.ClientShare)} | {Share(r.OthersShare)} |");
            }
        }

        var single = measured.FirstOrDefault(m => m.Configuration is { Database: "postgres", Nodes: 1 });
        foreach (var several in measured.Where(m => m.Configuration.Nodes > 1))
        {
            Console.WriteLine();
            Console.WriteLine($"{several.Configuration.Label}: requests answered 200 by each node, and throughput against one node on PostgreSQL in this run:");
            Console.WriteLine();
            var names = Enumerable.Range(0, several.Configuration.Nodes).Select(NodeName).ToList();
            Console.WriteLine($"| phase | errors | {string.Join(" | ", names.Select(n => $"served by node {n}"))} | req/s | req/s of one node | vs one node |");
            Console.WriteLine($"|---|---:|{string.Concat(names.Select(_ => "---:|"))}---:|---:|---:|");
            for (var i = 0; i < several.Rows.Count; i++)
            {
                var r = several.Rows[i].Result;
                var one = single?.Rows[i].Result;
                Console.WriteLine($"| {r.Name} | {r.Errors} | {string.Join(" | ", several.Rows[i].Served)} | {F(r.Throughput, "0")} | " +
                                  $"{(one is null ? "-" : F(one.Throughput, "0"))} | {(one is null ? "-" : F(r.Throughput / one.Throughput, "0.00") + "x")} |");
            }
            var errors = several.Rows.Sum(r => r.Result.Errors);
            var idle = several.Rows.SelectMany(r => r.Served).Count(n => n == 0);
            Console.WriteLine();
            Console.WriteLine(errors == 0 && idle == 0
                ? "several nodes: zero errors, every node served requests in every phase"
                : $"several nodes: {errors} errors; {idle} phase-node pairs with no request served");
        }
    }

    private static string[] BaseSettings(BenchOptions options)
    {
        var quota = Math.Max(20_000, options.Images * 2);
        return ["--Ims:Jobs:StepDelay=00:00:00", $"--Ims:ImageQuota={quota}", .. options.ServiceSettings];
    }

    private static async Task DescribeMachineAsync(CancellationToken ct)
    {
        Console.WriteLine($"machine:  {Machine.Describe()}");
        Console.WriteLine($"load average at start: {Machine.LoadAverage()}");
        // Load averages count waiting threads, not CPU; what other programs use right now says more.
        var busyBefore = Machine.UserProcessesBusyTime();
        await Task.Delay(TimeSpan.FromSeconds(2), ct);
        if (Machine.UserProcessesBusyTime() - busyBefore is { } busy)
        {
            var share = busy.TotalSeconds / (2.0 * Environment.ProcessorCount);
            Console.WriteLine($"other programs used {Share(share)} of the machine in the 2 s before the run");
            if (share > 0.1)
                Console.WriteLine("warning: the machine is busy; the figures will be worse than on a quiet machine. Re-run when it is quiet.");
        }
    }

    /// <summary>
    /// The service processes the load goes to (request i to node i mod N; populating through the first) and, on
    /// PostgreSQL, the database server's CPU time.
    /// </summary>
    private sealed record Target(IReadOnlyList<ChildService> Nodes, Func<TimeSpan>? DatabaseCpu)
    {
        public TimeSpan CpuTime() => TimeSpan.FromTicks(Nodes.Sum(n => n.CpuTime().Ticks));
    }

    /// <summary>Requests answered 200 by each node in a phase (its warm-up not counted).</summary>
    private sealed class Served(int nodes)
    {
        private readonly int[] _counts = new int[nodes];

        public IReadOnlyList<int> Counts => _counts;

        public Load.Request Spread(Func<int, int, byte[], CancellationToken, ValueTask<bool>> send) => async (index, buffer, ct) =>
        {
            var node = index % _counts.Length;
            var ok = await send(node, index, buffer, ct);
            if (ok) Interlocked.Increment(ref _counts[node]);
            return ok;
        };

        public void Reset() => Array.Clear(_counts);
    }

    private sealed record Row(PhaseResult Result, string Target, bool? Met, IReadOnlyList<int> Served);

    private static async Task<List<Row>> MeasureAsync(Target target, BenchOptions options, CancellationToken ct)
    {
        var nodes = target.Nodes;
        var first = nodes[0];
        using var setupHttp = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 32 })
        {
            BaseAddress = first.BaseAddress,
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
        var createClients = nodes.Select(n => Load.Client(n.BaseAddress, token, options.CreateWorkers)).ToArray();
        var readClients = nodes.Select(n => Load.Client(n.BaseAddress, token, options.Workers)).ToArray();
        try
        {
            var jobIds = new string?[options.Images];
            string? firstError = null;
            var createUris = nodes.Select(n => new Uri(n.BaseAddress, CreatePath)).ToArray();
            var json = MediaTypeHeaderValue.Parse("application/json");
            async ValueTask<bool> Create(int node, int index, byte[] buffer, CancellationToken token)
            {
                var body = JsonSerializer.SerializeToUtf8Bytes(new
                {
                    name = $"bench-img-{index:D6}",
                    backup_id = backups[index],
                    whole_image_type = "CBR",
                });
                using var request = new HttpRequestMessage(HttpMethod.Post, createUris[node]) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = json;
                using var response = await createClients[node].SendAsync(request, token);
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
            var createServed = new Served(nodes.Count);
            if (warmup > 0)
                await Load.RunAsync("create warm-up", options.CreateWorkers, warmup, options.CreateLimit, createServed.Spread(Create),
                    target.CpuTime, ct, target.DatabaseCpu);
            createServed.Reset();
            var create = await Load.RunAsync("create (mode C)", options.CreateWorkers, options.Images - warmup, options.CreateLimit,
                createServed.Spread((node, i, buffer, token) => Create(node, i + warmup, buffer, token)), target.CpuTime, ct, target.DatabaseCpu);
            if (firstError is not null) Console.WriteLine($"  first failed create: {firstError}");
            Report(create, createServed.Counts);

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

            var referenceUris = nodes.Select(n => new Uri(n.BaseAddress, ReferencePath)).ToArray();
            var (reference, referenceServed) = await ReadPhaseAsync($"reference GET {ReferencePath}", target, options, options.ReferenceRequests,
                (node, _, buffer, token) => Load.GetAsync(readClients[node], referenceUris[node], buffer, token), ct);

            var jobUris = nodes.Select(n => created.Select(id => new Uri(n.BaseAddress, $"/v1/{api.ProjectId}/jobs/{id}")).ToArray()).ToArray();
            var (jobs, jobsServed) = await ReadPhaseAsync($"job query ({created.Length} image jobs)", target, options, options.JobQueries,
                (node, _, buffer, token) => Load.GetAsync(readClients[node], jobUris[node][Random.Shared.Next(created.Length)], buffer, token), ct);

            var listUris = nodes.Select(n => new Uri(n.BaseAddress, ListPath)).ToArray();
            var (list, listServed) = await ReadPhaseAsync($"list ?limit=25 ({created.Length} images)", target, options, options.ListQueries,
                (node, _, buffer, token) => Load.GetAsync(readClients[node], listUris[node], buffer, token), ct);

            return
            [
                new Row(reference, "-", null, referenceServed),
                new Row(create, "-", null, createServed.Counts),
                new Row(jobs, "p99 < 5 ms and > 10,000 req/s", jobs.Errors == 0 && jobs.P99 < 5 && jobs.Throughput > 10_000, jobsServed),
                new Row(list, "p99 < 20 ms", list.Errors == 0 && list.P99 < 20, listServed),
            ];
        }
        finally
        {
            foreach (var client in createClients.Concat(readClients)) client.Dispose();
        }
    }

    private static async Task<(PhaseResult, IReadOnlyList<int>)> ReadPhaseAsync(string name, Target target, BenchOptions options,
        int requests, Func<int, int, byte[], CancellationToken, ValueTask<bool>> send, CancellationToken ct)
    {
        var served = new Served(target.Nodes.Count);
        var spread = served.Spread(send);
        Console.WriteLine($"{name}: {options.ReadWarmup.TotalSeconds:0} s warm-up, then {requests} requests measured");
        if (options.ReadWarmup > TimeSpan.Zero) await Load.WarmUpAsync(options.Workers, options.ReadWarmup, spread, ct);
        served.Reset();
        var result = await Load.RunAsync(name, options.Workers, requests, options.PhaseLimit, spread, target.CpuTime, ct, target.DatabaseCpu);
        Report(result, served.Counts);
        return (result, served.Counts);
    }

    private static void Report(PhaseResult r, IReadOnlyList<int> served)
    {
        var limit = r.HitLimit ? " (stopped at the phase time limit)" : "";
        var database = r.DatabaseCpuUs is { } us ? string.Create(CultureInfo.InvariantCulture, $", PostgreSQL {us:0} µs") : "";
        var nodes = served.Count > 1 ? $"; served by node {string.Join(", ", served.Select((n, i) => $"{NodeName(i)} {n}"))}" : "";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {r.Requests} requests in {r.Elapsed.TotalSeconds:0.0} s: {r.Throughput:0} req/s, p50 {r.P50:0.00} ms, " +
            $"p99 {r.P99:0.00} ms, max {r.Percentile(1):0.00} ms, {r.Errors} errors{limit}; " +
            $"CPU per request: service {r.ServiceCpuUs:0} µs{database}, client {r.ClientCpuUs:0} µs; other programs: {Share(r.OthersShare)} of the machine{nodes}"));
    }

    private static string Share(double? share) => share is { } s ? string.Create(CultureInfo.InvariantCulture, $"{s:P0}") : "unknown";

    private static void PrintTable(List<Row> rows)
    {
        var reference = rows[0].Result;
        Console.WriteLine("| phase | requests | req/s | p50 ms | p99 ms | req/s vs reference | p99 vs reference | target | met? | other programs' CPU |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---|---|---:|");
        foreach (var (r, target, met, _) in rows)
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

    internal static string? FindRepositoryRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Ims.slnx"))) return dir.FullName;
        return null;
    }
}
