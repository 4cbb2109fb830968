using Ims.DataPlane.Manifests;
using Ims.DataPlane.Native;
using Ims.DataPlane.Store;

namespace Ims.DataPlane.Volumes;

/// <summary>Volumes by id, opened on first use and kept open (their locks and snapshots live with the open volume).</summary>
internal sealed class VolumeRegistry(StoreLayout layout, TempFiles temps) : IDisposable
{
    private readonly Dictionary<string, Volume> open = new(StringComparer.Ordinal);
    private readonly Lock sync = new();

    /// <summary>Volume ids become file names: letters, digits, '-', '_' and '.', not starting with '.'.</summary>
    public static void CheckId(string volumeId)
    {
        ArgumentException.ThrowIfNullOrEmpty(volumeId);
        if (volumeId.Length > 128 || volumeId[0] == '.'
            || volumeId.AsSpan().IndexOfAnyExcept("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") >= 0)
            throw new ArgumentException($"'{volumeId}' is not a usable volume id.", nameof(volumeId));
    }

    public bool Exists(string volumeId)
    {
        CheckId(volumeId);
        return File.Exists(layout.VolumeFile(volumeId));
    }

    /// <summary>Whether a capture reads the volume now.</summary>
    public bool IsBeingCaptured(string volumeId)
    {
        lock (sync) return open.TryGetValue(volumeId, out var volume) && volume.IsBeingCaptured;
    }

    public Volume Get(string volumeId)
    {
        CheckId(volumeId);
        lock (sync)
        {
            if (open.TryGetValue(volumeId, out var volume)) return volume;
            Microsoft.Win32.SafeHandles.SafeFileHandle data;
            try
            {
                data = File.OpenHandle(layout.VolumeFile(volumeId), FileMode.Open, FileAccess.ReadWrite,
                    FileShare.ReadWrite | FileShare.Delete);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                throw new VolumeRangeException($"Volume {volumeId} does not exist.");
            }
            var size = RandomAccess.GetLength(data);
            var tracking = VolumeTracking.Open(layout.TrackFile(volumeId), Manifest.ChunkCountOf(size), temps);
            volume = new Volume(volumeId, data, size, tracking);
            open[volumeId] = volume;
            return volume;
        }
    }

    /// <summary>
    /// Publishes a volume file prepared under a temporary name (already flushed). Its tracking file is written first,
    /// so a published volume never pairs with a stale tracking file. False when the volume already existed.
    /// </summary>
    public bool Publish(string volumeId, string preparedPath, long size, VolumeBase? volumeBase)
    {
        lock (sync)
        {
            var final = layout.VolumeFile(volumeId);
            if (File.Exists(final)) return false;
            VolumeTracking.WriteFile(layout.TrackFile(volumeId), Manifest.ChunkCountOf(size), volumeBase, dirty: null, temps);
            if (!DurableFile.Rename(preparedPath, final, overwrite: false)) return false;
            Posix.FlushDirectory(layout.Volumes);
            return true;
        }
    }

    /// <summary>
    /// Replaces an existing volume's file with one prepared under a temporary name (already flushed), with a fresh
    /// tracking file naming <paramref name="volumeBase"/>. The open volume is closed first (writers finish; later calls
    /// open the new file). Throws <see cref="VolumeBusyException"/> while a capture reads the volume.
    /// </summary>
    public void Replace(string volumeId, string preparedPath, long size, VolumeBase? volumeBase)
    {
        lock (sync)
        {
            Close(volumeId);
            VolumeTracking.WriteFile(layout.TrackFile(volumeId), Manifest.ChunkCountOf(size), volumeBase, dirty: null, temps);
            DurableFile.Rename(preparedPath, layout.VolumeFile(volumeId), overwrite: true);
            Posix.FlushDirectory(layout.Volumes);
        }
    }

    /// <summary>
    /// Grows a volume to <paramref name="newSize"/> bytes (zeros at the end); nothing when it is that large already.
    /// Throws <see cref="VolumeRangeException"/> when it does not exist and <see cref="VolumeBusyException"/> while a capture
    /// reads it.
    /// </summary>
    public void Extend(string volumeId, long newSize)
    {
        CheckId(volumeId);
        lock (sync)
        {
            var path = layout.VolumeFile(volumeId);
            if (!File.Exists(path)) throw new VolumeRangeException($"Volume {volumeId} does not exist.");
            Close(volumeId);
            using var data = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            var oldSize = RandomAccess.GetLength(data);
            if (oldSize >= newSize) return;
            // Either order is safe after a crash: a tracking file whose chunk count does not match the volume reads as
            // "everything dirty".
            VolumeTracking.Grow(layout.TrackFile(volumeId), oldSize, newSize, temps);
            RandomAccess.SetLength(data, newSize);
            Posix.Flush(data);
        }
    }

    // Caller holds sync.
    private void Close(string volumeId)
    {
        if (!open.TryGetValue(volumeId, out var volume)) return;
        if (volume.IsBeingCaptured) throw new VolumeBusyException($"Volume {volumeId} is being captured; try again when the capture has finished.");
        open.Remove(volumeId);
        volume.Dispose();
    }

    public void Delete(string volumeId)
    {
        CheckId(volumeId);
        lock (sync)
        {
            if (open.Remove(volumeId, out var volume)) volume.Dispose();
            // The volume first, then its tracking: a tracking file without a volume is harmless and replaced on create.
            File.Delete(layout.VolumeFile(volumeId));
            File.Delete(layout.TrackFile(volumeId));
            Posix.FlushDirectory(layout.Volumes);
        }
    }

    public void Dispose()
    {
        lock (sync)
        {
            foreach (var volume in open.Values) volume.Dispose();
            open.Clear();
        }
    }
}
