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

    public static async Task WriteAsync(Manifest manifest, SafeFileHandle target, ChunkStore store, int parallelism,
        int ioDepth, CancellationToken ct)
    {
        var entries = manifest.Entries;
        var repeats = entries.GroupBy(e => e.ChunkId, StringComparer.Ordinal).Where(g => g.Skip(1).Any())
            .Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
        using var cache = new RepeatedChunkCache(CachedChunks);
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

        void Worker()
        {
            var content = ChunkBuffers.Rent();
            var scratch = ChunkBuffers.Rent();
            try
            {
                int i;
                while (!failed.IsCancellationRequested && (i = Interlocked.Increment(ref next)) < entries.Count)
                {
                    var entry = entries[i];
                    var offset = entry.Index * DataPlane.ChunkSize;
                    if (!cache.TryWrite(entry.ChunkId, target, offset))
                    {
                        var length = store.Read(entry.ChunkId, content, scratch);
                        SparseFile.WriteSkippingZeroBlocks(target, content.AsSpan(0, length), offset);
                        if (repeats.Contains(entry.ChunkId)) content = cache.Offer(entry.ChunkId, content, length);
                    }
                    // Written back while the next chunks are read, so that the final flush has little left to do.
                    Posix.StartWriteback(target, offset, DataPlane.ChunkSize);
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
                ChunkBuffers.Return(content);
                ChunkBuffers.Return(scratch);
            }
        }

        var prefetcher = Task.Factory.StartNew(Prefetcher, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var workers = Enumerable.Range(0, Math.Max(1, parallelism))
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
    private sealed class RepeatedChunkCache(int capacity) : IDisposable
    {
        private sealed class Slot
        {
            public string? ChunkId;
            public byte[] Buffer = ChunkBuffers.Rent();
            public int Length;
            public int Readers;
            public long LastUse;
        }

        private readonly Lock sync = new();
        private readonly List<Slot> slots = [];
        private long clock;

        public bool TryWrite(string chunkId, SafeFileHandle target, long offset)
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
                SparseFile.WriteSkippingZeroBlocks(target, hit.Buffer.AsSpan(0, hit.Length), offset);
                return true;
            }
            finally
            {
                lock (sync) hit.Readers--;
            }
        }

        /// <summary>Caches a chunk held in <paramref name="buffer"/>; returns the buffer the worker keeps using.</summary>
        public byte[] Offer(string chunkId, byte[] buffer, int length)
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

        public void Dispose()
        {
            lock (sync)
            {
                foreach (var slot in slots) ChunkBuffers.Return(slot.Buffer);
                slots.Clear();
            }
        }
    }
}
