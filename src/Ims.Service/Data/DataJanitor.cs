using Dapper;
using Ims.DataPlane;
using Ims.Service.Backups;
using Ims.Service.Evs;
using Ims.Service.Ims;
using Ims.Service.Jobs;
using Ims.Service.Nodes;
using Ims.Service.Storage;
using Microsoft.Extensions.Options;
using DataPlaneStore = Ims.DataPlane.DataPlane;

namespace Ims.Service.Data;

/// <summary>What one pass of the janitor did.</summary>
public sealed record JanitorReport(long VolumeFilesDeleted, CollectionReport Collection);

/// <summary>
/// Frees disk space after deletions: removes the files of deleted volumes and collects the chunks and manifests no
/// record names any more. Deletions only leave durable marks in their own transaction (<see cref="DoomVolumeFilesAsync"/>,
/// <see cref="RequestCollectionAsync"/>), so the work survives a crash between the commit and the cleanup; this
/// service picks the marks up, and <c>POST /admin/v1/data/gc</c> runs a pass at once.
/// </summary>
public sealed partial class DataJanitor(Database db, DataPlaneStore store, TimeProvider time, IOptions<JobOptions> options,
    IOptions<NodeOptions> node, ILogger<DataJanitor> logger) : BackgroundService
{
    private static readonly TimeSpan RetryAfterFailure = TimeSpan.FromSeconds(5);

    // Collections and volume removals never overlap: one pass at a time, whoever asks.
    private readonly SemaphoreSlim _onePass = new(1, 1);

    /// <summary>Asks for a collection, durably, in the caller's transaction.</summary>
    public static Task RequestCollectionAsync(WriteScope write, CancellationToken ct) =>
        write.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO data_gc_pending (id, generation) VALUES (1, 1)
            ON CONFLICT (id) DO UPDATE SET generation = data_gc_pending.generation + 1
            """, transaction: write.Transaction, cancellationToken: ct));

    /// <summary>
    /// Marks the files of volumes the caller's transaction deletes for removal (and asks for a collection: their
    /// restores' manifests may have been the last users of some chunks).
    /// </summary>
    public static async Task DoomVolumeFilesAsync(WriteScope write, IReadOnlyCollection<string> volumeIds, long nowMs, CancellationToken ct)
    {
        if (volumeIds.Count == 0) return;
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO volume_files_doomed (volume_id, doomed_at, node)
            VALUES (@id, @nowMs, (SELECT node FROM volumes WHERE id = @id))
            ON CONFLICT (volume_id) DO NOTHING
            """,
            volumeIds.Select(id => new { id, nowMs }), write.Transaction, cancellationToken: ct));
        await RequestCollectionAsync(write, ct);
    }

    /// <summary>Every manifest a record still names: the chunks they hold are kept.</summary>
    public async Task<IReadOnlyCollection<string>> LiveManifestsAsync(CancellationToken ct)
    {
        // One statement, so the three owners' manifests are read at one instant; each store gives its part.
        await using var connection = await db.OpenAsync(ct);
        return (await connection.QueryAsync<string>(new CommandDefinition(
            $"{BackupStore.LiveManifestsSql} UNION {ImageStore.LiveManifestsSql} UNION {VolumeStore.LiveManifestsSql}",
            cancellationToken: ct))).AsList();
    }

    /// <summary>Removes the files of deleted volumes, then collects garbage. Safe to run at any time.</summary>
    public async Task<JanitorReport> RunPassAsync(CancellationToken ct)
    {
        await _onePass.WaitAsync(ct);
        try
        {
            List<string> doomed;
            await using (var connection = await db.OpenAsync(ct))
            {
                // A file on another node's disk is that node's to remove.
                doomed = (await connection.QueryAsync<string>(new CommandDefinition(
                    "SELECT volume_id FROM volume_files_doomed WHERE node IS NULL OR node = @node ORDER BY doomed_at",
                    new { node = node.Value.Name }, cancellationToken: ct))).AsList();
            }
            foreach (var volumeId in doomed) await store.DeleteVolumeAsync(volumeId, ct);
            if (doomed.Count > 0)
            {
                await using var write = await db.BeginWriteAsync(ct);
                await write.Connection.ExecuteAsync(new CommandDefinition(
                    "DELETE FROM volume_files_doomed WHERE volume_id IN @doomed", new { doomed }, write.Transaction, cancellationToken: ct));
                await write.CommitAsync(ct);
            }
            var collection = await store.CollectGarbageAsync(LiveManifestsAsync, ct);
            return new JanitorReport(doomed.Count, collection);
        }
        finally
        {
            _onePass.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // An API-only node leaves the cleanup to the nodes that run jobs, as it leaves them the jobs.
        if (options.Value.Workers <= 0) return;
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            var pause = options.Value.PollInterval;
            try
            {
                var generation = await PendingGenerationAsync(stoppingToken);
                // Files doomed on this node's disk wait for this node, whichever node served the collection's request.
                if (generation is not null || await HasDoomedFilesHereAsync(stoppingToken))
                {
                    var report = await RunPassAsync(stoppingToken);
                    if (generation is not null) await ClearAsync(generation.Value, stoppingToken);
                    Log.Collected(logger, report.VolumeFilesDeleted, report.Collection.ChunksDeleted, report.Collection.BytesFreed);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.PassFailed(logger, ex);
                pause = RetryAfterFailure;
            }
            try
            {
                await Task.Delay(pause, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task<long?> PendingGenerationAsync(CancellationToken ct)
    {
        await using var connection = await db.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<long?>(new CommandDefinition(
            "SELECT generation FROM data_gc_pending WHERE id = 1", cancellationToken: ct));
    }

    private async Task<bool> HasDoomedFilesHereAsync(CancellationToken ct)
    {
        await using var connection = await db.OpenAsync(ct);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM volume_files_doomed WHERE node = @node", new { node = node.Value.Name }, cancellationToken: ct)) > 0;
    }

    /// <summary>Clears the request the pass served; a newer one (made while it ran) stays for the next pass.</summary>
    private async Task ClearAsync(long generation, CancellationToken ct)
    {
        await using var write = await db.BeginWriteAsync(ct);
        await write.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM data_gc_pending WHERE id = 1 AND generation = @generation", new { generation }, write.Transaction,
            cancellationToken: ct));
        await write.CommitAsync(ct);
    }

    private static partial class Log
    {
        [LoggerMessage(5001, LogLevel.Information, "Data janitor: {Volumes} volume files removed, {Chunks} chunks ({Bytes} bytes) freed")]
        public static partial void Collected(ILogger logger, long volumes, long chunks, long bytes);

        [LoggerMessage(5002, LogLevel.Error, "Data janitor pass failed; it is retried")]
        public static partial void PassFailed(ILogger logger, Exception ex);
    }
}
