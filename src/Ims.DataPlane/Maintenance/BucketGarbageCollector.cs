using Ims.DataPlane.Chunks;
using Ims.DataPlane.Manifests;
using Ims.DataPlane.Store;

namespace Ims.DataPlane.Maintenance;

/// <summary>
/// Mark and sweep of a bucket. S3 cannot stamp an object a capture reuses, so instead of the folder's cutoff by time
/// the whole collection runs with no capture or import storing or looking chunks up (the coordination's writers' exclusion): it
/// waits for the running ones to finish and holds new ones back until it is done. Manifests pinned by running
/// operations and undisposed leases are live, as in the folder. The deletion epoch advances before the first chunk is
/// deleted.
/// </summary>
internal sealed class BucketGarbageCollector(Bucket bucket, ManifestStore manifests, IDataPlaneCoordination coordination,
    int parallelism) : IGarbageCollector
{
    public async Task<CollectionReport> CollectAsync(Func<CancellationToken, Task<IReadOnlyCollection<string>>> liveManifests,
        CancellationToken ct)
    {
        using var turn = await coordination.BeginCollectionAsync(excludeWriters: true, ct).ConfigureAwait(false);
        var live = new HashSet<string>(await liveManifests(ct).ConfigureAwait(false), StringComparer.Ordinal);
        live.UnionWith(await turn.PinnedAsync(ct).ConfigureAwait(false));
        return await Task.Run(() => Sweep(live, ct), ct).ConfigureAwait(false);
    }

    private CollectionReport Sweep(HashSet<string> live, CancellationToken ct)
    {
        var marked = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in live)
        {
            // A live manifest that cannot be read names nothing we could keep for it; it is left for verify to report.
            if (manifests.TryRead(id, out var manifest))
                foreach (var entry in manifest!.Entries) marked.Add(entry.ChunkId);
        }

        long kept = 0;
        var doomed = new List<BucketObject>();
        foreach (var item in bucket.List(BucketChunkStore.Prefix))
        {
            ct.ThrowIfCancellationRequested();
            var name = item.Key[BucketChunkStore.Prefix.Length..];
            if (!ChunkDigest.IsName(name)) continue; // objects moved aside as damaged
            if (marked.Contains(name)) kept++;
            else doomed.Add(item);
        }
        if (doomed.Count > 0) coordination.AdvanceDeletionEpoch();
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallelism), CancellationToken = ct };
        Parallel.ForEach(doomed, options, item => bucket.Delete(item.Key));

        var unusedManifests = bucket.List(BucketManifestStore.Prefix)
            .Where(item => item.Key[BucketManifestStore.Prefix.Length..] is var id && ChunkDigest.IsName(id) && !live.Contains(id))
            .ToList();
        Parallel.ForEach(unusedManifests, options, item => bucket.Delete(item.Key));
        return new CollectionReport(kept, doomed.Count, doomed.Sum(item => item.Size), unusedManifests.Count);
    }
}
