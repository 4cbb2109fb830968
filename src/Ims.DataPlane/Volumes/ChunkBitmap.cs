using System.Runtime.InteropServices;

namespace Ims.DataPlane.Volumes;

/// <summary>One bit per chunk, settable from many threads. Bit i lives in byte i/8 at bit i%8 (little-endian words).</summary>
internal sealed class ChunkBitmap
{
    private readonly long[] words;

    public ChunkBitmap(long count)
    {
        Count = count;
        words = new long[(count + 63) / 64];
    }

    public long Count { get; }

    public int ByteLength => (int)((Count + 7) / 8);

    public bool Get(long index) => (Volatile.Read(ref words[index >> 6]) & (1L << (int)(index & 63))) != 0;

    /// <summary>Sets a bit; true when it was clear.</summary>
    public bool Set(long index)
    {
        var bit = 1L << (int)(index & 63);
        return (Interlocked.Or(ref words[index >> 6], bit) & bit) == 0;
    }

    public void SetAll()
    {
        for (long i = 0; i < Count; i++) Set(i);
    }

    /// <summary>The byte holding <paramref name="index"/>'s bit, as it would be after setting that bit.</summary>
    public byte ByteWith(long index) =>
        (byte)((words[index >> 6] | (1L << (int)(index & 63))) >> (int)((index & 63) & ~7L));

    public ChunkBitmap Clone()
    {
        var copy = new ChunkBitmap(Count);
        for (var i = 0; i < words.Length; i++) copy.words[i] = Volatile.Read(ref words[i]);
        return copy;
    }

    public void CopyTo(Span<byte> destination) => MemoryMarshal.AsBytes(words.AsSpan())[..ByteLength].CopyTo(destination);

    public static ChunkBitmap FromBytes(long count, ReadOnlySpan<byte> source)
    {
        var bitmap = new ChunkBitmap(count);
        source[..bitmap.ByteLength].CopyTo(MemoryMarshal.AsBytes(bitmap.words.AsSpan()));
        return bitmap;
    }
}
