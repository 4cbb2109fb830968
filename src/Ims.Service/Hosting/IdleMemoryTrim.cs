namespace Ims.Service.Hosting;

/// <summary>
/// Gives memory back after a burst. The garbage collector runs only when the program allocates, so after a flood of
/// requests (10,000 malformed ones left the service 100-150 MB above its start) the heap it grew to stays committed
/// for as long as the service is idle, which for this service is most of the time. Every few seconds this looks at how
/// much was allocated and how the process grew: when a burst (at least <see cref="BurstBytes"/> allocated since the last
/// trim, or the process grown by <see cref="GrowthBytes"/> since then: request bodies come from pools, so a flood can grow
/// the heap while allocating little) is followed by a quiet interval (no connection or request, and under
/// <see cref="QuietBytes"/> allocated, so that a running job is not interrupted), it runs one aggressive collection, which
/// compacts the heap and returns its free memory to the system. It never runs under load and costs a few milliseconds
/// when it does run. Quiet used to mean little allocation alone, and a flood of refused requests, which allocates under
/// 1 MB a second, looked quiet: the trim ran in the middle of it and not after it.
/// </summary>
public sealed partial class IdleMemoryTrim(TimeProvider time, TrafficCounter traffic, ILogger<IdleMemoryTrim> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    private const long BurstBytes = 256L * 1024 * 1024;
    private const long QuietBytes = 4L * 1024 * 1024;
    private const long GrowthBytes = 128L * 1024 * 1024;

    /// <summary>
    /// Whether to trim now: the last interval was quiet (no connection or request, little allocation) and a burst came
    /// before it (much allocated, or the process grown, since the last trim).
    /// </summary>
    internal static bool ShouldTrim(long allocatedInInterval, bool trafficInInterval, long allocatedSinceTrim, long growthSinceTrim) =>
        !trafficInInterval && allocatedInInterval < QuietBytes && (allocatedSinceTrim >= BurstBytes || growthSinceTrim >= GrowthBytes);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var atLastTrim = GC.GetTotalAllocatedBytes();
        var atLastLook = atLastTrim;
        var trafficAtLastLook = traffic.Seen;
        var sizeAfterTrim = Environment.WorkingSet;
        try
        {
            while (true)
            {
                await Task.Delay(Interval, time, stoppingToken);
                var now = GC.GetTotalAllocatedBytes();
                var trafficNow = traffic.Seen;
                var trim = ShouldTrim(now - atLastLook, trafficNow != trafficAtLastLook, now - atLastTrim,
                    Environment.WorkingSet - sizeAfterTrim);
                atLastLook = now;
                trafficAtLastLook = trafficNow;
                if (!trim) continue;
                var before = Environment.WorkingSet;
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                atLastTrim = atLastLook = GC.GetTotalAllocatedBytes();
                sizeAfterTrim = Environment.WorkingSet;
                Log.Trimmed(logger, before / 1_000_000, sizeAfterTrim / 1_000_000);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(9201, LogLevel.Debug, "Idle after a burst: memory trimmed from {BeforeMb} MB to {AfterMb} MB")]
        public static partial void Trimmed(ILogger logger, long beforeMb, long afterMb);
    }
}
