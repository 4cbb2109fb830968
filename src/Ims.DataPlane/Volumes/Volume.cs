using System.Collections.Immutable;
using Ims.DataPlane.Native;
using Microsoft.Win32.SafeHandles;

namespace Ims.DataPlane.Volumes;

/// <summary>
/// An open volume: the sparse raw file, its change tracking, and the snapshots of running captures. Writers share the
/// gate; a capture's instant takes it alone, so a write is wholly before or wholly after the instant. Per chunk, a
/// writer and a capture's read of that chunk are serialised by a striped lock, so the capture sees the chunk either
/// untouched or preserved.
/// </summary>
internal sealed class Volume : IDisposable
{
    private const int StripeCount = 64;
    private readonly Lock[] stripes = Enumerable.Range(0, StripeCount).Select(_ => new Lock()).ToArray();
    private readonly ReaderWriterLockSlim gate = new(LockRecursionPolicy.NoRecursion);
    private ImmutableArray<Snapshot> snapshots = [];
    private bool disposed;

    public Volume(string id, SafeFileHandle data, long size, VolumeTracking tracking)
    {
        Id = id;
        Data = data;
        Size = size;
        Tracking = tracking;
    }

    public string Id { get; }
    public SafeFileHandle Data { get; }
    public long Size { get; }
    public long ChunkCount => Manifests.Manifest.ChunkCountOf(Size);
    public VolumeTracking Tracking { get; }

    public Lock StripeOf(long chunk) => stripes[chunk % StripeCount];

    /// <summary>Whether a capture is reading the volume now (its file may then not be replaced or grown).</summary>
    public bool IsBeingCaptured => !snapshots.IsEmpty;

    public int Read(long offset, Span<byte> buffer)
    {
        CheckRange(offset, 0);
        var length = (int)Math.Min(buffer.Length, Size - offset);
        if (length == 0) return 0;
        gate.EnterReadLock();
        try
        {
            ThrowIfDeleted();
            SparseFile.ReadExactly(Data, offset, buffer[..length]);
            return length;
        }
        finally
        {
            gate.ExitReadLock();
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        CheckRange(offset, data.Length);
        if (data.IsEmpty) return;
        gate.EnterReadLock();
        try
        {
            ThrowIfDeleted();
            var first = offset / DataPlane.ChunkSize;
            var last = (offset + data.Length - 1) / DataPlane.ChunkSize;
            var active = snapshots;
            for (var chunk = first; chunk <= last; chunk++)
            {
                Tracking.MarkDirty(chunk);
                foreach (var snapshot in active) snapshot.WrittenSince.Set(chunk);
            }
            if (active.IsEmpty)
            {
                RandomAccess.Write(Data, data, offset);
                return;
            }
            for (var chunk = first; chunk <= last; chunk++)
            {
                var chunkStart = chunk * DataPlane.ChunkSize;
                var from = Math.Max(offset, chunkStart);
                var to = Math.Min(offset + data.Length, chunkStart + DataPlane.ChunkSize);
                lock (StripeOf(chunk))
                {
                    foreach (var snapshot in active) snapshot.PreserveIfPending(chunk);
                    RandomAccess.Write(Data, data[(int)(from - offset)..(int)(to - offset)], from);
                }
            }
        }
        finally
        {
            gate.ExitReadLock();
        }
    }

    private void CheckRange(long offset, long length)
    {
        if (offset < 0 || offset > Size || length > Size - offset)
            throw new VolumeRangeException($"The range at offset {offset} of {length} bytes is outside volume {Id} of {Size} bytes.");
    }

    private void ThrowIfDeleted()
    {
        if (disposed) throw new VolumeRangeException($"Volume {Id} does not exist.");
    }

    /// <summary>Takes the gate alone: no write is in flight until <see cref="ExitInstant"/>.</summary>
    public void EnterInstant()
    {
        gate.EnterWriteLock();
        if (disposed)
        {
            gate.ExitWriteLock();
            throw new VolumeRangeException($"Volume {Id} does not exist.");
        }
    }

    public void ExitInstant() => gate.ExitWriteLock();

    /// <summary>Starts a snapshot; the caller holds the instant.</summary>
    public Snapshot AddSnapshot(string sidePath)
    {
        var snapshot = new Snapshot(this, Tracking.Dirty.Clone(), Tracking.Base, sidePath);
        snapshots = snapshots.Add(snapshot);
        return snapshot;
    }

    /// <summary>Drops a snapshot whose instant failed; the caller still holds the instant.</summary>
    public void EndSnapshotDuringInstant(Snapshot snapshot)
    {
        snapshots = snapshots.Remove(snapshot);
        snapshot.Dispose();
    }

    /// <summary>Ends a snapshot; on success its manifest becomes the base and its writes the new dirty set.</summary>
    public void EndSnapshot(Snapshot snapshot, VolumeBase? completed)
    {
        gate.EnterWriteLock();
        try
        {
            snapshots = snapshots.Remove(snapshot);
            if (completed is not null && !disposed) Tracking.Commit(completed, snapshot.WrittenSince);
        }
        finally
        {
            gate.ExitWriteLock();
        }
    }

    public void Dispose()
    {
        gate.EnterWriteLock();
        try
        {
            if (disposed) return;
            disposed = true;
            Data.Dispose();
            Tracking.Dispose();
        }
        finally
        {
            gate.ExitWriteLock();
        }
    }
}
