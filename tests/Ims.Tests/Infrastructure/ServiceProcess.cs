using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Ims.Tests.Infrastructure;

/// <summary>
/// The service as a separate OS process, so a test can kill it the hard way (SIGKILL, no shutdown hooks) and
/// start it again on the same data folder.
/// </summary>
public sealed partial class ServiceProcess : IDisposable
{
    private readonly Process _process;

    private ServiceProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public static async Task<ServiceProcess> StartAsync(string dataDir, params string[] extra)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Ims.Service.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(dll);
        foreach (var arg in TestService.Arguments(dataDir, ["--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information", .. extra]))
            info.ArgumentList.Add(arg);
        var process = Process.Start(info)!;
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line && ListeningLine().Match(line) is { Success: true } m) listening.TrySetResult(new Uri(m.Groups[1].Value));
        };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var started = await Task.WhenAny(listening.Task, Task.Delay(TimeSpan.FromSeconds(60)));
        if (started != listening.Task)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("The service process did not start listening within 60 s.");
        }
        return new ServiceProcess(process, await listening.Task);
    }

    /// <summary>
    /// Runs the service until it exits by itself (a start it refuses) and returns its exit code with everything it
    /// wrote to standard output and error; fails the test if it is still running after 60 s.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> RunUntilExitAsync(string dataDir, params string[] extra)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Ims.Service.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(dll);
        foreach (var arg in TestService.Arguments(dataDir, ["--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information", .. extra]))
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("The service process was expected to refuse to start, but it kept running for 60 s.");
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    public ApiClient Client(TestTenant tenant, AuthMode mode = AuthMode.Token) => new(BaseAddress, tenant, mode);

    /// <summary>SIGKILL: no graceful shutdown, leases are left as they were.</summary>
    public void Kill()
    {
        if (_process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningLine();
}
