using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Ims.DataPlane;
using Ims.Service.Storage;

namespace Ims.Service.Data;

/// <summary>
/// The data plane's coordination kept in the database, shared by every node using one chunk store: holds with their
/// pins, the deletion epoch, the writers' exclusion and the collection's turn (<see cref="DataCoordinationStore"/>).
/// Every hold and the turn carry an expiry this process renews every third of <c>lease</c>; a node that stops (crash,
/// kill, lost network) stops renewing, and after one lease its pins, writers and turn count for nothing, so collection
/// goes on without it. The pins, the epoch check, a writer's entry and a turn's start take one lock, so their order is
/// the same on every node.
/// </summary>
public sealed partial class DatabaseCoordination : IDataPlaneCoordination, IDisposable
{
    /// <summary>How often a writer waits for a collection to end, or a collection for writers or another collection.</summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    private readonly Database db;
    private readonly DataCoordinationStore store;
    private readonly TimeProvider time;
    private readonly TimeSpan lease;
    private readonly ILogger logger;
    private readonly ITimer renewal;
    private readonly SemaphoreSlim oneCollection = new(1, 1);
    private readonly ConcurrentDictionary<string, byte> holds = new(StringComparer.Ordinal);
    private volatile string? runningCollection;

    // Each process gets its own owner tag under the node's name, so a restarted node never renews its predecessor's holds.
    public DatabaseCoordination(Database db, TimeProvider time, string node, TimeSpan lease, ILogger logger)
    {
        this.db = db;
        store = new DataCoordinationStore(db);
        this.time = time;
        this.lease = lease;
        this.logger = logger;
        Node = node;
        Owner = $"{node}/{Guid.NewGuid():N}";
        var every = lease / 3;
        renewal = time.CreateTimer(_ => _ = RenewAsync(), null, every, every);
    }

    /// <summary>This process's tag on its holds: the node's name and an id of the process.</summary>
    public string Owner { get; }

    public bool SpansProcesses => true;

    public string Node { get; }

    private long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    private long ExpiresMs => NowMs + (long)lease.TotalMilliseconds;

    public Task<DataPlaneHold> BeginOperationAsync(CancellationToken ct) => BeginAsync(DataCoordinationStore.OperationKind, [], ct);

    public Task<DataPlaneHold> BeginLeaseAsync(IReadOnlyCollection<string> manifestIds, CancellationToken ct) =>
        BeginAsync(DataCoordinationStore.LeaseKind, manifestIds, ct);

    private async Task<DataPlaneHold> BeginAsync(string kind, IReadOnlyCollection<string> manifestIds, CancellationToken ct)
    {
        var hold = new DataPlaneHold(Guid.NewGuid().ToString("N"), time.GetUtcNow());
        holds[hold.Id] = 0;
        try
        {
            await using var tx = await db.BeginWriteAsync(ct);
            await store.InsertHoldAsync(tx, hold.Id, Owner, kind, hold.Started.ToUnixTimeMilliseconds(), ExpiresMs, ct);
            if (manifestIds.Count > 0) await store.InsertPinsAsync(tx, hold.Id, manifestIds, ct);
            await tx.CommitAsync(ct);
            return hold;
        }
        catch
        {
            holds.TryRemove(hold.Id, out _);
            throw;
        }
    }

    public async Task<long?> PinAsync(DataPlaneHold hold, IReadOnlyCollection<string> manifestIds, bool observeEpoch, CancellationToken ct)
    {
        if (manifestIds.Count == 0 && !observeEpoch) return null;
        await using var tx = await db.BeginWriteAsync(ct);
        if (observeEpoch) await tx.LockAsync(DataCoordinationStore.LockKey, ct);
        if (manifestIds.Count > 0) await store.InsertPinsAsync(tx, hold.Id, manifestIds, ct);
        long? epoch = null;
        if (observeEpoch)
        {
            var row = await store.ReadAsync(tx, ct);
            if (!row.CollectionRunning(NowMs))
            {
                epoch = row.DeletionEpoch;
                if (epoch == 0)
                {
                    // First use: a token no base recorded before (under the folder's own epoch file) can match.
                    epoch = NewToken(0);
                    await store.SetDeletionEpochAsync(tx, epoch.Value, ct);
                }
            }
        }
        await tx.CommitAsync(ct);
        return epoch;
    }

    public void End(DataPlaneHold hold)
    {
        if (!holds.TryRemove(hold.Id, out _)) return;
        try
        {
            // Synchronous (a lease ends in Dispose): a collection right after must not see the pins any more.
            Task.Run(async () =>
            {
                await using var tx = await db.BeginWriteAsync(CancellationToken.None);
                await store.DeleteHoldAsync(tx, hold.Id, CancellationToken.None);
                await tx.CommitAsync(CancellationToken.None);
            }).GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            // No longer renewed: it lapses after one lease.
            Log.EndFailed(logger, e, hold.Id);
        }
    }

