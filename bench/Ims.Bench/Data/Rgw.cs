using System.Diagnostics;
using Ims.DataPlane;
using Ims.DataPlane.Store;

namespace Ims.Bench.Data;

/// <summary>
/// The Ceph RADOS Gateway the <c>--rgw</c> rows run against: the one named by <c>IMS_TEST_S3</c>,
/// <c>IMS_TEST_S3_ACCESS_KEY</c> and <c>IMS_TEST_S3_SECRET_KEY</c> (what <c>scripts/rgw.sh env</c> exports), or else a
/// throwaway one this run starts with <c>scripts/rgw.sh start</c> and stops when disposed.
/// </summary>
internal sealed class Rgw : IDisposable
{
    private readonly string? _script;
    private readonly Dictionary<string, string> _scriptEnvironment;

    private Rgw(string endpoint, string accessKey, string secretKey, string? script, Dictionary<string, string> scriptEnvironment)
    {
        Endpoint = endpoint;
        AccessKey = accessKey;
        SecretKey = secretKey;
        _script = script;
        _scriptEnvironment = scriptEnvironment;
    }

    public string Endpoint { get; }
    public string AccessKey { get; }
    public string SecretKey { get; }

    /// <summary>Whether this run started the gateway (and stops it).</summary>
    public bool Started => _script is not null;

    /// <summary>Settings for a bucket of this gateway.</summary>
    public ObjectStoreOptions Bucket(string name) => new() { Endpoint = Endpoint, Bucket = name, AccessKey = AccessKey, SecretKey = SecretKey };

    public static async Task<Rgw> ConnectAsync(string? script, int? portBase, CancellationToken ct)
    {
        var endpoint = Environment.GetEnvironmentVariable("IMS_TEST_S3");
        var access = Environment.GetEnvironmentVariable("IMS_TEST_S3_ACCESS_KEY");
        var secret = Environment.GetEnvironmentVariable("IMS_TEST_S3_SECRET_KEY");
        if (!string.IsNullOrEmpty(endpoint) && !string.IsNullOrEmpty(access) && !string.IsNullOrEmpty(secret))
            return new Rgw(endpoint, access, secret, null, []);

        if (script is null) throw new BenchFailure("--rgw: IMS_TEST_S3* is not set and there is no scripts/rgw.sh to start a gateway with.");
        Dictionary<string, string> environment = [];
        if (portBase is { } port) environment["IMS_RGW_PORT_BASE"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (code, stdout, stderr) = await RunScriptAsync(script, "start", environment, ct);
        var exports = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => line.StartsWith("export ", StringComparison.Ordinal) && line.Contains('=', StringComparison.Ordinal))
            .Select(line => line["export ".Length..].Split('=', 2))
            .ToDictionary(pair => pair[0], pair => pair[1]);
        var started = new Rgw(exports.GetValueOrDefault("IMS_TEST_S3", ""), exports.GetValueOrDefault("IMS_TEST_S3_ACCESS_KEY", ""),
            exports.GetValueOrDefault("IMS_TEST_S3_SECRET_KEY", ""), script, environment);
        if (code != 0 || started.Endpoint.Length == 0 || started.AccessKey.Length == 0 || started.SecretKey.Length == 0)
        {
            started.Dispose();
            throw new BenchFailure($"scripts/rgw.sh start failed ({code}):{Environment.NewLine}{stderr}{stdout}");
        }
        return started;
    }

    /// <summary>The sum of the sizes of every object in a bucket (what a copy of it would move).</summary>
    public long BucketBytes(string bucket)
    {
        using var client = new Bucket(Bucket(bucket));
        return client.List("").Sum(o => o.Size);
    }

    /// <summary>Deletes every object of a bucket (the empty bucket stays; a throwaway gateway goes with it).</summary>
    public void EmptyBucket(string bucket)
    {
        using var client = new Bucket(Bucket(bucket));
        try
        {
            foreach (var item in client.List("").ToList()) client.Delete(item.Key);
        }
        catch (Amazon.Runtime.AmazonServiceException)
        {
            // No such bucket: the tool failed before making it. Nothing to empty.
        }
    }

    private static async Task<(int Code, string Stdout, string Stderr)> RunScriptAsync(string script, string command,
        Dictionary<string, string> environment, CancellationToken ct)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(script);
        info.ArgumentList.Add(command);
        foreach (var (name, value) in environment) info.Environment[name] = value;
        using var process = Process.Start(info) ?? throw new BenchFailure("bash did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        return (process.ExitCode, await stdout, await stderr);
    }

    public void Dispose()
    {
        if (_script is null) return;
        RunScriptAsync(_script, "stop", _scriptEnvironment, CancellationToken.None).GetAwaiter().GetResult();
    }
}
