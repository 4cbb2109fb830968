using Ims.DataPlane.Chunks;
using Ims.DataPlane.Manifests;
using Ims.DataPlane.Native;
using Ims.DataPlane.Store;
using Microsoft.Win32.SafeHandles;

namespace Ims.DataPlane.Restore;

/// <summary>
/// Writes a manifest's chunks into a fresh sparse file. Each distinct chunk is read and verified once and written to
/// every place it occurs (repeated content costs one read); all-zero 4 KiB blocks are skipped, so the result is sparse.
/// </summary>
internal static class Restorer
{
    public static async Task WriteAsync(Manifest manifest, SafeFileHandle target, ChunkStore store, int parallelism, CancellationToken ct)
    {
        var groups = manifest.Entries.GroupBy(entry => entry.ChunkId, StringComparer.Ordinal)
            .Select(group => (ChunkId: group.Key, Offsets: group.Select(e => e.Index * DataPlane.ChunkSize).ToArray()))
            .ToArray();
        var next = -1;
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);

        void Worker()
        {
            var content = ChunkBuffers.Rent();
            var scratch = ChunkBuffers.Rent();
            try
            {
                int i;
                while (!failed.IsCancellationRequested && (i = Interlocked.Increment(ref next)) < groups.Length)
                {
                    var length = store.Read(groups[i].ChunkId, content, scratch);
                    foreach (var offset in groups[i].Offsets)
                        SparseFile.WriteSkippingZeroBlocks(target, content.AsSpan(0, length), offset);
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

        var workers = Enumerable.Range(0, Math.Max(1, parallelism)).Select(_ => Task.Run(Worker, CancellationToken.None)).ToArray();
        try
        {
            await Task.WhenAll(workers).ConfigureAwait(false);
        }
        catch when (workers.Any(w => w.IsFaulted))
        {
            throw workers.First(w => w.IsFaulted).Exception!.InnerExceptions[0];
        }
        ct.ThrowIfCancellationRequested();
    }
}
