using System.Globalization;

namespace Ims.DataPlane.Maintenance;

/// <summary>
/// The coordination of one process owning its store: holds in a dictionary, the deletion epoch in the store
/// (<see cref="DeletionEpoch"/>), the writers' exclusion in a <see cref="WriterGate"/>, collections one at a time.
/// </summary>
internal sealed class LocalCoordination(TimeProvider time, DeletionEpoch deletions) : IDataPlaneCoordination
{
    private readonly Lock sync = new();
    private readonly Dictionary<string, Held> holds = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> pins = new(StringComparer.Ordinal);
    private readonly WriterGate writers = new();
    private readonly SemaphoreSlim oneCollection = new(1, 1);
    private long nextId;
    private int collecting;

    public bool SpansProcesses => false;

    public string Node => "";

    public Task<DataPlaneHold> BeginOperationAsync(CancellationToken ct) => Task.FromResult(Begin(isOperation: true, []));

    public Task<DataPlaneHold> BeginLeaseAsync(IReadOnlyCollection<string> manifestIds, CancellationToken ct) =>
        Task.FromResult(Begin(isOperation: false, manifestIds));

    private DataPlaneHold Begin(bool isOperation, IReadOnlyCollection<string> manifestIds)
    {
        lock (sync)
        {
            var hold = new DataPlaneHold((nextId++).ToString(CultureInfo.InvariantCulture), time.GetUtcNow());
            var held = new Held(hold, isOperation);
            holds.Add(hold.Id, held);
            foreach (var manifestId in manifestIds) PinLocked(held, manifestId);
            return hold;
        }
    }

    public Task<long?> PinAsync(DataPlaneHold hold, IReadOnlyCollection<string> manifestIds, bool observeEpoch, CancellationToken ct)
    {
        lock (sync)
        {
            if (holds.TryGetValue(hold.Id, out var held))
                foreach (var manifestId in manifestIds) PinLocked(held, manifestId);
            return Task.FromResult(observeEpoch && collecting == 0 ? deletions.Current : (long?)null);
        }
    }

    private void PinLocked(Held held, string manifestId)
    {
        pins[manifestId] = pins.GetValueOrDefault(manifestId) + 1;
        held.Pinned.Add(manifestId);
    }

    public void End(DataPlaneHold hold)
    {
        lock (sync)
        {
            if (!holds.Remove(hold.Id, out var held)) return;
            foreach (var manifestId in held.Pinned)
            {
                if (pins.TryGetValue(manifestId, out var count))
                {
                    if (count <= 1) pins.Remove(manifestId);
                    else pins[manifestId] = count - 1;
                }
            }
        }
    }

    public void AdvanceDeletionEpoch() => deletions.Advance();

    public Task<IDisposable> EnterWriterAsync(CancellationToken ct) => writers.EnterWriterAsync(ct);

    public async Task<ICollectionTurn> BeginCollectionAsync(bool excludeWriters, CancellationToken ct)
    {
        await oneCollection.WaitAsync(ct).ConfigureAwait(false);
        IDisposable? exclusive = null;
        try
        {
            if (excludeWriters) exclusive = await writers.EnterCollectionAsync(ct).ConfigureAwait(false);
            lock (sync)
            {
                collecting++;
                var cutoff = time.GetUtcNow();
                foreach (var held in holds.Values)
                    if (held.IsOperation && held.Hold.Started < cutoff) cutoff = held.Hold.Started;
                return new Turn(this, cutoff, new HashSet<string>(pins.Keys, StringComparer.Ordinal), exclusive);
            }
        }
        catch
        {
            exclusive?.Dispose();
            oneCollection.Release();
            throw;
        }
    }

    private sealed class Held(DataPlaneHold hold, bool isOperation)
    {
        public DataPlaneHold Hold => hold;
        public bool IsOperation => isOperation;
        public List<string> Pinned { get; } = [];
    }

    private sealed class Turn(LocalCoordination owner, DateTimeOffset cutoff, HashSet<string> pinnedAtStart, IDisposable? exclusive)
        : ICollectionTurn
    {
        private int ended;

        public DateTimeOffset Cutoff => cutoff;

        public Task<IReadOnlySet<string>> PinnedAsync(CancellationToken ct)
        {
            lock (owner.sync)
            {
                var pinned = new HashSet<string>(pinnedAtStart, StringComparer.Ordinal);
                pinned.UnionWith(owner.pins.Keys);
                return Task.FromResult<IReadOnlySet<string>>(pinned);
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref ended, 1) != 0) return;
            lock (owner.sync) owner.collecting--;
            exclusive?.Dispose();
            owner.oneCollection.Release();
        }
    }
}
