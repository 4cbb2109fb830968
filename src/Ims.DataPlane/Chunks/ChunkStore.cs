using Ims.DataPlane.Native;
using Ims.DataPlane.Store;

namespace Ims.DataPlane.Chunks;

/// <summary>
/// The content-addressed chunk store: chunks named by the SHA-256 of their content, written once, never modified, and
/// verified on every read. Two homes: the local folder (<see cref="FolderChunkStore"/>, the default) and a bucket
/// (<see cref="BucketChunkStore"/>). The capture and restore pipelines call these few methods once per chunk.
/// </summary>
internal abstract class ChunkStore
{
    /// <summary>Marks a stored chunk as in use now; false when the store does not have it.</summary>
    public abstract bool TryTouch(string name);

    /// <summary>
    /// Stores a chunk unless the store (or this operation) has it already, in which case the stored one is touched.
    /// Returns the bytes newly written. The chunk has its name, durably, once <see cref="Publish"/> returns.
    /// </summary>
    public abstract long Put(string name, ReadOnlyMemory<byte> content, byte[] scratch, PendingChunks pending);

    /// <summary>Makes the chunks an operation stored durable under their names (before any manifest names them).</summary>
    public abstract void Publish(PendingChunks pending);

    /// <summary>Starts fetching a chunk a read will soon want, without waiting (a hint).</summary>
    public abstract void Prefetch(string name);

    /// <summary>
    /// Reads and verifies a chunk into <paramref name="content"/>; returns its length. A chunk that is missing,
    /// torn, or whose bytes do not hash to its name throws <see cref="DamagedChunkException"/>; a damaged one is moved
    /// aside so that a later capture can store a good copy.
    /// </summary>
    public abstract int Read(string name, Span<byte> content, byte[] scratch);

    /// <summary>
    /// Decodes and verifies a stored chunk (header then payload, <paramref name="stored"/>) into <paramref name="content"/>;
    /// the problem, or empty when the chunk is good.
    /// </summary>
    protected static string Decode(string name, ReadOnlySpan<byte> stored, Span<byte> content, out int originalLength)
    {
        originalLength = 0;
        var header = ChunkFile.ReadHeader(stored, stored.Length, out var problem);
        if (header is not { } h) return problem;
        originalLength = h.OriginalLength;
        var payload = stored.Slice(ChunkFile.HeaderSize, h.StoredLength);
        if (h.Codec == ChunkCodec.None) payload.CopyTo(content);
        else if (!ChunkFile.TryDecode(h, payload, content)) return "compressed payload does not decode";
        return ChunkDigest.Matches(content[..h.OriginalLength], name) ? "" : "content does not match its SHA-256 name";
    }
}

/// <summary>
/// Chunks in the local folder: <c>chunks/ab/cd/&lt;sha-256&gt;</c>, each written once under a temporary name,
/// flushed, renamed without overwrite, and never modified. A chunk's mtime records when a capture last relied on it;
/// storing, touching and the collector's final check-and-delete of one chunk are serialised by a striped lock, so a
/// capture that reuses a chunk can never lose it to a concurrent collection.
/// </summary>
internal sealed class FolderChunkStore(StoreLayout layout, TempFiles temps, TimeProvider time, IDataPlaneCoordination coordination) : ChunkStore
{
    private readonly Lock[] stripes = Enumerable.Range(0, 256).Select(_ => new Lock()).ToArray();

    public string PathOf(string name) => Path.Combine(layout.Chunks, name[..2], name[2..4], name);

    public Lock StripeOf(string name) => stripes[Convert.ToByte(name[..2], 16)];

    public override bool TryTouch(string name)
    {
        var path = PathOf(name);
        lock (StripeOf(name))
        {
            try
            {
                File.SetLastWriteTimeUtc(path, time.GetUtcNow().UtcDateTime);
                return true;
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                return false;
            }
        }
    }

