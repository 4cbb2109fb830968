using System.Buffers.Binary;
using Ims.DataPlane.Chunks;
using Ims.DataPlane.Native;
using Ims.DataPlane.Store;
using Microsoft.Win32.SafeHandles;

namespace Ims.DataPlane.Volumes;

/// <summary>
/// A volume's change tracking, <c>volumes/&lt;id&gt;.track</c>: the base manifest (the last completed capture or
/// restore), the deletion epoch the base was recorded under (when known), and one dirty bit per chunk written since.
/// A bit reaches the device before the write that set it is acknowledged; the header only changes by replacing the
/// whole file, so it is never torn. A missing or unreadable file means "no base": the next capture reads everything,
/// which is always safe. Header: magic, version, chunk count, base flag (byte 16), epoch flag (byte 17), base manifest
/// (bytes 24-55), epoch (bytes 56-63); files written before the epoch existed read as "epoch unknown".
/// </summary>
internal sealed class VolumeTracking : IDisposable
{
    private const int HeaderSize = 64;
    private const uint FormatVersion = 1;
    private static ReadOnlySpan<byte> Magic => "IMST"u8;

    private readonly string path;
    private readonly TempFiles temps;
    private readonly Lock sync = new();
    private SafeFileHandle handle;

    private VolumeTracking(string path, TempFiles temps, SafeFileHandle handle, ChunkBitmap dirty, VolumeBase? volumeBase)
    {
        this.path = path;
        this.temps = temps;
        this.handle = handle;
        Dirty = dirty;
        Base = volumeBase;
    }

    public ChunkBitmap Dirty { get; private set; }

    public VolumeBase? Base { get; private set; }

    /// <summary>Replaces a volume's tracking file (before the volume file itself is published).</summary>
    public static void WriteFile(string path, long chunkCount, VolumeBase? volumeBase, ChunkBitmap? dirty, TempFiles temps)
    {
        var bitmap = dirty ?? new ChunkBitmap(chunkCount);
        var bytes = new byte[HeaderSize + bitmap.ByteLength];
        Magic.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), FormatVersion);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8), chunkCount);
        if (volumeBase is { } known)
        {
            bytes[16] = 1;
            Convert.FromHexString(known.ManifestId, bytes.AsSpan(24, 32), out _, out _);
            if (known.DeletionEpoch is { } epoch)
            {
                bytes[17] = 1;
                BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(56), epoch);
            }
        }
        bitmap.CopyTo(bytes.AsSpan(HeaderSize));
        DurableFile.WriteNew(path, bytes, temps, mtime: null, overwrite: true);
    }

    /// <summary>
    /// Rewrites the tracking of a volume growing from <paramref name="oldSize"/> to <paramref name="newSize"/> bytes: the
    /// base and the dirty bits stay, the new chunks are clean (they are zero, and a base describing the smaller disk reads
    /// as zero past its end). A last chunk that was partial becomes dirty: its grown tail changes its content. A tracking
    /// file that cannot be read is left alone; the grown volume then opens with every chunk dirty, which is always safe.
    /// </summary>
    public static void Grow(string path, long oldSize, long newSize, TempFiles temps)
    {
        var oldCount = Manifests.Manifest.ChunkCountOf(oldSize);
        if (!TryLoad(path, oldCount, out var dirty, out var volumeBase)) return;
        var grown = new ChunkBitmap(Manifests.Manifest.ChunkCountOf(newSize));
        for (long chunk = 0; chunk < oldCount; chunk++)
            if (dirty!.Get(chunk)) grown.Set(chunk);
        if (oldSize % DataPlane.ChunkSize != 0) grown.Set(oldCount - 1);
        WriteFile(path, grown.Count, volumeBase, grown, temps);
    }

    public static VolumeTracking Open(string path, long chunkCount, TempFiles temps)
    {
        if (!TryLoad(path, chunkCount, out var dirty, out var volumeBase))
        {
            dirty = new ChunkBitmap(chunkCount);
            dirty.SetAll();
            volumeBase = null;
            WriteFile(path, chunkCount, volumeBase, dirty, temps);
        }
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        return new VolumeTracking(path, temps, handle, dirty!, volumeBase);
    }

    private static bool TryLoad(string path, long chunkCount, out ChunkBitmap? dirty, out VolumeBase? volumeBase)
    {
        dirty = null;
        volumeBase = null;
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return false;
        }
        if (bytes.Length != HeaderSize + ((chunkCount + 7) / 8) || !bytes.AsSpan(0, 4).SequenceEqual(Magic)
            || BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4)) != FormatVersion
            || BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8)) != chunkCount)
            return false;
        if (bytes[16] == 1)
        {
            var baseId = Convert.ToHexStringLower(bytes.AsSpan(24, 32));
            if (!ChunkDigest.IsName(baseId)) return false;
            volumeBase = new VolumeBase(baseId, bytes[17] == 1 ? BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(56)) : null);
        }
        dirty = ChunkBitmap.FromBytes(chunkCount, bytes.AsSpan(HeaderSize));
        return true;
    }

    /// <summary>Marks a chunk changed, durably; only the first write to a clean chunk pays the flush.</summary>
    public void MarkDirty(long chunk)
    {
        if (Dirty.Get(chunk)) return;
        lock (sync)
        {
            if (Dirty.Get(chunk)) return;
            Span<byte> one = [Dirty.ByteWith(chunk)];
            RandomAccess.Write(handle, one, HeaderSize + (chunk / 8));
            Posix.FlushData(handle);
            // Only now may another writer of this chunk skip the flush.
            Dirty.Set(chunk);
        }
    }

    /// <summary>A capture or restore completed: the new base, and the chunks written after its instant.</summary>
    public void Commit(VolumeBase volumeBase, ChunkBitmap writtenSince)
    {
        lock (sync)
        {
            WriteFile(path, writtenSince.Count, volumeBase, writtenSince, temps);
            var reopened = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            handle.Dispose();
            handle = reopened;
            Dirty = writtenSince;
            Base = volumeBase;
        }
    }

    public void Dispose()
    {
        lock (sync) handle.Dispose();
    }
}

/// <summary>
/// The manifest a volume's clean chunks match, and the deletion epoch it was recorded under: null when a collection
/// was running then, so it is not known that every chunk the manifest names is still stored.
/// </summary>
internal sealed record VolumeBase(string ManifestId, long? DeletionEpoch);
