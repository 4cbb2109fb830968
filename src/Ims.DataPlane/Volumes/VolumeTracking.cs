using System.Buffers.Binary;
using Ims.DataPlane.Chunks;
using Ims.DataPlane.Native;
using Ims.DataPlane.Store;
using Microsoft.Win32.SafeHandles;

namespace Ims.DataPlane.Volumes;

/// <summary>
/// A volume's change tracking, <c>volumes/&lt;id&gt;.track</c>: the base manifest (the last completed capture or
/// restore) and one dirty bit per chunk written since. A bit reaches the device before the write that set it is
/// acknowledged; the header only changes by replacing the whole file, so it is never torn. A missing or unreadable
/// file means "no base": the next capture reads everything, which is always safe.
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

    private VolumeTracking(string path, TempFiles temps, SafeFileHandle handle, ChunkBitmap dirty, string? baseManifestId)
    {
        this.path = path;
        this.temps = temps;
        this.handle = handle;
        Dirty = dirty;
        BaseManifestId = baseManifestId;
    }

    public ChunkBitmap Dirty { get; private set; }

    public string? BaseManifestId { get; private set; }

    /// <summary>Replaces a volume's tracking file (before the volume file itself is published).</summary>
    public static void WriteFile(string path, long chunkCount, string? baseManifestId, ChunkBitmap? dirty, TempFiles temps)
    {
        var bitmap = dirty ?? new ChunkBitmap(chunkCount);
        var bytes = new byte[HeaderSize + bitmap.ByteLength];
        Magic.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), FormatVersion);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8), chunkCount);
        if (baseManifestId is not null)
        {
            bytes[16] = 1;
            Convert.FromHexString(baseManifestId, bytes.AsSpan(24, 32), out _, out _);
        }
        bitmap.CopyTo(bytes.AsSpan(HeaderSize));
        DurableFile.WriteNew(path, bytes, temps, mtime: null, overwrite: true);
    }

    public static VolumeTracking Open(string path, long chunkCount, TempFiles temps)
    {
        if (!TryLoad(path, chunkCount, out var dirty, out var baseId))
        {
            dirty = new ChunkBitmap(chunkCount);
            dirty.SetAll();
            baseId = null;
            WriteFile(path, chunkCount, baseId, dirty, temps);
        }
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        return new VolumeTracking(path, temps, handle, dirty!, baseId);
    }

    private static bool TryLoad(string path, long chunkCount, out ChunkBitmap? dirty, out string? baseId)
    {
        dirty = null;
        baseId = null;
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
        if (bytes[16] == 1) baseId = Convert.ToHexStringLower(bytes.AsSpan(24, 32));
        dirty = ChunkBitmap.FromBytes(chunkCount, bytes.AsSpan(HeaderSize));
        return baseId is null || ChunkDigest.IsName(baseId);
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
    public void Commit(string baseManifestId, ChunkBitmap writtenSince)
    {
        lock (sync)
        {
            WriteFile(path, writtenSince.Count, baseManifestId, writtenSince, temps);
            var reopened = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            handle.Dispose();
            handle = reopened;
            Dirty = writtenSince;
            BaseManifestId = baseManifestId;
        }
    }

    public void Dispose()
    {
        lock (sync) handle.Dispose();
    }
}