    public void AdvanceDeletionEpoch() =>
        Task.Run(async () =>
        {
            await using var tx = await db.BeginWriteAsync(CancellationToken.None);
            await tx.LockAsync(DataCoordinationStore.LockKey, CancellationToken.None);
            var row = await store.ReadAsync(tx, CancellationToken.None);
            await store.SetDeletionEpochAsync(tx, NewToken(row.DeletionEpoch), CancellationToken.None);
            await tx.CommitAsync(CancellationToken.None);
        }).GetAwaiter().GetResult();

    public async Task<IDisposable> EnterWriterAsync(CancellationToken ct)
    {
        while (true)
        {
            var hold = new DataPlaneHold(Guid.NewGuid().ToString("N"), time.GetUtcNow());
            holds[hold.Id] = 0;
            var entered = false;
            try
            {
                await using var tx = await db.BeginWriteAsync(ct);
                await tx.LockAsync(DataCoordinationStore.LockKey, ct);
                if (!(await store.ReadAsync(tx, ct)).CollectionRunning(NowMs))
                {
                    await store.InsertHoldAsync(tx, hold.Id, Owner, DataCoordinationStore.WriterKind,
                        hold.Started.ToUnixTimeMilliseconds(), ExpiresMs, ct);
                    await tx.CommitAsync(ct);
                    entered = true;
                    return new Ending(() => End(hold));
                }
            }
            finally
            {
                if (!entered) holds.TryRemove(hold.Id, out _);
            }
            await Task.Delay(PollInterval, ct);
        }
    }

    public async Task<ICollectionTurn> BeginCollectionAsync(bool excludeWriters, CancellationToken ct)
    {
        await oneCollection.WaitAsync(ct);
        var collectionId = Guid.NewGuid().ToString("N");
        try
        {
            while (true)
            {
                await using var tx = await db.BeginWriteAsync(ct);
                await tx.LockAsync(DataCoordinationStore.LockKey, ct);
                var now = NowMs;
                var taken = await store.TryTakeCollectionAsync(tx, collectionId, Owner, now, ExpiresMs, ct);
                if (taken) await store.DeleteLapsedAsync(tx, now, ct);
                await tx.CommitAsync(ct);
                if (taken) break;
                await Task.Delay(PollInterval, ct);
            }
            runningCollection = collectionId;
            // Writers entering from now on wait for the turn to end; those inside finish first.
            while (excludeWriters && await store.CountWritersAsync(NowMs, ct) > 0) await Task.Delay(PollInterval, ct);
            var started = time.GetUtcNow();
            var oldest = await store.OldestOperationStartAsync(started.ToUnixTimeMilliseconds(), ct);
            var cutoff = oldest is { } ms && ms < started.ToUnixTimeMilliseconds() ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : started;
            var pinned = await store.PinnedAsync(started.ToUnixTimeMilliseconds(), ct);
            return new Turn(this, collectionId, cutoff, pinned);
        }
        catch
        {
            await EndCollectionAsync(collectionId);
            throw;
        }
    }

    private async Task EndCollectionAsync(string collectionId)
    {
        try
        {
            runningCollection = null;
            await using var tx = await db.BeginWriteAsync(CancellationToken.None);
            await store.EndCollectionAsync(tx, collectionId, CancellationToken.None);
            await tx.CommitAsync(CancellationToken.None);
        }
        catch (Exception e)
        {
            Log.EndFailed(logger, e, collectionId);
        }
        finally
        {
            oneCollection.Release();
        }
    }

    private async Task RenewAsync()
    {
        try
        {
            var collection = runningCollection;
            if (holds.IsEmpty && collection is null) return;
            await using var tx = await db.BeginWriteAsync(CancellationToken.None);
            await store.RenewAsync(tx, Owner, collection, ExpiresMs, CancellationToken.None);
            await tx.CommitAsync(CancellationToken.None);
        }
        catch (Exception e)
        {
            Log.RenewalFailed(logger, e);
        }
    }

    private static long NewToken(long current)
    {
        long next;
        do next = BinaryPrimitives.ReadInt64LittleEndian(RandomNumberGenerator.GetBytes(sizeof(long)));
        while (next == 0 || next == current);
        return next;
    }

    public void Dispose() => renewal.Dispose();

    private sealed class Ending(Action end) : IDisposable
    {
        private int ended;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref ended, 1) == 0) end();
        }
    }

    private sealed class Turn(DatabaseCoordination owner, string collectionId, DateTimeOffset cutoff, List<string> pinnedAtStart)
        : ICollectionTurn
    {
        private int ended;

        public DateTimeOffset Cutoff => cutoff;

        public async Task<IReadOnlySet<string>> PinnedAsync(CancellationToken ct)
        {
            var pinned = new HashSet<string>(pinnedAtStart, StringComparer.Ordinal);
            pinned.UnionWith(await owner.store.PinnedAsync(owner.NowMs, ct));
            return pinned;
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref ended, 1) == 0) Task.Run(() => owner.EndCollectionAsync(collectionId)).GetAwaiter().GetResult();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(5101, LogLevel.Warning, "Data plane hold or collection {Id} could not be ended; it lapses after one lease")]
        public static partial void EndFailed(ILogger logger, Exception ex, string id);

        [LoggerMessage(5102, LogLevel.Warning, "Renewing the data plane's holds failed; retried at the next renewal")]
        public static partial void RenewalFailed(ILogger logger, Exception ex);
    }
}
