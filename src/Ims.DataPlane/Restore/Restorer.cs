using Ims.DataPlane.Chunks;
using Ims.DataPlane.Manifests;
using Ims.DataPlane.Native;
using Ims.DataPlane.Store;
using Microsoft.Win32.SafeHandles;

namespace Ims.DataPlane.Restore;

/// <summary>
/// Writes a manifest's chunks, in disk order, into a fresh sparse file; all-zero 4 KiB blocks are skipped, so the
/// result is sparse. Chunks that occur more than once are kept in a small cache after their first verified read
/// (repeated content is common), so each is read and hashed once while it keeps recurring.
/// </summary>
internal static class Restorer
{
    private const int CachedChunks = 4;

    private delegate void ChunkWriter(ReadOnlySpan<byte> content, long offset);

    /// <summary>A chunk-sized buffer. Not pooled: a restore holds one per worker and one per cache slot.</summary>
    private sealed class ChunkBuffer
    {
        private readonly byte[] array = GC.AllocateUninitializedArray<byte>(DataPlane.ChunkSize);

        public Span<byte> Span => array;
    }

    // Writes go through the page cache, each chunk's writeback started at once (sync_file_range) so that the device
    // is busy while the next chunks are read and the caller's final flush has little left. Measured on this project's
    // machine with the data bench, this beat O_DIRECT from aligned buffers by 15-30 % (1630-1820 MB/s against
    // 1285-1507 MB/s): the kernel merges the writeback of neighbouring chunks, synchronous direct writes cannot.
    public static async Task WriteAsync(Manifest manifest, SafeFileHandle target, ChunkStore store,
        int parallelism, int ioDepth, CancellationToken ct)
    {
        var entries = manifest.Entries;
        var repeats = entries.GroupBy(e => e.ChunkId, StringComparer.Ordinal).Where(g => g.Skip(1).Any())
            .Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
        var cache = new RepeatedChunkCache(CachedChunks);
        var next = -1;
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        // The prefetcher keeps up to ioDepth chunks ahead of the workers being read into the page cache: each entry
        // takes a slot when prefetched and gives it back when a worker has written it.
        using var window = new SemaphoreSlim(Math.Max(1, ioDepth));

        void Prefetcher()
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            try
            {
                foreach (var entry in entries)
                {
                    window.Wait(failed.Token);
                    if (seen.Add(entry.ChunkId)) store.Prefetch(entry.ChunkId);
                }
            }
            catch (OperationCanceledException)
            {
                // A worker failed or the restore was cancelled: the workers report it.
            }
        }

        void Write(ReadOnlySpan<byte> content, long offset)
        {
            SparseFile.WriteSkippingZeroBlocks(target, content, offset);
            Posix.StartWriteback(target, offset, content.Length);
        }

        void Worker()
        {
            var content = new ChunkBuffer();
            var scratch = ChunkBuffers.Rent();
            try
            {
                int i;
                while (!failed.IsCancellationRequested && (i = Interlocked.Increment(ref next)) < entries.Count)
                {
                    var entry = entries[i];
                    var offset = entry.Index * DataPlane.ChunkSize;
                    if (!cache.TryWrite(entry.ChunkId, Write, offset))
                    {
                        var length = store.Read(entry.ChunkId, content.Span, scratch);
                        Write(content.Span[..length], offset);
                        if (repeats.Contains(entry.ChunkId)) content = cache.Offer(entry.ChunkId, content, length);
                    }
                    window.Release();
                }
            }
            catch
            {
                failed.Cancel();
                throw;
            }
            finally
            {
                ChunkBuffers.Return(scratch);
            }
        }

        var prefetcher = Task.Factory.StartNew(Prefetcher, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        // Reads and writes block: more workers than cores keep the device busy (IoDepth / 2 writes of up to 4 MiB in
        // flight, each worker holding two chunk buffers).
        var workers = Enumerable.Range(0, Math.Max(Math.Max(1, parallelism), ioDepth / 2))
            .Select(_ => Task.Factory.StartNew(Worker, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default))
            .ToArray();
        try
        {
            await Task.WhenAll(workers).ConfigureAwait(false);
        }
        catch when (workers.Any(w => w.IsFaulted))
        {
            throw workers.First(w => w.IsFaulted).Exception!.InnerExceptions[0];
        }
        finally
        {
            failed.Cancel();
            await prefetcher.ConfigureAwait(false);
        }
        ct.ThrowIfCancellationRequested();
    }

    /// <summary>
    /// A few verified chunks, least recently used out. A worker offering a chunk swaps its buffer with the evicted
    /// slot's (no copy); slots being written from are never evicted.
    /// </summary>
    private sealed class RepeatedChunkCache(int capacity)
    {
        private sealed class Slot
        {
            public string? ChunkId;
            public ChunkBuffer Buffer = new();
            public int Length;
            public int Readers;
            public long LastUse;
        }

        private readonly Lock sync = new();
        private readonly List<Slot> slots = [];
        private long clock;

        public bool TryWrite(string chunkId, ChunkWriter write, long offset)
        {
            Slot? hit = null;
            lock (sync)
            {
                foreach (var slot in slots)
                {
                    if (!string.Equals(slot.ChunkId, chunkId, StringComparison.Ordinal)) continue;
                    hit = slot;
                    slot.Readers++;
                    slot.LastUse = ++clock;
                    break;
                }
            }
            if (hit is null) return false;
            try
            {
                write(hit.Buffer.Span[..hit.Length], offset);
                return true;
            }
            finally
            {
                lock (sync) hit.Readers--;
            }
        }

        /// <summary>Caches a chunk held in <paramref name="buffer"/>; returns the buffer the worker keeps using.</summary>
        public ChunkBuffer Offer(string chunkId, ChunkBuffer buffer, int length)
        {
            lock (sync)
            {
                if (slots.Any(s => string.Equals(s.ChunkId, chunkId, StringComparison.Ordinal))) return buffer;
                Slot? victim;
                if (slots.Count < capacity)
                {
                    victim = new Slot();
                    slots.Add(victim);
                }
                else
                {
                    victim = slots.Where(s => s.Readers == 0).MinBy(s => s.LastUse);
                    if (victim is null) return buffer;
                }
                var freed = victim.Buffer;
                victim.Buffer = buffer;
                victim.ChunkId = chunkId;
                victim.Length = length;
                victim.LastUse = ++clock;
                return freed;
            }
        }
    }
}
