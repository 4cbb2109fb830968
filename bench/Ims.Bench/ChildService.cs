using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Ims.Bench;

/// <summary>
/// The service as a child process on a free loopback port with a fresh data folder. It is killed (with anything it
/// started) when disposed, and also when the bench process exits by other means, so it never outlives the run.
/// </summary>
internal sealed class ChildService : IDisposable
{
    private const int KeptOutputLines = 40;

    private readonly Process _process;
    private readonly Queue<string> _output = new();
    private readonly EventHandler _onExit;

    private ChildService(Process process, Uri baseAddress, string dataDir)
    {
        _process = process;
        BaseAddress = baseAddress;
        DataDir = dataDir;
        _onExit = (_, _) => Kill();
        AppDomain.CurrentDomain.ProcessExit += _onExit;
    }

    public Uri BaseAddress { get; }
    public string DataDir { get; }
    public int ProcessId => _process.Id;

    /// <summary>CPU time the service has used so far (user and system, all threads).</summary>
    public TimeSpan CpuTime()
    {
        _process.Refresh();
        return _process.TotalProcessorTime;
    }

    /// <summary>Whether disposing leaves the data folder behind.</summary>
    public bool KeepData { get; init; }

    public static async Task<ChildService> StartAsync(string dll, IReadOnlyList<string> settings, bool keepData, CancellationToken ct)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), $"ims-bench-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dataDir);
        var port = FreeLoopbackPort();
        var baseAddress = new Uri($"http://127.0.0.1:{port}");

        var info = new ProcessStartInfo("dotnet")
        {
            // The data folder is also the working directory, so no accounts.json of the caller's folder is picked up.
            WorkingDirectory = dataDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add($"--urls={baseAddress.ToString().TrimEnd('/')}");
        info.ArgumentList.Add($"--Ims:DataDir={dataDir}");
        // The bucket listener stays on, as by default, but on a port of its own so that two benchmarks can run at once.
        info.ArgumentList.Add($"--Ims:Obs:Urls=http://127.0.0.1:{FreeLoopbackPort()}");
        foreach (var setting in settings) info.ArgumentList.Add(setting);
        // Defaults means defaults: settings inherited from the caller's shell would change what is measured.
        foreach (var name in info.Environment.Keys.ToList())
        {
            if (name.StartsWith("Ims__", StringComparison.OrdinalIgnoreCase) || name.StartsWith("Logging__", StringComparison.OrdinalIgnoreCase)
                || name is "ASPNETCORE_ENVIRONMENT" or "DOTNET_ENVIRONMENT" or "ASPNETCORE_URLS" or "DOTNET_URLS")
                info.Environment.Remove(name);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start.");
        var service = new ChildService(process, baseAddress, dataDir) { KeepData = keepData };
        process.OutputDataReceived += (_, e) => service.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => service.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await service.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), ct);
            return service;
        }
        catch
        {
            service.Dispose();
            throw;
        }
    }

    /// <summary>The last lines the service printed, for a failure report.</summary>
    public string OutputTail()
    {
        lock (_output) return string.Join(Environment.NewLine, _output);
    }

    private void Keep(string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            _output.Enqueue(line);
            while (_output.Count > KeptOutputLines) _output.Dequeue();
        }
    }

    private async Task WaitUntilListeningAsync(TimeSpan limit, CancellationToken ct)
    {
        using var probe = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (_process.HasExited)
                throw new BenchFailure($"The service exited with code {_process.ExitCode} before listening:{Environment.NewLine}{OutputTail()}");
            try
            {
                // Any answer (the gateway's 404 for "/") means Kestrel is accepting requests.
                using var response = await probe.GetAsync(BaseAddress, ct);
                return;
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
            }
            if (Stopwatch.GetTimestamp() > deadline)
                throw new BenchFailure($"The service did not listen on {BaseAddress} within {limit.TotalSeconds:0} s:{Environment.NewLine}{OutputTail()}");
            await Task.Delay(100, ct);
        }
    }

    /// <summary>
    /// Binding port 0 lets the OS pick a free port; releasing it before the service binds leaves a tiny window in which
    /// another program could take it, which the listening check would then report.
    /// </summary>
    internal static int FreeLoopbackPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    public void Dispose()
    {
        AppDomain.CurrentDomain.ProcessExit -= _onExit;
        Kill();
        _process.Dispose();
        if (KeepData) return;
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temporary folder is harmless; the run's result does not depend on it.
        }
    }
}
