namespace Ims.DataPlane;

/// <summary>
/// A running operation (capture, import, restore, read, verification) or an undisposed manifest lease, as the
/// coordination knows it. <see cref="Started"/> is when it was registered: a folder collection's cutoff never passes the
/// start of a running operation (leases do not bound it: their chunks are stored and their manifests pinned).
/// </summary>
public sealed record DataPlaneHold(string Id, DateTimeOffset Started);

/// <summary>A collection's turn: it ends when disposed.</summary>
public interface ICollectionTurn : IDisposable
{
    /// <summary>The earlier of the collection's start and the start of the oldest operation running at that moment.</summary>
    DateTimeOffset Cutoff { get; }

    /// <summary>Every manifest pinned by a hold now or at the collection's start.</summary>
    Task<IReadOnlySet<string>> PinnedAsync(CancellationToken ct);
}

/// <summary>
/// What the garbage collector shares with the captures, imports and restores that run beside it: the holds (running
/// operations and leases, with the manifests they pin), the deletion epoch, the exclusion between a collection and the
/// writers of chunks, and the one-collection-at-a-time rule. The data plane's own coordination keeps them in the process
/// (one data plane per store); the service keeps them in its database, so that several processes can share one store.
/// A shared implementation lets holds of a process that stopped renewing them lapse, so a crashed node's pins never
/// block collection for ever.
/// </summary>
public interface IDataPlaneCoordination
{
    /// <summary>
    /// True when other processes may use the same store. A folder store then keeps its writers out of a collection (as a
    /// bucket always does): the per-chunk lock that orders a touch and a deletion is only the process's own.
    /// </summary>
    bool SpansProcesses { get; }

    /// <summary>
    /// The node this process runs as ("" for a process alone on its store). Temporary files in a shared folder carry it, so
    /// that a node's start or collection removes only its own crash leftovers, never a file another node is writing.
    /// </summary>
    string Node { get; }

    /// <summary>Registers a running operation.</summary>
    Task<DataPlaneHold> BeginOperationAsync(CancellationToken ct);

    /// <summary>Registers a lease that pins <paramref name="manifestIds"/> until it is ended.</summary>
    Task<DataPlaneHold> BeginLeaseAsync(IReadOnlyCollection<string> manifestIds, CancellationToken ct);

    /// <summary>
    /// Pins manifests for a hold. With <paramref name="observeEpoch"/>, returns the deletion epoch when no collection is
    /// running (null otherwise), read at the same instant as the pins are taken: a collection that starts later keeps
    /// every chunk the pins name, and one that ran before left the epoch changed if it deleted any.
    /// </summary>
    Task<long?> PinAsync(DataPlaneHold hold, IReadOnlyCollection<string> manifestIds, bool observeEpoch, CancellationToken ct);

    /// <summary>Ends a hold and releases its pins. Never throws: a hold not released in time lapses.</summary>
    void End(DataPlaneHold hold);

    /// <summary>Durably moves the deletion epoch to a new token; returns only once the new token would survive a crash.</summary>
    void AdvanceDeletionEpoch();

    /// <summary>Enters the writers' side: while held, no collection that excludes writers runs (it waits, and holds new writers back).</summary>
    Task<IDisposable> EnterWriterAsync(CancellationToken ct);

    /// <summary>
    /// Waits for the collection's turn (one at a time, across every process sharing the store) and, with
    /// <paramref name="excludeWriters"/>, until no writer is inside (new writers wait until the turn ends).
    /// </summary>
    Task<ICollectionTurn> BeginCollectionAsync(bool excludeWriters, CancellationToken ct);
}
