using Ims.Service.Storage;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Ims.Service.Nodes;

/// <summary>
/// Registers this node in the <c>nodes</c> table once it listens (its <see cref="NodeOptions.Url"/>, or the first
/// address it listens on) and renews the heartbeat every third of <see cref="NodeOptions.Lease"/>. A node whose heartbeat
/// is older than one lease counts as down: requests for its volumes are answered 503 instead of forwarded.
/// </summary>
public sealed partial class NodeHeartbeat(Database db, NodeStore nodes, IServer server, IHostApplicationLifetime lifetime,
    TimeProvider time, IOptions<NodeOptions> options, ILogger<NodeHeartbeat> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stoppingToken.Register(() => started.TrySetCanceled(stoppingToken)))
        {
            try
            {
                await started.Task;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
        var node = options.Value;
        var url = node.Url ?? ListeningUrl();
        if (url is null) return; // not listening (a host without a server): nobody can forward here
        var startedAt = time.GetUtcNow().ToUnixTimeMilliseconds();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var tx = await db.BeginWriteAsync(stoppingToken);
                await nodes.UpsertAsync(tx, node.Name, url, startedAt, time.GetUtcNow().ToUnixTimeMilliseconds(), stoppingToken);
                await tx.CommitAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.HeartbeatFailed(logger, ex);
            }
            try
            {
                await Task.Delay(node.Lease / 3, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private string? ListeningUrl()
    {
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        if (address is null) return null;
        // A wildcard address is reachable at this machine's name.
        return address.Replace("://[::]", $"://{Environment.MachineName}", StringComparison.Ordinal)
            .Replace("://0.0.0.0", $"://{Environment.MachineName}", StringComparison.Ordinal)
            .Replace("://+", $"://{Environment.MachineName}", StringComparison.Ordinal)
            .Replace("://*", $"://{Environment.MachineName}", StringComparison.Ordinal);
    }

    private static partial class Log
    {
        [LoggerMessage(5201, LogLevel.Warning, "Node heartbeat failed; retried at the next beat")]
        public static partial void HeartbeatFailed(ILogger logger, Exception ex);
    }
}