    /// <summary>
    /// The chunk is written under a temporary name; <see cref="PendingChunks.Publish"/> makes it durable and gives it
    /// its name.
    /// </summary>
    public override long Put(string name, ReadOnlyMemory<byte> content, byte[] scratch, PendingChunks pending)
    {
        if (!pending.Claim(name) || TryTouch(name)) return 0;
        var path = PathOf(name);
        var temp = temps.Begin(path);
        try
        {
            var headerAndPayload = ChunkFile.Encode(content.Span, scratch, out var payloadIsContent);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using var handle = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write);
            if (payloadIsContent)
            {
                RandomAccess.Write(handle, [scratch.AsMemory(0, ChunkFile.HeaderSize), content], 0);
                Posix.StartWriteback(handle, 0, 0);
                pending.Wrote(name, temp);
                return ChunkFile.HeaderSize + content.Length;
            }
            RandomAccess.Write(handle, scratch.AsSpan(0, headerAndPayload), 0);
            Posix.StartWriteback(handle, 0, 0);
            pending.Wrote(name, temp);
            return headerAndPayload;
        }
        catch
        {
            pending.Release(name);
            if (File.Exists(temp)) File.Delete(temp);
            temps.End(temp);
            throw;
        }
    }

    public override void Publish(PendingChunks pending) => pending.Publish(this);

    /// <summary>
    /// Gives a flushed temporary chunk file its final name, stamped with the current time; false when the store got
    /// the same chunk meanwhile (then that one is touched and the temporary file deleted).
    /// </summary>
    public bool PublishFlushed(string name, string temp)
    {
        var path = PathOf(name);
        lock (StripeOf(name))
        {
            File.SetLastWriteTimeUtc(temp, time.GetUtcNow().UtcDateTime);
            if (DurableFile.Rename(temp, path, overwrite: false)) return true;
            File.SetLastWriteTimeUtc(path, time.GetUtcNow().UtcDateTime);
            return false;
        }
    }

    /// <summary>
    /// Starts reading a stored chunk into the page cache without waiting for it (a later <see cref="Read"/> finds it
    /// there or in flight). A hint: a missing chunk is ignored here and reported by the read.
    /// </summary>
    public override void Prefetch(string name)
    {
        try
        {
            using var handle = File.OpenHandle(PathOf(name), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            Posix.WillNeed(handle, 0, 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The read that follows reports it.
        }
    }

    /// <summary>A damaged file is moved aside as <c>.bad</c>.</summary>
    public override int Read(string name, Span<byte> content, byte[] scratch)
    {
        var path = PathOf(name);
        Microsoft.Win32.SafeHandles.SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new DamagedChunkException($"chunk {name} is missing from the store");
        }
        string? problem;
        int originalLength = 0;
        using (handle)
        {
            var fileLength = RandomAccess.GetLength(handle);
            Span<byte> headerBytes = stackalloc byte[ChunkFile.HeaderSize];
            var headerRead = fileLength >= ChunkFile.HeaderSize ? RandomAccess.Read(handle, headerBytes, 0) : 0;
            var header = ChunkFile.ReadHeader(headerBytes[..headerRead], fileLength, out problem);
            if (header is { } h)
            {
                originalLength = h.OriginalLength;
                var target = h.Codec == ChunkCodec.None ? content[..h.StoredLength] : scratch.AsSpan(0, h.StoredLength);
                SparseFile.ReadExactly(handle, ChunkFile.HeaderSize, target);
                if (h.Codec != ChunkCodec.None && !ChunkFile.TryDecode(h, target, content))
                    problem = "compressed payload does not decode";
                else if (!ChunkDigest.Matches(content[..h.OriginalLength], name))
                    problem = "content does not match its SHA-256 name";
            }
        }
        if (problem.Length == 0) return originalLength;
        Quarantine(name);
        throw new DamagedChunkException($"chunk {name} is damaged: {problem}");
    }

    private void Quarantine(string name)
    {
        var path = PathOf(name);
        lock (StripeOf(name))
        {
            try
            {
                File.Move(path, path + ".bad", overwrite: true);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                // Someone else moved it aside already.
                return;
            }
            coordination.AdvanceDeletionEpoch();
        }
    }
}
