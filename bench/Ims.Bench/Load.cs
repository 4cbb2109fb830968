using System.Diagnostics;
using System.Net;

namespace Ims.Bench;

/// <summary>What one measured phase did: every completed request's latency, its errors and its wall time.</summary>
internal sealed class PhaseResult(string name, double[] latenciesMs, int errors, TimeSpan elapsed, bool hitLimit,
    TimeSpan serviceCpu, TimeSpan clientCpu, TimeSpan? machineCpu, TimeSpan? databaseCpu = null)
{
    private readonly double[] _sorted = [.. latenciesMs.Order()];

    public string Name { get; } = name;
    public int Requests => _sorted.Length;
    public int Errors { get; } = errors;
    public TimeSpan Elapsed { get; } = elapsed;
    public bool HitLimit { get; } = hitLimit;
    public double Throughput => Requests / Elapsed.TotalSeconds;
    public double P50 => Percentile(0.50);
    public double P99 => Percentile(0.99);

    /// <summary>
    /// CPU time per request of the service and of this client. Other work on the machine changes wall-clock figures far
    /// more than it changes these, so they tell whether a change made the service cheaper.
    /// </summary>
    public double ServiceCpuUs => serviceCpu.TotalMicroseconds / Math.Max(1, Requests);
    public double ClientCpuUs => clientCpu.TotalMicroseconds / Math.Max(1, Requests);

    /// <summary>CPU time per request of the database server (PostgreSQL's processes), when the phase measured one.</summary>
    public double? DatabaseCpuUs => databaseCpu?.TotalMicroseconds / Math.Max(1, Requests);

    /// <summary>Share of all cores that other programs used during the phase; high values make the figures worse.</summary>
    public double? OthersShare => machineCpu is { } machine
        ? Math.Max(0, (machine - serviceCpu - clientCpu - (databaseCpu ?? TimeSpan.Zero)).TotalSeconds) / MachineSeconds
        : null;

    /// <summary>The shares of all cores the service, the database and this client used during the phase.</summary>
    public double ServiceShare => serviceCpu.TotalSeconds / MachineSeconds;
    public double ClientShare => clientCpu.TotalSeconds / MachineSeconds;
    public double? DatabaseShare => databaseCpu?.TotalSeconds / MachineSeconds;

    private double MachineSeconds => Elapsed.TotalSeconds * Environment.ProcessorCount;

    /// <summary>Nearest-rank percentile over all recorded samples (no histogram buckets, no interpolation).</summary>
    public double Percentile(double q) =>
        _sorted.Length == 0 ? double.NaN : _sorted[Math.Clamp((int)Math.Ceiling(q * _sorted.Length) - 1, 0, _sorted.Length - 1)];
}

/// <summary>
/// Closed-loop load: N workers, each with one request in flight, take request numbers from a shared counter until the
/// count is reached or the time limit passes. Latency is taken around the whole exchange, body included.
/// </summary>
internal static class Load
{
    /// <summary>One request; <c>index</c> is its number in the phase, <c>buffer</c> the worker's scratch space for bodies.</summary>
    public delegate ValueTask<bool> Request(int index, byte[] buffer, CancellationToken ct);

    /// <summary>A measured phase; <c>databaseCpu</c>, when given, is the database server's CPU time so far (PostgreSQL's processes).</summary>
    public static async Task<PhaseResult> RunAsync(string name, int workers, int requests, TimeSpan limit, Request send,
        Func<TimeSpan> serviceCpu, CancellationToken ct, Func<TimeSpan>? databaseCpu = null)
    {
        var ticks = new long[requests];
        Array.Fill(ticks, -1L);
        var next = -1;
        var errors = 0;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(limit);

        using var self = Process.GetCurrentProcess();
        var serviceCpuBefore = serviceCpu();
        var databaseCpuBefore = databaseCpu?.Invoke();
        var clientCpuBefore = self.TotalProcessorTime;
        var machineBefore = Machine.UserProcessesBusyTime();
        var started = Stopwatch.GetTimestamp();
        var tasks = Enumerable.Range(0, Math.Min(workers, requests)).Select(_ => Task.Run(async () =>
        {
            var buffer = new byte[64 * 1024];
            while (!deadline.IsCancellationRequested)
            {
                var index = Interlocked.Increment(ref next);
                if (index >= requests) return;
                var t0 = Stopwatch.GetTimestamp();
                bool ok;
                try
                {
                    ok = await send(index, buffer, deadline.Token);
                }
                catch (OperationCanceledException) when (deadline.IsCancellationRequested)
                {
                    return;
                }
                catch (HttpRequestException)
                {
                    ok = false;
                }
                ticks[index] = Stopwatch.GetTimestamp() - t0;
                if (!ok) Interlocked.Increment(ref errors);
            }
        }, CancellationToken.None)).ToArray();
        await Task.WhenAll(tasks);
        var elapsed = Stopwatch.GetElapsedTime(started);
        self.Refresh();
        var clientCpuUsed = self.TotalProcessorTime - clientCpuBefore;
        var serviceCpuUsed = serviceCpu() - serviceCpuBefore;
        var databaseCpuUsed = databaseCpu?.Invoke() - databaseCpuBefore;
        var machineUsed = Machine.UserProcessesBusyTime() - machineBefore;
        ct.ThrowIfCancellationRequested();

        var latencies = ticks.Where(t => t >= 0).Select(t => t * 1000.0 / Stopwatch.Frequency).ToArray();
        return new PhaseResult(name, latencies, errors, elapsed, hitLimit: latencies.Length < requests,
            serviceCpuUsed, clientCpuUsed, machineUsed, databaseCpuUsed);
    }

    /// <summary>
    /// Unmeasured load for a while, so that the JIT has compiled the hot paths at their final tier and pools are full
    /// before anything is recorded. A fixed time suits every phase, fast or slow, where a count would not.
    /// </summary>
    public static async Task WarmUpAsync(int workers, TimeSpan duration, Request send, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(duration);
        var tasks = Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            var buffer = new byte[64 * 1024];
            for (var index = 0; !deadline.IsCancellationRequested; index++)
            {
                try
                {
                    await send(index, buffer, deadline.Token);
                }
                catch (OperationCanceledException) when (deadline.IsCancellationRequested)
                {
                    return;
                }
                catch (HttpRequestException)
                {
                }
            }
        }, CancellationToken.None)).ToArray();
        await Task.WhenAll(tasks);
        ct.ThrowIfCancellationRequested();
    }

    /// <summary>The load generator's client: keep-alive connections, one per worker, and nothing it does not need.</summary>
    public static HttpClient Client(Uri baseAddress, string token, int connections)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            MaxConnectionsPerServer = connections,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            // No trace headers: they would cost both sides work that no real client of this service sends.
            ActivityHeadersPropagator = null,
        };
        var client = new HttpClient(handler)
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(30),
            DefaultRequestVersion = HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        client.DefaultRequestHeaders.TryAddWithoutValidation("X-Auth-Token", token);
        return client;
    }

    /// <summary>A GET whose body is read to the end into the worker's buffer; true when the answer is 200.</summary>
    public static async ValueTask<bool> GetAsync(HttpClient client, Uri uri, byte[] buffer, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        while (await body.ReadAsync(buffer, ct) > 0)
        {
        }
        return response.StatusCode == HttpStatusCode.OK;
    }
}
