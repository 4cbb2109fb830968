using System.Collections.Concurrent;
using Ims.DataPlane.Chunks;
using Ims.DataPlane.Manifests;
using Ims.DataPlane.Store;

namespace Ims.DataPlane.Capture;

/// <summary>
/// A chunk the pipeline must produce: read it, or reuse a stored chunk, looked up first unless it is known stored
/// (its base was recorded under the current deletion epoch, and pinned).
/// </summary>
internal readonly record struct ChunkWork(DiskSource Disk, long Index, string? ReusableChunkId, bool KnownStored = false);

/// <summary>One disk being turned into a manifest: a captured volume snapshot, or an imported image.</summary>
internal abstract class DiskSource
{
    private readonly List<ManifestEntry> entries = [];
    private long chunksRead;
    private long chunksLookedUp;
    private long bytesStored;

    public abstract string VolumeId { get; }
    public abstract long DiskSize { get; }

    /// <summary>The chunks to produce, in increasing order; enumerated by one worker at a time.</summary>
    public abstract IEnumerable<ChunkWork> Plan();

    /// <summary>Reads a chunk as of the captured instant; false when it is all hole.</summary>
    public abstract bool ReadChunk(long index, Span<byte> destination);

    /// <summary>Starts reading a chunk into the page cache, without waiting (a hint).</summary>
    public abstract void Prefetch(long index);

    /// <summary>The chunk needs no reading (it is reused from the base).</summary>
    public virtual void Settle(long index)
    {
    }

    public long ChunksRead => Interlocked.Read(ref chunksRead);
    public long BytesStored => Interlocked.Read(ref bytesStored);

    public long ChunksLookedUp => Interlocked.Read(ref chunksLookedUp);

    public void CountRead() => Interlocked.Increment(ref chunksRead);

    public void CountLookup() => Interlocked.Increment(ref chunksLookedUp);

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
/// Hashes and stores the chunks of several disks. <c>ioDepth</c> dispatchers take the planned chunks in order: they
/// settle the ones reused from the base (those known stored at once; looking one up is a cold metadata read, so many
/// are in flight), and hand the rest, announced to the kernel with a read-ahead hint as they are planned, to
/// <c>parallelism</c> producers that read, hash and store them, each with two pooled chunk-sized buffers: memory stays
/// flat whatever the disk sizes.
/// </summary>
internal static class ChunkingPipeline
{
    /// <summary>How many known-stored chunks one dispatcher settles before letting the others at the plan.</summary>
    private const int SettleBatch = 4096;

    public static async Task RunAsync(IReadOnlyList<DiskSource> disks, ChunkStore store, PendingChunks pending,
        int parallelism, int ioDepth, CancellationToken ct)
    {
        ioDepth = Math.Max(1, ioDepth);
        using var plan = disks.SelectMany(disk => disk.Plan()).GetEnumerator();
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        // Planned work not yet taken: the chunks in it that need reading were announced to the kernel when queued.
        var lookahead = new Queue<ChunkWork>();
        using var toProduce = new BlockingCollection<ChunkWork>(ioDepth);
        var dispatching = ioDepth;
        var planDone = false;

        bool TryNext(out ChunkWork work)
        {
            while (true)
            {
                List<ChunkWork>? announce = null;
                bool taken, exhausted;
                lock (plan)
                {
                    if (failed.IsCancellationRequested)
                    {
                        work = default;
                        return false;
                    }
                    // Chunks known stored are settled right here: they need neither a lookup nor a read, so they take
                    // no place in the lookahead, and the chunks that need reading are announced early.
                    var settled = 0;
                    while (lookahead.Count <= ioDepth && settled < SettleBatch && !planDone)
                    {
                        if (!plan.MoveNext())
                        {
                            planDone = true;
                            break;
                        }
                        var planned = plan.Current;
                        if (planned.KnownStored)
                        {
                            Reuse(planned, planned.ReusableChunkId!);
                            settled++;
                            continue;
                        }
                        lookahead.Enqueue(planned);
                        if (planned.ReusableChunkId is null) (announce ??= []).Add(planned);
                    }
                    taken = lookahead.TryDequeue(out work);
                    exhausted = planDone;
                }
                if (announce is not null) foreach (var planned in announce) planned.Disk.Prefetch(planned.Index);
                // Nothing taken but the plan goes on: the batch of settled chunks ran out first.
                if (taken || exhausted) return taken;
            }
        }

        void Dispatcher()
        {
            try
            {
                while (TryNext(out var work))
                {
                    if (!TryReuse(work, store)) toProduce.Add(work, failed.Token);
                }
            }
            catch (OperationCanceledException) when (failed.IsCancellationRequested)
            {
                // A producer failed, or the capture was cancelled: reported below.
            }
            catch
            {
                failed.Cancel();
                throw;
            }
            finally
            {
                if (Interlocked.Decrement(ref dispatching) == 0) toProduce.CompleteAdding();
            }
        }

        void Producer()
        {
            var content = ChunkBuffers.Rent();
            var scratch = ChunkBuffers.Rent();
            try
            {
                foreach (var work in toProduce.GetConsumingEnumerable(failed.Token)) Produce(work, content, scratch, store, pending);
            }
            catch (OperationCanceledException) when (failed.IsCancellationRequested)
            {
                // A dispatcher failed, or the capture was cancelled: reported below.
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

        static Task Start(Action action) =>
            Task.Factory.StartNew(action, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        var workers = Enumerable.Range(0, ioDepth).Select(_ => Start(Dispatcher))
            .Concat(Enumerable.Range(0, Math.Max(1, parallelism)).Select(_ => Start(Producer)))
            .ToArray();
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

    /// <summary>
    /// Settles a chunk reused from the base, when it is known stored or the store still has it (touched now, for a
    /// collection that started before this capture pinned its base); false when it must be read.
    /// </summary>
    private static bool TryReuse(ChunkWork work, ChunkStore store)
    {
        if (work.ReusableChunkId is not { } reusable) return false;
        if (!work.KnownStored)
        {
            work.Disk.CountLookup();
            if (!store.TryTouch(reusable)) return false;
        }
        Reuse(work, reusable);
        return true;
    }

    private static void Reuse(ChunkWork work, string chunkId)
    {
        var disk = work.Disk;
        disk.Settle(work.Index);
        disk.Add(new ManifestEntry(work.Index, chunkId, Manifest.ChunkLength(disk.DiskSize, work.Index)), 0);
    }

    private static void Produce(ChunkWork work, byte[] content, byte[] scratch, ChunkStore store, PendingChunks pending)
    {
        var disk = work.Disk;
        var length = Manifest.ChunkLength(disk.DiskSize, work.Index);
        // Not reusable (or collected meanwhile): the snapshot still holds the instant's bytes.
        disk.CountRead();
        var span = content.AsSpan(0, length);
        if (!disk.ReadChunk(work.Index, span) || span.IndexOfAnyExcept((byte)0) < 0) return;
        var name = ChunkDigest.Name(span);
        var stored = store.Put(name, content.AsMemory(0, length), scratch, pending);
        disk.Add(new ManifestEntry(work.Index, name, length), stored);
    }
}
