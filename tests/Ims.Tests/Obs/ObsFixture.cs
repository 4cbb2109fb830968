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

    /// <summary>Writes an s3cmd configuration for <paramref name="tenant"/> against this bucket API into <paramref name="home"/>.</summary>
    public string S3cmdConfig(string home, TestTenant tenant) =>
        WriteS3cmdConfig(home, $"s3cfg-{tenant.UserName}", tenant.AccessKey, tenant.SecretKey, $"127.0.0.1:{Port}", "cn-north-4");

    /// <summary>An s3cmd configuration file (path-style host, plain HTTP, one retry); its path.</summary>
    public static string WriteS3cmdConfig(string home, string fileName, string accessKey, string secretKey, string authority, string? location)
    {
        var path = Path.Combine(home, fileName);
        File.WriteAllText(path, $"""
            [default]
            access_key = {accessKey}
            secret_key = {secretKey}
            host_base = {authority}
            host_bucket = {authority}
            {(location is null ? "" : $"bucket_location = {location}")}
            use_https = False
            max_retries = 1
            """);
        return path;
    }

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
