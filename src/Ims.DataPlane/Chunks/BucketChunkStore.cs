using Ims.DataPlane.Store;

namespace Ims.DataPlane.Chunks;

/// <summary>
/// Chunks in a bucket: <c>chunks/&lt;sha-256&gt;</c>, the same bytes as a chunk file (header then payload), each
/// written by one PUT, which is durable and atomic when it is answered, so there is nothing to publish afterwards.
/// A lookup is a HEAD request. A damaged object is copied aside as <c>chunks/&lt;sha-256&gt;.bad</c> and deleted, so
/// that a later capture stores a good copy. Reused chunks are not stamped (S3 cannot touch an object): the collector
/// instead never runs while a capture or import is storing or looking chunks up (the coordination's writers' exclusion).
/// </summary>
internal sealed class BucketChunkStore(Bucket bucket, IDataPlaneCoordination coordination) : ChunkStore
{
    public const string Prefix = "chunks/";
    public const string DamagedSuffix = ".bad";

    public static string KeyOf(string name) => Prefix + name;

    public override bool TryTouch(string name) => bucket.Exists(KeyOf(name));

    public override long Put(string name, ReadOnlyMemory<byte> content, byte[] scratch, PendingChunks pending)
    {
        if (!pending.Claim(name) || TryTouch(name)) return 0;
        try
        {
            var length = ChunkFile.Encode(content.Span, scratch, out var payloadIsContent);
            if (payloadIsContent)
            {
                // One body for one PUT: the content follows the header in the scratch buffer (room for a whole chunk file).
                content.Span.CopyTo(scratch.AsSpan(ChunkFile.HeaderSize));
                length = ChunkFile.HeaderSize + content.Length;
            }
            bucket.Put(KeyOf(name), scratch, length);
            return length;
        }
        catch
        {
            pending.Release(name);
            throw;
        }
    }

    public override void Publish(PendingChunks pending)
    {
        // Each PUT was durable when it was answered.
    }

    public override void Prefetch(string name)
    {
        // The read fetches the whole object in one request.
    }

    public override int Read(string name, Span<byte> content, byte[] scratch)
    {
        var length = bucket.TryGet(KeyOf(name), scratch)
            ?? throw new DamagedChunkException($"chunk {name} is missing from the store");
        var originalLength = 0;
        var problem = length < 0 ? "longer than any chunk" : Decode(name, scratch.AsSpan(0, length), content, out originalLength);
        if (problem.Length == 0) return originalLength;
        Quarantine(name);
        throw new DamagedChunkException($"chunk {name} is damaged: {problem}");
    }

    private void Quarantine(string name)
    {
        var key = KeyOf(name);
        if (!bucket.TryCopy(key, key + DamagedSuffix)) return; // someone else moved it aside already
        bucket.Delete(key);
        coordination.AdvanceDeletionEpoch();
    }
}
