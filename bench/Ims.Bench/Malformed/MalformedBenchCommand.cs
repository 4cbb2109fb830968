using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

namespace Ims.Bench.Malformed;

/// <summary>
/// <c>malformed</c>: the service's memory under a flood of malformed requests. Starts the Release build, sends
/// <c>--requests</c> (10,000) requests on <c>--connections</c> (8) connections, cycling through eight kinds (bad JSON,
/// an unpaired surrogate escape, headers past the limit, AK/SK requests with a wrong signature and small or 11 MB bodies,
/// bodies just over the 12 MB cap with and without a Content-Length, unknown paths), samples the service's VmRSS every
/// 50 ms, and prints the RSS at the start, the peak during the run and the RSS after <c>--settle</c> seconds of quiet.
/// </summary>
internal static class MalformedBenchCommand
{
    private const long BodyCap = 12 * 1024 * 1024;

    private const string Usage = """
        usage: Ims.Bench malformed [--requests N] [--connections N] [--settle SECONDS] [--service PATH] [-- SERVICE SETTINGS...]
          --requests N      requests in all (default 10000)
          --connections N   concurrent connections (default 8)
          --settle SECONDS  quiet time after the run before the end RSS is read (default 20)
          --service PATH    the service's Ims.Service.dll (default: its Release build in this repository)
        """;

    private static readonly string[] Kinds =
        ["bad JSON", "surrogate escape", "huge header", "bad signature (1 KB)", "bad signature (11 MB)", "over the cap (Content-Length)",
         "over the cap (chunked)", "unknown path"];

