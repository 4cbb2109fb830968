using Ims.DataPlane.Manifests;
using Ims.DataPlane.Native;
using Ims.DataPlane.Volumes;

namespace Ims.DataPlane.Capture;

/// <summary>
/// A volume snapshot as a disk to chunk. With a usable base manifest, chunks clean since the base are reused (looked
/// up unless <paramref name="baseKnownStored"/>, and read if the store lost them); the rest are read, skipping holes.
/// </summary>
internal sealed class SnapshotSource(Snapshot snapshot, Manifest? baseManifest, bool baseKnownStored) : DiskSource
{
    public override string VolumeId => snapshot.Volume.Id;
    public override long DiskSize => snapshot.Volume.Size;

    /// <summary>A base describes this volume when it has the same size, or was smaller by whole chunks (the rest was zero).</summary>
    public static bool Describes(Manifest manifest, long volumeSize) =>
        manifest.DiskSize == volumeSize || (manifest.DiskSize < volumeSize && manifest.DiskSize % DataPlane.ChunkSize == 0);

    public override IEnumerable<ChunkWork> Plan()
    {
        var regions = new DataRegions(snapshot.Volume.Data);
        var baseEntries = baseManifest?.Entries ?? [];
        var next = 0;
        for (long chunk = 0; chunk < snapshot.Volume.ChunkCount; chunk++)
        {
            while (next < baseEntries.Count && baseEntries[next].Index < chunk) next++;
            if (baseManifest is not null && !snapshot.DirtyAtInstant.Get(chunk))
            {
                if (next < baseEntries.Count && baseEntries[next].Index == chunk)
                    yield return new ChunkWork(this, chunk, baseEntries[next].ChunkId, baseKnownStored);
                else
                    snapshot.Settle(chunk); // zero in the base and unchanged since
                continue;
            }
            var start = chunk * DataPlane.ChunkSize;
            // A hole now was a hole at the instant: files only gain data.
            if (!regions.AnyData(start, start + Manifest.ChunkLength(DiskSize, chunk)))
            {
                snapshot.Settle(chunk);
                continue;
            }
            yield return new ChunkWork(this, chunk, null);
        }
    }

    public override bool ReadChunk(long index, Span<byte> destination) => snapshot.ReadChunk(index, destination);

    public override void Settle(long index) => snapshot.Settle(index);

    public override void Prefetch(long index) =>
        Posix.WillNeed(snapshot.Volume.Data, index * DataPlane.ChunkSize, Manifest.ChunkLength(DiskSize, index));
}
