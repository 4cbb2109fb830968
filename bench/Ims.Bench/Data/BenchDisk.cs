using System.Diagnostics;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Ims.Bench.Data;

/// <summary>What one extent of the benchmark disk holds.</summary>
internal enum ExtentKind
{
    Hole,
    Random,
    Repeated,
}

/// <summary>A run of the disk holding one kind of content; <paramref name="Pattern"/> picks the block a repeated run repeats.</summary>
internal sealed record Extent(long Offset, long Length, ExtentKind Kind, int Pattern);

/// <summary>One guest write of the 1% change.</summary>
internal sealed record ChangeWrite(long Offset, int Length);

/// <summary>
/// The benchmark disk, fully determined by its size and seed.
/// <para>
/// Layout: the disk is cut into 1 MiB units (the alignment partitioning tools and file systems give their extents, and
/// deliberately not the data plane's 4 MiB chunk size, so that extents straddle chunks as they do on real disks).
/// Exactly half of the units are holes (never written: the file is sparse there), a quarter hold random bytes, and a
/// quarter repeat a 64 KiB block (one of <see cref="RepeatedPatterns"/> distinct blocks per extent, like copies of the
/// same files). Each kind's units are grouped into extents of 1 to 16 units (lengths drawn from the seeded generator),
/// and the extents of all three kinds are shuffled together; neighbours of the same kind simply run on.
/// </para>
/// <para>
/// Content is a function of the position (and the seed) only: a 1 MiB unit of random bytes is SplitMix64 seeded from
/// the seed and the unit's offset, so any part of the disk can be generated independently and in parallel.
/// </para>
/// <para>
/// The 1% change: <see cref="ChangeWriteCount"/> writes of 1 MiB of fresh random bytes, one in each equal slice of
/// the disk, at a seeded 4 KiB-aligned offset inside its slice (so a write may straddle two chunks and may land on a
/// hole, random or repeated data alike).
/// </para>
/// </summary>
internal sealed class BenchDisk
{
    public const int Unit = 1024 * 1024;
    public const int RepeatedBlock = 64 * 1024;
    public const int RepeatedPatterns = 4;
    public const int MaxExtentUnits = 16;
    public const int ChangeWriteSize = 1024 * 1024;

    private BenchDisk(long size, int seed, IReadOnlyList<Extent> extents, IReadOnlyList<ChangeWrite> change, bool contiguousChange)
    {
        ContiguousChange = contiguousChange;
        Size = size;
        Seed = seed;
        Extents = extents;
        Change = change;
    }

    public long Size { get; }

    /// <summary>Whether the 1% change is one run of consecutive writes rather than one write per slice of the disk.</summary>
    public bool ContiguousChange { get; }
    public int Seed { get; }
    public IReadOnlyList<Extent> Extents { get; }
    public IReadOnlyList<ChangeWrite> Change { get; }

    /// <summary>1% of the disk in 1 MiB writes, rounded to whole writes.</summary>
    public int ChangeWriteCount => Change.Count;

    public long ChangedBytes => Change.Sum(w => (long)w.Length);

