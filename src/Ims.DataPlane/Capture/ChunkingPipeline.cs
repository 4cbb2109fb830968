using Ims.DataPlane.Chunks;
using Ims.DataPlane.Manifests;
using Ims.DataPlane.Store;

namespace Ims.DataPlane.Capture;

/// <summary>A chunk the pipeline must produce: read it, or reuse a stored chunk if the store still has it.</summary>
internal readonly record struct ChunkWork(DiskSource Disk, long Index, string? ReusableChunkId);

/// <summary>One disk being turned into a manifest: a captured volume snapshot, or an imported image.</summary>
internal abstract class DiskSource
{
    private readonly List<ManifestEntry> entries = [];
    private long chunksRead;
    private long bytesStored;

    public abstract string VolumeId { get; }
    public abstract long DiskSize { get; }

    /// <summary>The chunks to produce, in increasing order; enumerated by one worker at a time.</summary>
    public abstract IEnumerable<ChunkWork> Plan();

    /// <summary>Reads a chunk as of the captured instant; false when it is all hole.</summary>
    public abstract bool ReadChunk(long index, Span<byte> destination);

    /// <summary>The chunk needs no reading (it is reused from the base).</summary>
    public virtual void Settle(long index)
    {
    }

    public long ChunksRead => Interlocked.Read(ref chunksRead);
    public long BytesStored => Interlocked.Read(ref bytesStored);

    public void CountRead() => Interlocked.Increment(ref chunksRead);

    public void Add(ManifestEntry entry, long stored)
    {
        Interlocked.Add(ref bytesStored, stored);
        lock (entries) entries.Add(entry);
    }

    public Manifest ToManifest()
    {
        lock (entries)
        {
            entries.Sort((a, b) => a.Index.CompareTo(b.Index));
            return new Manifest(DiskSize, entries.ToArray());
        }
    }
}

/// <summary>
/// Hashes and stores the chunks of several disks with a fixed number of workers, each holding two pooled
/// chunk-sized buffers: memory stays flat whatever the disk sizes.
/// </summary>
internal static class ChunkingPipeline
{
    public static async Task RunAsync(IReadOnlyList<DiskSource> disks, ChunkStore store, PendingChunks pending,
        int parallelism, CancellationToken ct)
    {
        using var plan = disks.SelectMany(disk => disk.Plan()).GetEnumerator();
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bool TryNext(out ChunkWork work)
        {
            lock (plan)
            {
                if (!failed.IsCancellationRequested && plan.MoveNext())
                {
                    work = plan.Current;
                    return true;
                }
                work = default;
                return false;
            }
        }

        void Worker()
        {
            var content = ChunkBuffers.Rent();
            var scratch = ChunkBuffers.Rent();
            try
            {
                while (TryNext(out var work)) Produce(work, content, scratch, store, pending);
            }
            catch
            {
                failed.Cancel();
                throw;
            }
            finally
            {
                ChunkBuffers.Return(content);
                ChunkBuffers.Return(scratch);
            }
        }

        var workers = Enumerable.Range(0, Math.Max(1, parallelism)).Select(_ => Task.Run(Worker, CancellationToken.None)).ToArray();
        try
        {
            await Task.WhenAll(workers).ConfigureAwait(false);
        }
        catch when (workers.Any(w => w.IsFaulted))
        {
            // Surface the first real failure rather than the cancellations it caused.
            throw workers.First(w => w.IsFaulted).Exception!.InnerExceptions[0];
        }
        ct.ThrowIfCancellationRequested();
    }

    private static void Produce(ChunkWork work, byte[] content, byte[] scratch, ChunkStore store, PendingChunks pending)
    {
        var disk = work.Disk;
        var length = Manifest.ChunkLength(disk.DiskSize, work.Index);
        if (work.ReusableChunkId is { } reusable && store.TryTouch(reusable))
        {
            disk.Settle(work.Index);
            disk.Add(new ManifestEntry(work.Index, reusable, length), 0);
            return;
        }
        // Not reusable (or collected meanwhile): the snapshot still holds the instant's bytes.
        disk.CountRead();
        var span = content.AsSpan(0, length);
        if (!disk.ReadChunk(work.Index, span) || span.IndexOfAnyExcept((byte)0) < 0) return;
        var name = ChunkDigest.Name(span);
        var stored = store.Put(name, content.AsMemory(0, length), scratch, pending);
        disk.Add(new ManifestEntry(work.Index, name, length), stored);
    }
}
