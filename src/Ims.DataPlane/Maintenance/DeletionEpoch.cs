using System.Buffers.Binary;
using System.Security.Cryptography;
using Ims.DataPlane.Store;

namespace Ims.DataPlane.Maintenance;

/// <summary>
/// A token that changes whenever chunk files may have left the store: before a collection deletes its first chunk, and
/// after a damaged chunk is moved aside. A volume's base recorded under the current token names only chunks that are
/// still stored, so a capture can reuse them without looking each one up (a cold metadata read per chunk). Kept in
/// <c>deletion-epoch</c>; a missing or unreadable file starts a fresh random token, which matches no recorded base.
/// </summary>
internal sealed class DeletionEpoch
{
    private readonly string path;
    private readonly TempFiles temps;
    private readonly Lock sync = new();
    private long current;

    private DeletionEpoch(string path, TempFiles temps)
    {
        this.path = path;
        this.temps = temps;
    }

    public static DeletionEpoch Open(StoreLayout layout, TempFiles temps)
    {
        var epoch = new DeletionEpoch(Path.Combine(layout.Root, "deletion-epoch"), temps);
        if (TryRead(epoch.path) is { } stored) epoch.current = stored;
        else epoch.Advance();
        return epoch;
    }

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
            DurableFile.WriteNew(path, bytes, temps, mtime: null, overwrite: true);
            current = next;
        }
    }

    private static long? TryRead(string path)
    {
        try
        {
            var bytes = File.ReadAllBytes(path);
            return bytes.Length == sizeof(long) && BinaryPrimitives.ReadInt64LittleEndian(bytes) is var token and not 0 ? token : null;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }
}
