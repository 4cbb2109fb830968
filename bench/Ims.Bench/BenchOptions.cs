using System.Globalization;

namespace Ims.Bench;

/// <summary>The command line: <c>--name value</c> or <c>--name=value</c>; every option has a default.</summary>
internal sealed class BenchOptions
{
    /// <summary>Whole images the run creates (mode C, one per fresh CBR backup); the read phases run at this count.</summary>
    public int Images { get; private set; } = 10_000;

    /// <summary>The first creates warm the service up and are not measured; they still count toward <see cref="Images"/>.</summary>
    public int CreateWarmup { get; private set; } = 200;

    /// <summary>Servers in the vault: each checkpoint yields one backup per server.</summary>
    public int Servers { get; private set; } = 20;

    /// <summary>Concurrent client workers for the read phases (each keeps one request in flight).</summary>
    public int Workers { get; private set; } = 8;

    /// <summary>Concurrent client workers for the create phase (creates serialise on the database writer anyway).</summary>
    public int CreateWorkers { get; private set; } = 4;

    /// <summary>Unmeasured load before each read phase.</summary>
    public TimeSpan ReadWarmup { get; private set; } = TimeSpan.FromSeconds(5);
    public int ReferenceRequests { get; private set; } = 100_000;
    public int JobQueries { get; private set; } = 100_000;
    public int ListQueries { get; private set; } = 20_000;

    /// <summary>No measured read phase runs longer than this; one that hits it reports the requests it completed.</summary>
    public TimeSpan PhaseLimit { get; private set; } = TimeSpan.FromSeconds(120);

    /// <summary>Upper bound on the create phase, which must finish: the read phases run at its image count.</summary>
    public TimeSpan CreateLimit { get; private set; } = TimeSpan.FromMinutes(15);

    /// <summary>The service binary; by default the Release build of src/Ims.Service in this repository.</summary>
    public string? ServiceDll { get; private set; }

    /// <summary>Extra service settings, for experiments; the figures in the README use none.</summary>
    public List<string> ServiceSettings { get; } = [];

    /// <summary>Leaves the data folder behind (for looking at query plans afterwards).</summary>
    public bool KeepData { get; private set; }

    /// <summary>The databases the same phases run on, one after the other in one run: sqlite, postgres or both.</summary>
    public IReadOnlyList<string> Databases { get; private set; } = ["sqlite"];

    /// <summary>Above 1: one more configuration, this many service processes on one PostgreSQL, the load spread over all.</summary>
    public int Nodes { get; private set; } = 1;

    /// <summary>The port of the throwaway PostgreSQL (null: a free one).</summary>
    public int? PostgresPort { get; private set; }

