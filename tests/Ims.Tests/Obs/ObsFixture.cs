using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Obs;

/// <summary>A service with its bucket API listening on a free loopback port of its own.</summary>
public sealed class ObsFixture : IAsyncLifetime
{
    public TestService Service { get; private set; } = null!;
    public int Port { get; private set; }
    public string Endpoint => $"http://127.0.0.1:{Port}";

    public async Task InitializeAsync()
    {
        Port = FreePort();
        Service = await TestService.StartAsync(null, null, $"--Ims:Obs:Urls={Endpoint}");
    }

    public async Task DisposeAsync() => await Service.DisposeAsync();

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The AWS SDK's S3 client for <paramref name="tenant"/> (path-style, SigV4), as an application would use it.</summary>
    public AmazonS3Client S3(TestTenant tenant) => new(new BasicAWSCredentials(tenant.AccessKey, tenant.SecretKey),
        new AmazonS3Config { ServiceURL = Endpoint, ForcePathStyle = true, AuthenticationRegion = "cn-north-4", MaxErrorRetry = 0 });

    public static string NewBucketName() => "b-" + Guid.NewGuid().ToString("N")[..20];
}

/// <summary>Runs a command-line S3 client with a clean HOME and the given environment; fails the test on a non-zero exit.</summary>
public static class Cli
{
    public static async Task<string> RunAsync(string home, string program, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null,
        bool expectSuccess = true)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = home,
        };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("AWS_", StringComparison.Ordinal)).ToList()) info.Environment.Remove(name);
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
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            try
            {
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"{program} {string.Join(' ', args)} did not finish within 3 minutes.");
            }
            var text = await output;
            if (expectSuccess) Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)} exited {process.ExitCode}:\n{text}\n{await errors}");
            else Assert.True(process.ExitCode != 0, $"{program} {string.Join(' ', args)} succeeded:\n{text}");
            return text + await errors;
        }
    }
}