    public static BenchDisk Make(long size, int seed, bool contiguousChange = false)
    {
        if (size % Unit != 0 || size < 16L * Unit) throw new ArgumentOutOfRangeException(nameof(size), "whole MiB, at least 16");
        // System.Random with a seed is the legacy subtractive generator, whose sequence .NET keeps stable across versions.
        var random = new Random(seed);
        var units = size / Unit;
        var holeUnits = units / 2;
        var randomUnits = units / 4;
        var repeatedUnits = units - holeUnits - randomUnits;

        var pieces = new List<(ExtentKind Kind, long Units)>();
        void Split(ExtentKind kind, long total)
        {
            while (total > 0)
            {
                var length = Math.Min(total, random.Next(1, MaxExtentUnits + 1));
                pieces.Add((kind, length));
                total -= length;
            }
        }
        Split(ExtentKind.Hole, holeUnits);
        Split(ExtentKind.Random, randomUnits);
        Split(ExtentKind.Repeated, repeatedUnits);
        for (var i = pieces.Count - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (pieces[i], pieces[j]) = (pieces[j], pieces[i]);
        }

        var extents = new List<Extent>(pieces.Count);
        long offset = 0;
        foreach (var (kind, length) in pieces)
        {
            var pattern = kind == ExtentKind.Repeated ? random.Next(RepeatedPatterns) : 0;
            extents.Add(new Extent(offset, length * Unit, kind, pattern));
            offset += length * Unit;
        }

        var writes = (int)Math.Max(1, Math.Round(size / 100.0 / ChangeWriteSize));
        var change = new List<ChangeWrite>(writes);
        if (contiguousChange)
        {
            // One run of consecutive writes at a seeded 4 KiB-aligned place, as a guest rewriting one file does.
            var room = (size - (long)writes * ChangeWriteSize) / 4096;
            var start = (long)(random.NextDouble() * room) * 4096;
            for (var i = 0; i < writes; i++) change.Add(new ChangeWrite(start + (long)i * ChangeWriteSize, ChangeWriteSize));
        }
        else
        {
            var slice = size / writes;
            for (var i = 0; i < writes; i++)
            {
                var room = (slice - ChangeWriteSize) / 4096;
                var inSlice = (long)(random.NextDouble() * room) * 4096;
                change.Add(new ChangeWrite(i * slice + inSlice, ChangeWriteSize));
            }
        }
        return new BenchDisk(size, seed, extents, change, contiguousChange);
    }

    public long BytesOf(ExtentKind kind) => Extents.Where(e => e.Kind == kind).Sum(e => e.Length);

    public string Describe()
    {
        static string MiB(long bytes) => (bytes / (double)Unit).ToString("0", CultureInfo.InvariantCulture);
        var where = ContiguousChange
            ? string.Create(CultureInfo.InvariantCulture, $"one after the other from a seeded 4 KiB-aligned offset ({Change[0].Offset})")
            : $"one per {MiB(Size / Change.Count)} MiB slice at a seeded 4 KiB-aligned offset";
        return string.Create(CultureInfo.InvariantCulture,
            $"{MiB(Size)} MiB, seed {Seed}: {Extents.Count} extents of 1-{MaxExtentUnits} MiB at 1 MiB alignment, shuffled; " +
            $"holes {MiB(BytesOf(ExtentKind.Hole))} MiB, random {MiB(BytesOf(ExtentKind.Random))} MiB, " +
            $"repeated 64 KiB blocks ({RepeatedPatterns} distinct) {MiB(BytesOf(ExtentKind.Repeated))} MiB; " +
            $"1% change: {Change.Count} writes of {ChangeWriteSize / 1024} KiB ({ChangedBytes * 100.0 / Size:0.00}% of the disk), {where}");
    }

    /// <summary>Fills <paramref name="buffer"/> with the content of the 1 MiB unit at <paramref name="offset"/> of an extent.</summary>
    public void FillUnit(Extent extent, long offset, Span<byte> buffer)
    {
        switch (extent.Kind)
        {
            case ExtentKind.Hole:
                buffer.Clear();
                break;
            case ExtentKind.Random:
                FillRandom(Mix((ulong)Seed, (ulong)offset), buffer);
                break;
            case ExtentKind.Repeated:
                var pattern = RepeatedBlockOf(extent.Pattern);
                for (var at = 0; at < buffer.Length; at += RepeatedBlock)
                    pattern.AsSpan(0, Math.Min(RepeatedBlock, buffer.Length - at)).CopyTo(buffer[at..]);
                break;
        }
    }

    /// <summary>The bytes of one change write.</summary>
    public void FillChange(ChangeWrite write, Span<byte> buffer) =>
        FillRandom(Mix((ulong)Seed ^ 0x9E3779B97F4A7C15UL, (ulong)write.Offset), buffer[..write.Length]);

    private readonly Dictionary<int, byte[]> _patterns = [];

    private byte[] RepeatedBlockOf(int pattern)
    {
        lock (_patterns)
        {
            if (_patterns.TryGetValue(pattern, out var block)) return block;
            block = new byte[RepeatedBlock];
            FillRandom(Mix((ulong)Seed, 0xB10C0000UL + (ulong)pattern), block);
            _patterns[pattern] = block;
            return block;
        }
    }