    public static async Task<int> RunAsync(string[] args)
    {
        int requests = 10_000, connections = 8, settle = 20;
        string? dll = null;
        var settings = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--requests": requests = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--connections": connections = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--settle": settle = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--service": dll = args[++i]; break;
                case "--": settings.AddRange(args[(i + 1)..]); i = args.Length; break;
                default:
                    Console.Error.WriteLine($"unknown argument {args[i]}");
                    Console.Error.WriteLine(Usage);
                    return 2;
            }
        }

        using var stop = Interrupt.OnCtrlC();
        dll ??= BenchCommand.LocateServiceBuild();
        Console.WriteLine("IMS malformed-request memory benchmark");
        Console.WriteLine($"machine:  {Machine.Describe()}");
        Console.WriteLine($"commit:   {Machine.SourceRevision()}");
        Console.WriteLine($"load average at start: {Machine.LoadAverage()}");
        Console.WriteLine($"service:  {dll} {string.Join(" ", settings)}");
        // The idle trim logs at Debug; the report shows whether and when it ran, so an end figure can be explained.
        settings.Insert(0, "--Logging:LogLevel:Ims.Service.Hosting.IdleMemoryTrim=Debug");
        using var service = await ChildService.StartAsync(dll, settings, keepData: false, stop.Token);
        Console.WriteLine($"service process: {service.ProcessId}");

        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = connections })
        {
            BaseAddress = service.BaseAddress,
            Timeout = TimeSpan.FromMinutes(2),
        };
        var token = await TokenAsync(http, stop.Token);
        // One warm-up request of each kind, so that the start figure includes what any first request loads.
        for (var kind = 0; kind < Kinds.Length; kind++) await SendAsync(http, kind, token, stop.Token);
        await Task.Delay(TimeSpan.FromSeconds(2), stop.Token);

        var start = Rss(service.ProcessId);
        long peak = start;
        using var sampling = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, Rss(service.ProcessId));
                try
                {
                    await Task.Delay(50, sampling.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }, CancellationToken.None);

        var statuses = new Dictionary<string, int>(StringComparer.Ordinal);
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => Task.Run(async () =>
        {
            int n;
            while ((n = Interlocked.Increment(ref next)) < requests)
            {
                var outcome = await SendAsync(http, n % Kinds.Length, token, stop.Token);
                lock (statuses) statuses[$"{Kinds[n % Kinds.Length]}: {outcome}"] = statuses.GetValueOrDefault($"{Kinds[n % Kinds.Length]}: {outcome}") + 1;
            }
        }, stop.Token)));
        var elapsed = clock.Elapsed;
        var afterRun = Rss(service.ProcessId);
        await Task.Delay(TimeSpan.FromSeconds(settle), stop.Token);
        await sampling.CancelAsync();
        await sampler;
        var end = Rss(service.ProcessId);

        Console.WriteLine($"{requests} requests on {connections} connections in {elapsed.TotalSeconds:0.0} s");
        foreach (var (what, count) in statuses.OrderBy(s => s.Key, StringComparer.Ordinal)) Console.WriteLine($"  {what,-48} {count,6}");
        Console.WriteLine($"RSS start {Mb(start)} MB, peak {Mb(peak)} MB, at the end of the run {Mb(afterRun)} MB, after {settle} s quiet {Mb(end)} MB");
        var trims = service.OutputTail().Split('\n').Where(line => line.Contains("memory trimmed", StringComparison.Ordinal)).ToList();
        Console.WriteLine(trims.Count == 0 ? "idle trim: did not run" : $"idle trim: {string.Join("; ", trims.Select(t => t.Trim()))}");
        return 0;
    }

    private static async Task<string> TokenAsync(HttpClient http, CancellationToken ct)
    {
        const string body = """
            {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "password": "ims-local-password",
             "domain": {"name": "local"}}}}, "scope": {"project": {"name": "cn-north-4"}}}}
            """;
        using var response = await http.PostAsync("/v3/auth/tokens", new StringContent(body, Encoding.UTF8, "application/json"), ct);
        if (!response.IsSuccessStatusCode) throw new BenchFailure($"No token: {(int)response.StatusCode}");
        return response.Headers.GetValues("X-Subject-Token").First();
    }

    /// <summary>Sends one request of the kind; answers its status, or the client-side error when the connection broke.</summary>
    private static async Task<string> SendAsync(HttpClient http, int kind, string token, CancellationToken ct)
    {
        using var request = Build(kind, token);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
            return ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
        }
        catch (HttpRequestException ex)
        {
            return ex.HttpRequestError.ToString();
        }
    }

    private static HttpRequestMessage Build(int kind, string token)
    {
        const string project = "0b1e494e2660441a957313163095fe5c";
        HttpRequestMessage request;
        switch (kind)
        {
            case 0:
                request = new HttpRequestMessage(HttpMethod.Post, "/v1/cloudimages/wholeimages/action")
                {
                    Content = new StringContent("""{"name": "img", "instance_id": [1, 2""", Encoding.UTF8, "application/json"),
                };
                break;
            case 1:
                request = new HttpRequestMessage(HttpMethod.Patch, $"/v2/cloudimages/{Guid.NewGuid()}")
                {
                    Content = new StringContent("""[{"op":"replace","path":"/name","value":"\ud800"}]""", Encoding.UTF8, "application/json"),
                };
                break;
            case 2:
                request = new HttpRequestMessage(HttpMethod.Get, "/v2/cloudimages");
                request.Headers.TryAddWithoutValidation("X-Padding", new string('a', 64 * 1024));
                break;
            case 3 or 4:
                request = new HttpRequestMessage(HttpMethod.Post, $"/v1/{project}/cloudservers")
                {
                    Content = Body(kind == 3 ? 1024 : 11 * 1024 * 1024),
                };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                request.Headers.TryAddWithoutValidation("X-Sdk-Date", DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture));
                request.Headers.TryAddWithoutValidation("X-Project-Id", project);
                request.Headers.TryAddWithoutValidation("Authorization",
                    "SDK-HMAC-SHA256 Access=IMSLOCALACCESSKEY000, SignedHeaders=content-type;host;x-sdk-date, Signature=" + new string('0', 64));
                return request;
            case 5:
                request = new HttpRequestMessage(HttpMethod.Post, "/v2/images") { Content = Body((int)BodyCap + 1) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                break;
            case 6:
                request = new HttpRequestMessage(HttpMethod.Post, "/v2/images") { Content = new ChunkedContent(BodyCap + 1) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                break;
            default:
                request = new HttpRequestMessage(HttpMethod.Get, $"/{Guid.NewGuid():N}/{Guid.NewGuid():N}?x=%ZZ");
                break;
        }
        request.Headers.TryAddWithoutValidation("X-Auth-Token", token);
        return request;
    }

    private static readonly byte[] Big = MakeFiller();

    private static byte[] MakeFiller()
    {
        var bytes = new byte[BodyCap + 1];
        Array.Fill(bytes, (byte)'[');
        return bytes;
    }

    /// <summary>A body of the shared bytes (the client allocates nothing per request beyond its send buffers).</summary>
    private static ByteArrayContent Body(int length) => new(Big, 0, length);

    /// <summary>A body of a given length sent without a Content-Length (chunked), from one shared buffer.</summary>
    private sealed class ChunkedContent(long length) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            for (long sent = 0; sent < length;)
            {
                var n = (int)Math.Min(64 * 1024, length - sent);
                await stream.WriteAsync(Big.AsMemory(0, n));
                sent += n;
            }
        }

        protected override bool TryComputeLength(out long computed)
        {
            computed = 0;
            return false;
        }
    }

    private static long Rss(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (IOException)
        {
        }
        return 0;
    }

    private static string Mb(long bytes) => (bytes / 1e6).ToString("0", CultureInfo.InvariantCulture);
}
