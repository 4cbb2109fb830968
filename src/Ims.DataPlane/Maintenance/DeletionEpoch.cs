using System.Buffers.Binary;
using System.Security.Cryptography;
using Ims.DataPlane.Store;

namespace Ims.DataPlane.Maintenance;

/// <summary>
/// A token that changes whenever chunk files may have left the store: before a collection deletes its first chunk, and
/// after a damaged chunk is moved aside. A volume's base recorded under the current token names only chunks that are
/// still stored, so a capture can reuse them without looking each one up (a cold metadata read per chunk). Kept in
/// <c>deletion-epoch</c> (a file, or an object beside the chunks in a bucket); a missing or unreadable file starts a fresh random token, which matches no recorded base.
/// </summary>
internal sealed class DeletionEpoch
{
    private const string Name = "deletion-epoch";
    private readonly Action<byte[]> save;
    private readonly Lock sync = new();
    private long current;

    private DeletionEpoch(Action<byte[]> save, byte[]? stored)
    {
        this.save = save;
        if (stored is { Length: sizeof(long) } && BinaryPrimitives.ReadInt64LittleEndian(stored) is var token and not 0) current = token;
        else Advance();
    }

    /// <summary>The token in the store's folder (<c>deletion-epoch</c>).</summary>
    public static DeletionEpoch Open(StoreLayout layout, TempFiles temps)
    {
        var path = Path.Combine(layout.Root, Name);
        return new DeletionEpoch(bytes => DurableFile.WriteNew(path, bytes, temps, mtime: null, overwrite: true), TryRead(path));
    }

    /// <summary>The token beside the chunks in a bucket (the object <c>deletion-epoch</c>).</summary>
    public static DeletionEpoch Open(Bucket bucket) => new(bytes => bucket.Put(Name, bytes, bytes.Length), bucket.TryGetAll(Name));

    public long Current
    {
        get
        {
            lock (sync) return current;
        }
    }

    /// <summary>Durably moves to a new token; returns only once the new token would survive a crash.</summary>
    public void Advance()
    {
        lock (sync)
        {
            long next;
            do next = BinaryPrimitives.ReadInt64LittleEndian(RandomNumberGenerator.GetBytes(sizeof(long)));
            while (next == 0 || next == current);
            var bytes = new byte[sizeof(long)];
            BinaryPrimitives.WriteInt64LittleEndian(bytes, next);
            save(bytes);
            current = next;
        }
    }

    private static byte[]? TryRead(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }
}
