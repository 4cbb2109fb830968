using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Ims.Service.Ims;

/// <summary>
/// The content of a seeded public image: a small raw disk, generated deterministically from the image's name, that a
/// person (or a test) recognises with <c>xxd</c>. Layout (README, "Public image content"):
/// <list type="bullet">
/// <item>0x000: a DOS MBR: disk signature at 0x1B8, one bootable partition entry at 0x1BE (LBA 2048 up to the end of
/// the disk; type 0x83 Linux, 0x07 for Windows images), 0x55 0xAA at 0x1FE;</item>
/// <item>0x100000 (1 MiB, the partition's first sector): the ASCII banner <c>IMS public image: {name}</c> and a line feed;</item>
/// <item>0x101000 to 0x301000: 2 MiB of pseudo-random bytes seeded by the name (so images differ and do not dedupe);</item>
/// <item>everything else up to 32 MiB: zeros (a hole in the generated file).</item>
/// </list>
/// </summary>
public static class PublicImageDisk
{
    public const long VirtualSize = 32L * 1024 * 1024;
    public const int SectorSize = 512;
    public const long PartitionStartLba = 2048;
    public const long BannerOffset = PartitionStartLba * SectorSize;
    public const string BannerPrefix = "IMS public image: ";
    public const long DataOffset = BannerOffset + 4096;
    public const int DataLength = 2 * 1024 * 1024;

    public const byte LinuxPartition = 0x83;
    public const byte NtfsPartition = 0x07;

    /// <summary>Writes the master boot record into <paramref name="sector"/> (at least 512 bytes, assumed zeroed).</summary>
    public static void WriteMasterBootRecord(Span<byte> sector, uint diskSignature, byte partitionType)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sector.Length, SectorSize);
        BinaryPrimitives.WriteUInt32LittleEndian(sector[0x1B8..], diskSignature);
        var entry = sector.Slice(0x1BE, 16);
        var sectors = VirtualSize / SectorSize - PartitionStartLba;
        entry[0] = 0x80; // bootable
        WriteChs(entry[1..4], PartitionStartLba);
        entry[4] = partitionType;
        WriteChs(entry[5..8], PartitionStartLba + sectors - 1);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[8..], (uint)PartitionStartLba);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[12..], (uint)sectors);
        sector[0x1FE] = 0x55;
        sector[0x1FF] = 0xAA;
    }

    /// <summary>The banner line naming the image, as ASCII bytes.</summary>
    public static byte[] Banner(string imageName) => Encoding.ASCII.GetBytes($"{BannerPrefix}{imageName}\n");

    /// <summary>Fills <paramref name="destination"/> with the pseudo-random stream of <paramref name="seed"/> (SplitMix64: fixed forever, unlike <see cref="Random"/>).</summary>
    public static void FillData(Span<byte> destination, ulong seed)
    {
        var state = seed;
        while (destination.Length >= 8)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(destination, Next(ref state));
            destination = destination[8..];
        }
        if (destination.Length > 0)
        {
            Span<byte> last = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(last, Next(ref state));
            last[..destination.Length].CopyTo(destination);
        }
    }

    /// <summary>
    /// Writes the disk of <paramref name="imageName"/> to a new sparse file at <paramref name="path"/>. Not flushed: it
    /// is scratch, read back at once by the import, and made again if a crash loses it.
    /// </summary>
    public static async Task WriteAsync(string path, string imageName, bool windows, CancellationToken ct)
    {
        Span<byte> nameHash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(imageName), nameHash);
        var seed = BinaryPrimitives.ReadUInt64LittleEndian(nameHash);
        var diskSignature = BinaryPrimitives.ReadUInt32LittleEndian(nameHash[8..]);

        var mbr = new byte[SectorSize];
        WriteMasterBootRecord(mbr, diskSignature, windows ? NtfsPartition : LinuxPartition);
        var data = new byte[DataLength];
        FillData(data, seed);

        using var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.Asynchronous);
        // Setting the length first leaves every byte not written below a hole.
        RandomAccess.SetLength(file, VirtualSize);
        await RandomAccess.WriteAsync(file, mbr, 0, ct);
        await RandomAccess.WriteAsync(file, Banner(imageName), BannerOffset, ct);
        await RandomAccess.WriteAsync(file, data, DataOffset, ct);
    }

    /// <summary>Cylinder-head-sector address of <paramref name="lba"/> in the usual 255-head, 63-sector geometry.</summary>
    private static void WriteChs(Span<byte> chs, long lba)
    {
        const int heads = 255, sectorsPerTrack = 63;
        var cylinder = lba / (heads * sectorsPerTrack);
        if (cylinder > 1023)
        {
            // Beyond CHS reach: the conventional "use the LBA fields" marker.
            chs[0] = 0xFE;
            chs[1] = 0xFF;
            chs[2] = 0xFF;
            return;
        }
        var head = lba / sectorsPerTrack % heads;
        var sector = lba % sectorsPerTrack + 1;
        chs[0] = (byte)head;
        chs[1] = (byte)(sector | ((cylinder >> 8) << 6));
        chs[2] = (byte)cylinder;
    }

    private static ulong Next(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
