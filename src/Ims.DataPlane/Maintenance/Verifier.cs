using System.Collections.Concurrent;
using Ims.DataPlane.Chunks;
using Ims.DataPlane.Manifests;
using Ims.DataPlane.Store;

namespace Ims.DataPlane.Maintenance;

/// <summary>Re-hashes every distinct chunk the manifests name, once, in parallel.</summary>
internal static class Verifier
{
    public static async Task<VerifyReport> VerifyAsync(IReadOnlyCollection<string> manifestIds, ManifestStore manifests,
        ChunkStore chunks, int parallelism, CancellationToken ct)
    {
        var damaged = new List<DamagedChunk>();
        var read = new List<(string ManifestId, Manifest Manifest)>();
        foreach (var id in manifestIds.Distinct(StringComparer.Ordinal))
        {
            try
            {
                read.Add((id, manifests.Read(id)));
            }
            catch (DamagedChunkException e)
            {
                damaged.Add(new DamagedChunk(id, -1, "", e.Message));
            }
        }

        var distinct = read.SelectMany(m => m.Manifest.Entries).Select(e => e.ChunkId).Distinct(StringComparer.Ordinal).ToArray();
        var problems = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(distinct, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallelism), CancellationToken = ct },
            (chunkId, _) =>
            {
                var content = ChunkBuffers.Rent();
                var scratch = ChunkBuffers.Rent();
                try
                {
                    chunks.Read(chunkId, content, scratch);
                }
                catch (DamagedChunkException e)
                {
                    problems[chunkId] = e.Message;
                }
                finally
                {
                    ChunkBuffers.Return(content);
                    ChunkBuffers.Return(scratch);
                }
                return ValueTask.CompletedTask;
            }).ConfigureAwait(false);

        foreach (var (id, manifest) in read)
            foreach (var entry in manifest.Entries)
                if (problems.TryGetValue(entry.ChunkId, out var problem))
                    damaged.Add(new DamagedChunk(id, entry.Index, entry.ChunkId, problem));
        return new VerifyReport(distinct.Length, damaged);
    }
}
