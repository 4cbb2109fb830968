using System.Buffers.Binary;
using System.Security.Cryptography;
using Ims.DataPlane.Chunks;

namespace Ims.DataPlane.Manifests;

/// <summary>One stored chunk of a disk: its position (in chunks), its name, and its length (short only at the disk's end).</summary>
internal readonly record struct ManifestEntry(long Index, string ChunkId, int Length);

/// <summary>
/// A disk at one instant: its size and its non-zero chunks in order. Chunks left out are zero, so a sparse 2 TiB
/// disk has a tiny manifest. Binary, versioned, and named by the SHA-256 of its bytes.
/// </summary>
internal sealed class Manifest
{
    public const uint FormatVersion = 1;
    private const int HeaderSize = 32;
    private const int EntrySize = 8 + 4 + SHA256.HashSizeInBytes;
    private static ReadOnlySpan<byte> Magic => "IMSM"u8;

    public Manifest(long diskSize, IReadOnlyList<ManifestEntry> entries)
    {
        DiskSize = diskSize;
        Entries = entries;
    }

    public long DiskSize { get; }

    /// <summary>Sorted by index, no duplicates.</summary>
    public IReadOnlyList<ManifestEntry> Entries { get; }

    public long ChunkCount => ChunkCountOf(DiskSize);

    public static long ChunkCountOf(long diskSize) => (diskSize + DataPlane.ChunkSize - 1) / DataPlane.ChunkSize;

    public static int ChunkLength(long diskSize, long index) => (int)Math.Min(DataPlane.ChunkSize, diskSize - (index * DataPlane.ChunkSize));

    public byte[] Serialize()
    {
        var bytes = new byte[HeaderSize + ((long)EntrySize * Entries.Count)];
        var span = bytes.AsSpan();
        Magic.CopyTo(span);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], FormatVersion);
        BinaryPrimitives.WriteInt64LittleEndian(span[8..], DiskSize);
        BinaryPrimitives.WriteInt32LittleEndian(span[16..], DataPlane.ChunkSize);
        BinaryPrimitives.WriteInt64LittleEndian(span[24..], Entries.Count);
        var offset = HeaderSize;
        foreach (var entry in Entries)
        {
            BinaryPrimitives.WriteInt64LittleEndian(span[offset..], entry.Index);
            BinaryPrimitives.WriteInt32LittleEndian(span[(offset + 8)..], entry.Length);
            Convert.FromHexString(entry.ChunkId, span.Slice(offset + 12, SHA256.HashSizeInBytes), out _, out _);
            offset += EntrySize;
        }
        return bytes;
    }

    /// <summary>Parses and checks a manifest; null with a reason when the bytes are not a consistent manifest.</summary>
    public static Manifest? Parse(ReadOnlySpan<byte> bytes, out string problem)
    {
        problem = "";
        if (bytes.Length < HeaderSize || !bytes[..4].SequenceEqual(Magic))
        {
            problem = "not a manifest";
            return null;
        }
        var version = BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]);
        if (version != FormatVersion)
        {
            problem = $"unknown manifest version {version}";
            return null;
        }
        var diskSize = BinaryPrimitives.ReadInt64LittleEndian(bytes[8..]);
        var chunkSize = BinaryPrimitives.ReadInt32LittleEndian(bytes[16..]);
        var count = BinaryPrimitives.ReadInt64LittleEndian(bytes[24..]);
        if (diskSize < 0 || chunkSize != DataPlane.ChunkSize || count < 0 || bytes.Length != HeaderSize + (count * EntrySize))
        {
            problem = "inconsistent manifest header";
            return null;
        }
        var entries = new ManifestEntry[count];
        var previous = -1L;
        var offset = HeaderSize;
        for (var i = 0; i < count; i++)
        {
            var index = BinaryPrimitives.ReadInt64LittleEndian(bytes[offset..]);
            var length = BinaryPrimitives.ReadInt32LittleEndian(bytes[(offset + 8)..]);
            if (index <= previous || index >= ChunkCountOf(diskSize) || length != ChunkLength(diskSize, index))
            {
                problem = $"entry {i} is out of order or out of the disk";
                return null;
            }
            entries[i] = new ManifestEntry(index, Convert.ToHexStringLower(bytes.Slice(offset + 12, SHA256.HashSizeInBytes)), length);
            previous = index;
            offset += EntrySize;
        }
        return new Manifest(diskSize, entries);
    }
}

