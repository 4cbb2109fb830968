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

    public Task InitializeAsync() => StartAsync();

    /// <summary>Starts the service with <paramref name="extra"/> settings besides the bucket API's listener.</summary>
    public async Task StartAsync(params string[] extra)
    {
        Port = FreePort();
        Service = await TestService.StartAsync(null, null, [$"--Ims:Obs:Urls={Endpoint}", .. extra]);
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
        var (exitCode, text, errors) = await ClientTool.ExecAsync(home, program, args, "AWS_", environment, TimeSpan.FromMinutes(3));
        if (expectSuccess) Assert.True(exitCode == 0, $"{program} {string.Join(' ', args)} exited {exitCode}:\n{text}\n{errors}");
        else Assert.True(exitCode != 0, $"{program} {string.Join(' ', args)} succeeded:\n{text}");
        return text + errors;
    }
}
