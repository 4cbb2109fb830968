using System.Diagnostics;
using System.Text;

namespace Ims.Bench.Data;

/// <summary>Runs an external program and times it; a failure ends the run with the program's own words.</summary>
internal static class ExternalProgram
{
    public static async Task<TimeSpan> RunAsync(string program, IEnumerable<string> arguments, CancellationToken ct,
        string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null) info.WorkingDirectory = workingDirectory;
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        if (environment is not null)
        {
            foreach (var (name, value) in environment) info.Environment[name] = value;
        }
        var output = new StringBuilder();
        var started = Stopwatch.GetTimestamp();
        using var process = Process.Start(info) ?? throw new BenchFailure($"{program} did not start.");
        process.OutputDataReceived += (_, e) => Keep(output, e.Data);
        process.ErrorDataReceived += (_, e) => Keep(output, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await process.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        var elapsed = Stopwatch.GetElapsedTime(started);
        if (process.ExitCode != 0)
        {
            string text;
            lock (output) text = output.ToString();
            throw new BenchFailure($"{program} {string.Join(' ', info.ArgumentList)} exited with {process.ExitCode}:{Environment.NewLine}{text}");
        }
        return elapsed;
    }

    /// <summary>The program's standard output, for the few calls whose answer is needed.</summary>
    public static async Task<string> OutputOfAsync(string program, IEnumerable<string> arguments, CancellationToken ct)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        using var process = Process.Start(info) ?? throw new BenchFailure($"{program} did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        if (process.ExitCode != 0) throw new BenchFailure($"{program} exited with {process.ExitCode}: {await stderr}");
        return (await stdout).Trim();
    }

    private static void Keep(StringBuilder output, string? line)
    {
        if (line is null) return;
        lock (output)
        {
            // The tail is what explains a failure; a chatty tool must not fill memory.
            if (output.Length > 16_000) output.Remove(0, output.Length - 8_000);
            output.AppendLine(line);
        }
    }
}

/// <summary>
/// Flushing and dropping the page cache, so that every timed phase of every tool starts cold and ends with its writes on
/// disk. Dropping needs root; where it is refused, every tool runs warm alike.
/// </summary>
internal static class PageCache
{
    public static bool CanDrop { get; private set; }

    public static async Task<bool> ProbeAsync(CancellationToken ct)
    {
        CanDrop = await TryDropAsync(ct);
        return CanDrop;
    }

    /// <summary>sync(1), so a phase does not pay for data an earlier one left dirty.</summary>
    public static Task<TimeSpan> SyncAsync(CancellationToken ct) => ExternalProgram.RunAsync("sync", [], ct);

    public static async Task DropAsync(CancellationToken ct)
    {
        await SyncAsync(ct);
        if (CanDrop) await TryDropAsync(ct);
    }

    private static async Task<bool> TryDropAsync(CancellationToken ct)
    {
        try
        {
            await SyncAsync(ct);
            await File.WriteAllTextAsync("/proc/sys/vm/drop_caches", "3", ct);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}

/// <summary>Sizes of what a tool keeps.</summary>
internal static class Storage
{
    /// <summary>The sum of the files' lengths (what a copy of the repository would move), for every tool alike.</summary>
    public static long FolderBytes(string path) =>
        Directory.Exists(path)
            ? new DirectoryInfo(path).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length)
            : 0;

    /// <summary>fsync of every file under a folder; returns how long it took.</summary>
    public static TimeSpan FlushFiles(string path)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        foreach (var file in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories))
        {
            using var handle = File.OpenHandle(file, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
            RandomAccess.FlushToDisk(handle);
        }
        return System.Diagnostics.Stopwatch.GetElapsedTime(started);
    }

    public static void DeleteFolder(string path)
    {
        if (!Directory.Exists(path)) return;
        // Repositories mark their files read-only; deleting needs them writable on some systems, never on Linux as root.
        Directory.Delete(path, recursive: true);
    }
}
