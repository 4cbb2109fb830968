using System.Buffers;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using DataPlaneStore = Ims.DataPlane.DataPlane;

namespace Ims.Service.Data;

/// <summary>One 4 MiB chunk of a volume that holds a non-zero byte.</summary>
public sealed record ChunkDigest(long Index, string Sha256);

/// <summary>
/// A cheap content digest of a volume: the non-zero 4 MiB chunks, each with its SHA-256. Two volumes of one size have
/// equal lists exactly when their bytes are equal, and listing costs the data, not the declared size: the file's holes
/// are skipped (<c>SEEK_DATA</c>) instead of read as zeros.
/// </summary>
public static partial class VolumeDigest
{
    private const int SeekData = 3;
    private const int SeekHole = 4;

    public static async Task<List<ChunkDigest>> ListAsync(DataPlaneStore store, string volumeId, CancellationToken ct)
    {
        var size = store.VolumeSize(volumeId);
        var chunkCount = (size + DataPlaneStore.ChunkSize - 1) / DataPlaneStore.ChunkSize;
        var candidates = ChunksWithData(store.Options.Root, volumeId, chunkCount);
        var buffer = ArrayPool<byte>.Shared.Rent(DataPlaneStore.ChunkSize);
        try
        {
            var digests = new List<ChunkDigest>();
            var hash = new byte[SHA256.HashSizeInBytes];
            foreach (var index in candidates)
            {
                var offset = index * DataPlaneStore.ChunkSize;
                var length = (int)Math.Min(DataPlaneStore.ChunkSize, size - offset);
                var filled = 0;
                while (filled < length)
                {
                    var read = await store.ReadAsync(volumeId, offset + filled, buffer.AsMemory(filled, length - filled), ct);
                    if (read == 0) break;
                    filled += read;
                }
                var chunk = buffer.AsSpan(0, filled);
                if (chunk.IndexOfAnyExcept((byte)0) < 0) continue;
                SHA256.HashData(chunk, hash);
                digests.Add(new ChunkDigest(index, Convert.ToHexStringLower(hash)));
            }
            return digests;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// The chunks that may hold data: those the file's data extents touch, or every chunk when the file cannot be
    /// asked (then zero chunks are found by reading them).
    /// </summary>
    private static IEnumerable<long> ChunksWithData(string root, string volumeId, long chunkCount)
    {
        var path = VolumeFile(root, volumeId);
        if (path is null || !OperatingSystem.IsLinux()) return Every(chunkCount);
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var fd = (int)handle.DangerousGetHandle();
            var chunks = new SortedSet<long>();
            long position = 0;
            while (true)
            {
                var dataStart = Lseek(fd, position, SeekData);
                if (dataStart < 0) break; // ENXIO: no data after position
                var dataEnd = Lseek(fd, dataStart, SeekHole);
                if (dataEnd <= dataStart) break;
                for (var index = dataStart / DataPlaneStore.ChunkSize; index <= (dataEnd - 1) / DataPlaneStore.ChunkSize && index < chunkCount; index++)
                    chunks.Add(index);
                position = dataEnd;
            }
            return chunks;
        }
        catch (IOException)
        {
            return Every(chunkCount);
        }
    }

    private static IEnumerable<long> Every(long chunkCount)
    {
        for (long index = 0; index < chunkCount; index++) yield return index;
    }

    // TODO(data plane): ask the library for the chunk list (or data extents) instead of knowing where it keeps volumes.
    private static string? VolumeFile(string root, string volumeId)
    {
        var path = Path.Combine(root, "volumes", volumeId + ".raw");
        return File.Exists(path) ? path : null;
    }

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long Lseek(int fd, long offset, int whence);
}
