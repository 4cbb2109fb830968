using Microsoft.Win32.SafeHandles;

namespace Ims.DataPlane.Native;

/// <summary>Reads of sparse files that never read a hole: holes are filled with zeros in memory.</summary>
internal static class SparseFile
{
    /// <summary>Fills <paramref name="destination"/> with the file's bytes at <paramref name="offset"/>; false when the range is all hole.</summary>
    public static bool Read(SafeFileHandle file, long offset, Span<byte> destination)
    {
        var end = offset + destination.Length;
        var position = offset;
        var anyData = false;
        while (position < end)
        {
            var data = Posix.NextData(file, position);
            if (data < 0 || data >= end)
            {
                destination[(int)(position - offset)..].Clear();
                break;
            }
            if (data > position) destination[(int)(position - offset)..(int)(data - offset)].Clear();
            var hole = Math.Min(Posix.NextHole(file, data), end);
            ReadExactly(file, data, destination[(int)(data - offset)..(int)(hole - offset)]);
            anyData = true;
            position = hole;
        }
        return anyData;
    }

    /// <summary>Reads the whole span; bytes past the end of the file read as zeros.</summary>
    public static void ReadExactly(SafeFileHandle file, long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            var read = RandomAccess.Read(file, destination, offset);
            if (read == 0)
            {
                destination.Clear();
                return;
            }
            destination = destination[read..];
            offset += read;
        }
    }

    /// <summary>Writes only the 4 KiB blocks that are not all zero, so zeros stay holes in a fresh file.</summary>
    public static void WriteSkippingZeroBlocks(SafeFileHandle file, ReadOnlySpan<byte> data, long offset)
    {
        const int block = 4096;
        var position = 0;
        while (position < data.Length)
        {
            while (position < data.Length && IsZero(data, position, block)) position += block;
            var start = position;
            while (position < data.Length && !IsZero(data, position, block)) position += block;
            if (position > start) RandomAccess.Write(file, data[start..Math.Min(position, data.Length)], offset + start);
        }
    }

    private static bool IsZero(ReadOnlySpan<byte> data, int start, int length) =>
        data.Slice(start, Math.Min(length, data.Length - start)).IndexOfAnyExcept((byte)0) < 0;
}

/// <summary>
/// Answers "does this range hold any data?" for ranges visited in increasing order, with about two seeks per data
/// region rather than per chunk (a 2 TiB disk with little data costs a handful of calls).
/// </summary>
internal sealed class DataRegions(SafeFileHandle file)
{
    private long regionStart = -1;
    private long regionEnd = -1;

    public bool AnyData(long start, long end)
    {
        if (start >= regionEnd)
        {
            var data = Posix.NextData(file, start);
            if (data < 0)
            {
                regionStart = regionEnd = long.MaxValue;
                return false;
            }
            regionStart = data;
            regionEnd = Posix.NextHole(file, data);
        }
        return end > regionStart && start < regionEnd;
    }
}
