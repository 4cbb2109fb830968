using Ims.DataPlane.Chunks;
using Ims.DataPlane.Manifests;
using Ims.DataPlane.Store;

namespace Ims.DataPlane.Maintenance;

/// <summary>Deletes the manifests and chunks no live manifest needs.</summary>
internal interface IGarbageCollector
{
    Task<CollectionReport> CollectAsync(Func<CancellationToken, Task<IReadOnlyCollection<string>>> liveManifests, CancellationToken ct);
}

/// <summary>
/// Mark and sweep of the local folder. The cutoff is the earlier of the collection's start and the oldest running operation's start;
/// every chunk a running operation stores or reuses gets an mtime at or after its start, so only chunks no live
/// manifest names and nobody touched since the cutoff are deleted. The final check and the unlink happen under the
/// chunk's stripe lock, the same lock a store or touch takes. The deletion epoch advances before the first chunk is
/// deleted, so a volume base recorded earlier is no longer trusted to be fully stored. When other processes share the
/// folder, that lock is not theirs: the collection then also keeps every writer out, as a bucket's does.
/// </summary>
internal sealed class FolderGarbageCollector(StoreLayout layout, FolderChunkStore chunks, FolderManifestStore manifests,
    IDataPlaneCoordination coordination, TempFiles temps) : IGarbageCollector
{
    public async Task<CollectionReport> CollectAsync(Func<CancellationToken, Task<IReadOnlyCollection<string>>> liveManifests,
        CancellationToken ct)
    {
        using var turn = await coordination.BeginCollectionAsync(excludeWriters: coordination.SpansProcesses, ct).ConfigureAwait(false);
        var live = new HashSet<string>(await liveManifests(ct).ConfigureAwait(false), StringComparer.Ordinal);
        live.UnionWith(await turn.PinnedAsync(ct).ConfigureAwait(false));
        return await Task.Run(() => Sweep(turn.Cutoff, live, ct), ct).ConfigureAwait(false);
    }

    private CollectionReport Sweep(DateTimeOffset cutoff, HashSet<string> live, CancellationToken ct)
    {
        var marked = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in live)
        {
            // A live manifest that cannot be read names nothing we could keep for it; it is left for verify to report.
            if (manifests.TryRead(id, out var manifest))
                foreach (var entry in manifest!.Entries) marked.Add(entry.ChunkId);
        }

        long kept = 0, deleted = 0, freed = 0, manifestsDeleted = 0;
        foreach (var path in Directory.EnumerateFiles(layout.Chunks, "*", SearchOption.AllDirectories))
        {
            ct.ThrowIfCancellationRequested();
            var name = Path.GetFileName(path);
            if (!ChunkDigest.IsName(name)) continue; // temporary files and quarantined .bad copies
            if (marked.Contains(name))
            {
                kept++;
                continue;
            }
            lock (chunks.StripeOf(name))
            {
                var info = new FileInfo(path);
                if (!info.Exists) continue;
                if (info.LastWriteTimeUtc >= cutoff.UtcDateTime)
                {
                    kept++;
                    continue;
                }
                var length = info.Length;
                if (deleted == 0) coordination.AdvanceDeletionEpoch();
                info.Delete();
                deleted++;
                freed += length;
            }
        }

        foreach (var path in Directory.EnumerateFiles(layout.Manifests))
        {
            var id = Path.GetFileName(path);
            if (!ChunkDigest.IsName(id) || live.Contains(id)) continue;
            lock (manifests.StripeOf(id))
            {
                var info = new FileInfo(path);
                if (!info.Exists || info.LastWriteTimeUtc >= cutoff.UtcDateTime) continue;
                info.Delete();
                manifestsDeleted++;
            }
        }

        temps.DeleteStale(layout.Chunks);
        temps.DeleteStale(layout.Manifests);
        temps.DeleteStale(layout.Volumes);
        return new CollectionReport(kept, deleted, freed, manifestsDeleted);
    }
}