    private static ulong Mix(ulong a, ulong b) => SplitMix(a ^ SplitMix(b));

    private static ulong SplitMix(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    private static void FillRandom(ulong state, Span<byte> buffer)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(buffer);
        for (var i = 0; i < words.Length; i++)
        {
            state += 0x9E3779B97F4A7C15UL;
            var z = (state ^ (state >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            // Little-endian bytes on every machine, so the disk is the same everywhere.
            words[i] = BitConverter.IsLittleEndian ? z : BinaryPrimitives.ReverseEndianness(z);
        }
        var tail = buffer[(words.Length * 8)..];
        for (var i = 0; i < tail.Length; i++) tail[i] = (byte)SplitMix(state + (ulong)i);
    }

    /// <summary>The non-hole units in disk order: what a writer must write (holes stay holes).</summary>
    public IEnumerable<(Extent Extent, long Offset)> DataUnits() =>
        Extents.Where(e => e.Kind != ExtentKind.Hole)
            .SelectMany(e => Enumerable.Range(0, (int)(e.Length / Unit)).Select(i => (e, e.Offset + (long)i * Unit)));

    /// <summary>Writes the original disk as a sparse file (holes are never written) and flushes it.</summary>
    public void WriteFile(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read);
        RandomAccess.SetLength(handle, Size);
        Parallel.ForEach(DataUnits(), new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            () => new byte[Unit],
            (unit, _, buffer) =>
            {
                FillUnit(unit.Extent, unit.Offset, buffer);
                RandomAccess.Write(handle, buffer, unit.Offset);
                return buffer;
            },
            _ => { });
        RandomAccess.FlushToDisk(handle);
    }

    /// <summary>Applies the 1% change to the file, as a guest would.</summary>
    public void ApplyChangeToFile(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        var buffer = new byte[ChangeWriteSize];
        foreach (var write in Change)
        {
            FillChange(write, buffer);
            RandomAccess.Write(handle, buffer.AsSpan(0, write.Length), write.Offset);
        }
        RandomAccess.FlushToDisk(handle);
    }

    /// <summary>The 4 MiB chunks (our chunk size) the 1% change touches, in order.</summary>
    public IReadOnlyList<long> ChangedChunks() =>
        Change.SelectMany(w => LongRange(w.Offset / ChunkSize, (w.Offset + w.Length - 1) / ChunkSize)).Distinct().Order().ToArray();

    private const int ChunkSize = 4 * 1024 * 1024;

    private static IEnumerable<long> LongRange(long first, long last)
    {
        for (var i = first; i <= last; i++) yield return i;
    }

    /// <summary>
    /// The machine's limit for an incremental backup at our chunk size: copies the changed chunks of the file (as they
    /// are now) into a new file, a few at a time, and flushes it. No hashing, no lookups: only the bytes any such backup
    /// must read and write. Returns the time taken; the copy is deleted.
    /// </summary>
    public TimeSpan CopyChangedChunks(string path, string copyPath)
    {
        var started = Stopwatch.GetTimestamp();
        using (var source = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        using (var copy = File.OpenHandle(copyPath, FileMode.CreateNew, FileAccess.Write))
        {
            Parallel.ForEach(ChangedChunks(), new ParallelOptions { MaxDegreeOfParallelism = 4 }, () => new byte[ChunkSize], (chunk, _, buffer) =>
            {
                var offset = chunk * ChunkSize;
                var read = RandomAccess.Read(source, buffer, offset);
                RandomAccess.Write(copy, buffer.AsSpan(0, read), offset);
                return buffer;
            }, _ => { });
            RandomAccess.FlushToDisk(copy);
        }
        var elapsed = Stopwatch.GetElapsedTime(started);
        File.Delete(copyPath);
        return elapsed;
    }

    /// <summary>SHA-256 of a file (holes read as zeros), lowercase hex; for checking restores, never timed.</summary>
    public static string HashFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