/// <summary>
/// Manifests named by the SHA-256 of their bytes, written atomically, verified on every read. Two homes: the local
/// folder (<see cref="FolderManifestStore"/>, the default) and a bucket (<see cref="BucketManifestStore"/>).
/// </summary>
internal abstract class ManifestStore
{
    /// <summary>Writes (or touches, when it exists) a manifest; every chunk it names must already be durable.</summary>
    public abstract string Write(Manifest manifest);

    /// <summary>The stored bytes of a manifest, or null when there is none.</summary>
    protected abstract byte[]? TryReadBytes(string id);

    /// <summary>Reads and verifies a manifest; a missing or damaged one throws <see cref="DamagedChunkException"/>.</summary>
    public Manifest Read(string id)
    {
        if (!ChunkDigest.IsName(id)) throw new DamagedChunkException($"'{id}' is not a manifest id");
        var bytes = TryReadBytes(id) ?? throw new DamagedChunkException($"manifest {id} is missing from the store");
        if (!ChunkDigest.Matches(bytes, id)) throw new DamagedChunkException($"manifest {id} is damaged: its bytes do not match its name");
        return Manifest.Parse(bytes, out var problem) ?? throw new DamagedChunkException($"manifest {id} is damaged: {problem}");
    }

    public bool TryRead(string id, out Manifest? manifest)
    {
        try
        {
            manifest = Read(id);
            return true;
        }
        catch (DamagedChunkException)
        {
            manifest = null;
            return false;
        }
    }
}

/// <summary>Manifests under <c>manifests/&lt;sha-256&gt;</c> in the local folder.</summary>
internal sealed class FolderManifestStore(Store.StoreLayout layout, Store.TempFiles temps, TimeProvider time) : ManifestStore
{
    private readonly Lock[] stripes = Enumerable.Range(0, 16).Select(_ => new Lock()).ToArray();

    public string PathOf(string id) => Path.Combine(layout.Manifests, id);

    public Lock StripeOf(string id) => stripes[Convert.ToByte(id[..2], 16) & 15];

    public override string Write(Manifest manifest)
    {
        var bytes = manifest.Serialize();
        var id = ChunkDigest.Name(bytes);
        var path = PathOf(id);
        lock (StripeOf(id))
        {
            if (File.Exists(path))
            {
                File.SetLastWriteTimeUtc(path, time.GetUtcNow().UtcDateTime);
                return id;
            }
        }
        // The temporary file carries the time, so the collector sees a fresh manifest from the moment it has its name.
        Store.DurableFile.WriteNew(path, bytes, temps, time.GetUtcNow(), overwrite: false);
        lock (StripeOf(id)) File.SetLastWriteTimeUtc(path, time.GetUtcNow().UtcDateTime);
        return id;
    }

    protected override byte[]? TryReadBytes(string id)
    {
        try
        {
            return File.ReadAllBytes(PathOf(id));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }
}

/// <summary>
/// Manifests in a bucket, <c>manifests/&lt;sha-256&gt;</c>, each written by one PUT after the chunks it names were
/// stored (a PUT is durable when it is answered).
/// </summary>
internal sealed class BucketManifestStore(Store.Bucket bucket) : ManifestStore
{
    public const string Prefix = "manifests/";

    public static string KeyOf(string id) => Prefix + id;

    public override string Write(Manifest manifest)
    {
        var bytes = manifest.Serialize();
        var id = ChunkDigest.Name(bytes);
        if (!bucket.Exists(KeyOf(id))) bucket.Put(KeyOf(id), bytes, bytes.Length);
        return id;
    }

    protected override byte[]? TryReadBytes(string id) => bucket.TryGetAll(KeyOf(id));
}
