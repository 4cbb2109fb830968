using Ims.DataPlane.Native;
using Ims.DataPlane.Store;
using Microsoft.Win32.SafeHandles;

namespace Ims.DataPlane.Volumes;

/// <summary>
/// A volume frozen at a capture's instant. Each chunk is pending until the capture has read it (or learned it needs
/// no reading); a write to a pending chunk first copies the chunk's old bytes into a side file, so the capture reads
/// the instant's bytes and the writer waits at most one chunk copy. The side file is scratch: never flushed, deleted
/// with the snapshot.
/// </summary>
internal sealed class Snapshot : IDisposable
{
    private enum ChunkState : byte
    {
        Settled = 0,
        Pending = 1,
        Preserved = 2,
        PreservedZero = 3,
    }

    private readonly Volume volume;
    private readonly ChunkState[] states;
    private readonly string sidePath;
    private readonly Lock sideSync = new();
    private SafeFileHandle? side;

    public Snapshot(Volume volume, ChunkBitmap dirtyAtInstant, VolumeBase? volumeBase, string sidePath)
    {
        this.volume = volume;
        this.sidePath = sidePath;
        DirtyAtInstant = dirtyAtInstant;
        Base = volumeBase;
        WrittenSince = new ChunkBitmap(volume.ChunkCount);
        states = new ChunkState[volume.ChunkCount];
        Array.Fill(states, ChunkState.Pending);
    }

    public Volume Volume => volume;
    public ChunkBitmap DirtyAtInstant { get; }
    public VolumeBase? Base { get; }

    /// <summary>Chunks written after the instant: the dirty set once this capture becomes the base.</summary>
    public ChunkBitmap WrittenSince { get; }

    public string SidePath => sidePath;

    /// <summary>Called by a writer holding the chunk's stripe lock, before it overwrites the chunk.</summary>
    public void PreserveIfPending(long chunk)
    {
        if (states[chunk] != ChunkState.Pending) return;
        var length = Manifests.Manifest.ChunkLength(volume.Size, chunk);
        var buffer = ChunkBuffers.Rent();
        try
        {
            var content = buffer.AsSpan(0, length);
            if (!SparseFile.Read(volume.Data, chunk * DataPlane.ChunkSize, content) || content.IndexOfAnyExcept((byte)0) < 0)
            {
                states[chunk] = ChunkState.PreservedZero;
                return;
            }
            RandomAccess.Write(Side(), content, chunk * DataPlane.ChunkSize);
            states[chunk] = ChunkState.Preserved;
        }
        finally
        {
            ChunkBuffers.Return(buffer);
        }
    }

    /// <summary>Reads a chunk as it was at the instant; false when it was all hole. The chunk is settled afterwards.</summary>
    public bool ReadChunk(long chunk, Span<byte> destination)
    {
        lock (volume.StripeOf(chunk))
        {
            var state = states[chunk];
            states[chunk] = ChunkState.Settled;
            switch (state)
            {
                case ChunkState.Preserved:
                    SparseFile.ReadExactly(side!, chunk * DataPlane.ChunkSize, destination);
                    return true;
                case ChunkState.PreservedZero:
                    destination.Clear();
                    return false;
                default:
                    return SparseFile.Read(volume.Data, chunk * DataPlane.ChunkSize, destination);
            }
        }
    }

    /// <summary>The capture needs nothing more of this chunk (it is known unchanged, or known zero).</summary>
    public void Settle(long chunk)
    {
        lock (volume.StripeOf(chunk)) states[chunk] = ChunkState.Settled;
    }

    public bool IsPending(long chunk)
    {
        lock (volume.StripeOf(chunk)) return states[chunk] != ChunkState.Settled;
    }

    private SafeFileHandle Side()
    {
        lock (sideSync)
            return side ??= File.OpenHandle(sidePath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
    }

    public void Dispose()
    {
        lock (sideSync)
        {
            side?.Dispose();
            side = null;
        }
        try
        {
            File.Delete(sidePath);
        }
        catch (IOException)
        {
            // A stale side file is removed by the next collection.
        }
    }
}
