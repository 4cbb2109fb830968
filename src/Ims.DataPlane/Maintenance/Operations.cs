namespace Ims.DataPlane.Maintenance;

/// <summary>
/// Running captures, imports and restores (with when they started and the manifests they need), the manifests held by
/// undisposed leases, and whether a collection is running. The collector's cutoff never passes the start of a running
/// operation, and everything pinned here is live.
/// </summary>
internal sealed class Operations(TimeProvider time, DeletionEpoch deletions)
{
    private readonly DeletionEpoch deletions = deletions;
    private readonly Lock sync = new();
    private readonly Dictionary<long, Operation> running = [];
    private readonly Dictionary<string, int> pins = new(StringComparer.Ordinal);
    private long nextId;
    private int collecting;

    public Operation Begin()
    {
        lock (sync)
        {
            var operation = new Operation(this, nextId++, time.GetUtcNow());
            running.Add(operation.Id, operation);
            return operation;
        }
    }

    /// <summary>
    /// The collection's cutoff and the manifests pinned at its start (read together, under one lock). Until
    /// <see cref="EndCollection"/>, pins observe a running collection.
    /// </summary>
    public (DateTimeOffset Cutoff, HashSet<string> Pinned) BeginCollection()
    {
        lock (sync)
        {
            collecting++;
            var cutoff = time.GetUtcNow();
            foreach (var operation in running.Values)
                if (operation.Started < cutoff) cutoff = operation.Started;
            return (cutoff, new HashSet<string>(pins.Keys, StringComparer.Ordinal));
        }
    }

    public void EndCollection()
    {
        lock (sync) collecting--;
    }

    public HashSet<string> Pinned()
    {
        lock (sync) return new HashSet<string>(pins.Keys, StringComparer.Ordinal);
    }

    public IManifestLease Lease(IReadOnlyList<CapturedDisk> disks)
    {
        lock (sync)
            foreach (var disk in disks) Pin(disk.ManifestId);
        return new ManifestLease(this, disks);
    }

    private void Pin(string manifestId) => pins[manifestId] = pins.GetValueOrDefault(manifestId) + 1;

    private void Unpin(string manifestId)
    {
        if (pins.TryGetValue(manifestId, out var count))
        {
            if (count <= 1) pins.Remove(manifestId);
            else pins[manifestId] = count - 1;
        }
    }

    internal sealed class Operation(Operations owner, long id, DateTimeOffset started) : IDisposable
    {
        private readonly List<string> pinned = [];
        private bool ended;

        public long Id => id;
        public DateTimeOffset Started => started;

        public void Pin(string manifestId)
        {
            lock (owner.sync) PinLocked(manifestId);
        }

        /// <summary>
        /// Pins manifests this operation relies on and returns the deletion epoch when no collection is running (null
        /// otherwise). A collection that starts later keeps every chunk the pins name, so chunks present now stay
        /// present until this operation ends; and a collection that ran before left the epoch changed if it deleted any.
        /// </summary>
        public long? PinAndObserveEpoch(IEnumerable<string> manifestIds)
        {
            lock (owner.sync)
            {
                foreach (var manifestId in manifestIds) PinLocked(manifestId);
                return owner.collecting == 0 ? owner.deletions.Current : null;
            }
        }

        private void PinLocked(string manifestId)
        {
            if (ended) return;
            owner.Pin(manifestId);
            pinned.Add(manifestId);
        }

        public void Dispose()
        {
            lock (owner.sync)
            {
                if (ended) return;
                ended = true;
                owner.running.Remove(id);
                foreach (var manifestId in pinned) owner.Unpin(manifestId);
            }
        }
    }

    private sealed class ManifestLease(Operations owner, IReadOnlyList<CapturedDisk> disks) : IManifestLease
    {
        private bool disposed;

        public IReadOnlyList<CapturedDisk> Disks => disks;

        public void Dispose()
        {
            lock (owner.sync)
            {
                if (disposed) return;
                disposed = true;
                foreach (var disk in disks) owner.Unpin(disk.ManifestId);
            }
        }
    }
}