    /// <summary>Whether the run compares configurations (anything but the single service on SQLite).</summary>
    public bool Compares => Nodes > 1 || Databases is not ["sqlite"];

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg is "-h" or "--help") throw new UsageException(null);
            if (arg == "--keep-data")
            {
                options.KeepData = true;
                continue;
            }
            if (!arg.StartsWith("--", StringComparison.Ordinal)) throw new UsageException($"unexpected argument '{arg}'");
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            string name, value;
            if (eq > 0)
            {
                name = arg[2..eq];
                value = arg[(eq + 1)..];
            }
            else
            {
                if (i + 1 >= args.Length) throw new UsageException($"{arg} needs a value");
                name = arg[2..];
                value = args[++i];
            }
            switch (name)
            {
                case "images": options.Images = Count(name, value, 1); break;
                case "create-warmup": options.CreateWarmup = Count(name, value, 0); break;
                case "servers": options.Servers = Count(name, value, 1); break;
                case "workers": options.Workers = Count(name, value, 1); break;
                case "create-workers": options.CreateWorkers = Count(name, value, 1); break;
                case "read-warmup": options.ReadWarmup = TimeSpan.FromSeconds(Count(name, value, 0)); break;
                case "reference-requests": options.ReferenceRequests = Count(name, value, 1); break;
                case "job-queries": options.JobQueries = Count(name, value, 1); break;
                case "list-queries": options.ListQueries = Count(name, value, 1); break;
                case "phase-limit": options.PhaseLimit = TimeSpan.FromSeconds(Count(name, value, 1)); break;
                case "create-limit": options.CreateLimit = TimeSpan.FromSeconds(Count(name, value, 1)); break;
                case "service": options.ServiceDll = Path.GetFullPath(value); break;
                case "databases":
                    var databases = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
                    if (databases.Count == 0 || databases.Any(d => d is not ("sqlite" or "postgres")))
                        throw new UsageException("--databases is a comma-separated list of sqlite and postgres");
                    options.Databases = databases;
                    break;
                case "nodes":
                    options.Nodes = Count(name, value, 1);
                    if (options.Nodes > 8) throw new UsageException("--nodes must be at most 8");
                    break;
                case "postgres-port": options.PostgresPort = Count(name, value, 1); break;
                case "service-setting": options.ServiceSettings.Add(value.StartsWith("--", StringComparison.Ordinal) ? value : $"--{value}"); break;
                default: throw new UsageException($"unknown option --{name}");
            }
        }
        if (options.CreateWarmup >= options.Images) throw new UsageException("--create-warmup must be below --images");
        return options;
    }

    private static int Count(string name, string value, int min) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min
            ? n
            : throw new UsageException($"--{name} must be a whole number of at least {min}");

    public const string Usage = """
        Usage: dotnet run -c Release --project bench/Ims.Bench [-- options]
        (build the service first: dotnet build -c Release src/Ims.Service)

          --images N              whole images to create, one per fresh CBR backup (10000)
          --create-warmup N       unmeasured creates among them (200)
          --servers N             servers in the vault; each checkpoint backs all of them up (20)
          --workers N             concurrent client workers for the read phases (8)
          --create-workers N      concurrent client workers for the create phase (4)
          --read-warmup SECONDS   unmeasured load before each read phase (5)
          --reference-requests N  GET /v3/projects requests measured as the reference (100000)
          --job-queries N         GET /v1/{project_id}/jobs/{job_id} requests measured (100000)
          --list-queries N        GET /v2/cloudimages?limit=25 requests measured (20000)
          --phase-limit SECONDS   upper bound on each measured read phase (120)
          --create-limit SECONDS  upper bound on the create phase (900)
          --service PATH          the service's Ims.Service.dll (default: its Release build in this repository)
          --service-setting K=V   an extra service setting (repeatable), for experiments
          --keep-data             leave the service's data folder behind instead of deleting it
          --databases LIST        run the same phases on each of sqlite,postgres in turn and compare them (sqlite);
                                  postgres is a throwaway cluster of scripts/postgres.sh, started and removed by the run
          --nodes N               also run N service processes on one PostgreSQL, the load spread over all of them,
                                  after a single node on PostgreSQL (1: no such run)
          --postgres-port PORT    the throwaway PostgreSQL's loopback port (default: a free one)

        The data-plane benchmark (ours against restic and borg) is a separate command: `-- data --help`.
        """;
}

internal sealed class UsageException(string? message) : Exception(message ?? "usage")
{
    /// <summary>Prints the error (unless help was asked for) and the usage; returns the exit code: 0 for help, 2 otherwise.</summary>
    public int Report(string usage)
    {
        if (Message != "usage") Console.Error.WriteLine($"error: {Message}");
        Console.Error.WriteLine(usage);
        return Message == "usage" ? 0 : 2;
    }
}

/// <summary>Ctrl-C handling shared by the benchmark commands.</summary>
internal static class Interrupt
{
    /// <summary>
    /// A source the first Ctrl-C cancels, so the run stops cleanly (children killed, folders removed); a second Ctrl-C is
    /// not held.
    /// </summary>
    public static CancellationTokenSource OnCtrlC()
    {
        var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            if (stop.IsCancellationRequested) return;
            e.Cancel = true;
            Console.Error.WriteLine("Stopping...");
            stop.Cancel();
        };
        return stop;
    }
}
