using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Ims.Bench;

/// <summary>
/// A PostgreSQL cluster of the repository's own script (<c>scripts/postgres.sh</c>: initdb in a temporary folder, its
/// own loopback port, fsync off), started for one configuration of the benchmark and removed when disposed.
/// </summary>
internal sealed class ThrowawayPostgres : IDisposable
{
    private readonly string _script;
    private readonly EventHandler _onExit;
    private bool _stopped;

    private ThrowawayPostgres(string script, string dir, int port, string connectionString)
    {
        _script = script;
        Dir = dir;
        Port = port;
        ConnectionString = connectionString;
        _onExit = (_, _) => Stop();
        AppDomain.CurrentDomain.ProcessExit += _onExit;
    }

    public string Dir { get; }
    public int Port { get; }
    public string ConnectionString { get; }

    public static async Task<ThrowawayPostgres> StartAsync(string repositoryRoot, int port, CancellationToken ct)
    {
        var script = Path.Combine(repositoryRoot, "scripts", "postgres.sh");
        if (!File.Exists(script)) throw new BenchFailure($"No {script} to start PostgreSQL with.");
        var dir = Path.Combine(Path.GetTempPath(), $"ims-bench-pg-{Guid.NewGuid():N}");
        var (code, output) = await RunScriptAsync(script, ["start", dir, port.ToString(CultureInfo.InvariantCulture)], ct);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (code != 0 || lines.Length == 0 || !lines[^1].StartsWith("Host=", StringComparison.Ordinal))
        {
            await RunScriptAsync(script, ["stop", dir], CancellationToken.None);
            throw new BenchFailure($"scripts/postgres.sh start {dir} {port} failed ({code}):{Environment.NewLine}{output}");
        }
        return new ThrowawayPostgres(script, dir, port, lines[^1]);
    }

    /// <summary>
    /// CPU time the cluster has used so far: the postmaster and its live children (the backends of the service's
    /// connections, the background writer, the WAL writer...), plus what its ended children used (cutime and cstime).
    /// </summary>
    public TimeSpan CpuTime()
    {
        var postmaster = PostmasterPid();
        if (postmaster is null) return TimeSpan.Zero;
        long ticks = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            var fields = StatFields(pid);
            if (fields is null) continue;
            // After the command name: [0] state, [1] ppid, [11] utime, [12] stime, [13] cutime, [14] cstime.
            if (pid == postmaster)
                ticks += fields[11] + fields[12] + fields[13] + fields[14];
            else if (fields[1] == postmaster)
                ticks += fields[11] + fields[12];
        }
        return TimeSpan.FromSeconds(ticks / 100.0); // USER_HZ
    }

    private int? PostmasterPid()
    {
        try
        {
            var first = File.ReadLines(Path.Combine(Dir, "postmaster.pid")).FirstOrDefault();
            return int.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static long[]? StatFields(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null; // gone meanwhile
        }
        var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var fields = new long[15];
        for (var i = 1; i < fields.Length; i++) fields[i] = long.Parse(rest[i], CultureInfo.InvariantCulture);
        return fields;
    }

    private static async Task<(int Code, string Output)> RunScriptAsync(string script, IEnumerable<string> arguments, CancellationToken ct)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(script);
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        using var process = Process.Start(info) ?? throw new BenchFailure("bash did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        var output = new StringBuilder().Append(await stderr).Append(await stdout).ToString();
        return (process.ExitCode, output);
    }

    private void Stop()
    {
        if (_stopped) return;
        _stopped = true;
        RunScriptAsync(_script, ["stop", Dir], CancellationToken.None).GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        AppDomain.CurrentDomain.ProcessExit -= _onExit;
        Stop();
    }
}
