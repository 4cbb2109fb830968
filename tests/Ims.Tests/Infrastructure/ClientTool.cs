using System.Diagnostics;

namespace Ims.Tests.Infrastructure;

/// <summary>
/// Runs a real client program (openstack, glance, s3cmd, aws, ...) as a child process with its own HOME and none of the
/// caller's settings that start with <c>clearedPrefix</c>, so nothing from the machine's own configuration leaks in.
/// </summary>
public static class ClientTool
{
    public static async Task<(int ExitCode, string Output, string Errors)> ExecAsync(string home, string program, IEnumerable<string> args,
        string clearedPrefix, IReadOnlyDictionary<string, string>? environment, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = home,
        };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith(clearedPrefix, StringComparison.Ordinal)).ToList()) info.Environment.Remove(name);
        info.Environment["HOME"] = home;
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) info.Environment[name] = value;
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Fail($"{program} is not installed: run scripts/install-tools.sh.");
            throw;
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            using var deadline = new CancellationTokenSource(timeout);
            try
            {
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"{program} {string.Join(' ', info.ArgumentList)} did not finish within {timeout.TotalMinutes:0} minutes.");
            }
            return (process.ExitCode, await output, await errors);
        }
    }
}
