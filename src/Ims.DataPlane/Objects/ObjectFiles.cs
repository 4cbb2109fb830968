using System.Security.Cryptography;
using Ims.DataPlane.Native;

namespace Ims.DataPlane.Objects;

/// <summary>
/// The bytes of the bucket API's objects and multipart parts: one immutable file per stored body, named by a random id,
/// under <c>objects/xx/</c> of a folder. A body is streamed into a temporary file while its MD5 (the S3 ETag) and
/// SHA-256 (what a SigV4 signature may pin) are computed, flushed, and renamed into place only when complete, so a
/// reader never sees half a body and a crash leaves at most a temporary file, which <see cref="RemoveTemporaryFiles"/>
/// clears at start.
/// </summary>
public sealed class ObjectFiles
{
    private const int BufferSize = 1 << 20;
    private readonly string _root;
    private readonly string _temp;

    public ObjectFiles(string root)
    {
        _root = Path.Combine(root, "objects");
        _temp = Path.Combine(root, "tmp");
        Directory.CreateDirectory(_root);
        Directory.CreateDirectory(_temp);
    }

    /// <summary>What a stored body measured: its length and digests.</summary>
    public sealed record Written(string FileId, long Size, byte[] Md5, string Sha256Hex);

    /// <summary>Deletes bodies that were being written when the process stopped.</summary>
    public void RemoveTemporaryFiles()
    {
        foreach (var file in Directory.EnumerateFiles(_temp)) File.Delete(file);
    }

    /// <summary>
    /// Streams <paramref name="body"/> into a new file; <paramref name="accept"/> sees the digests before the file is
    /// made visible and may refuse it (a body whose hash is not the one signed): then nothing is kept and null returns.
    /// </summary>
    public async Task<Written?> WriteAsync(Stream body, Func<Written, bool> accept, CancellationToken ct)
    {
        var id = Guid.NewGuid().ToString("N");
        var temp = Path.Combine(_temp, id);
        try
        {
            using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long size = 0;
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0, FileOptions.Asynchronous))
            {
                var buffer = new byte[BufferSize];
                int read;
                while ((read = await body.ReadAsync(buffer, ct)) > 0)
                {
                    md5.AppendData(buffer, 0, read);
                    sha.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), ct);
                    size += read;
                }
                await file.FlushAsync(ct);
                Posix.FlushData(file.SafeFileHandle);
            }
            var written = new Written(id, size, md5.GetHashAndReset(), Convert.ToHexStringLower(sha.GetHashAndReset()));
            if (!accept(written))
            {
                File.Delete(temp);
                return null;
            }
            Publish(temp, id);
            return written;
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Joins stored bodies, in order, into one new body (a completed multipart upload); the parts stay.</summary>
    public async Task<Written> ConcatenateAsync(IReadOnlyList<string> fileIds, CancellationToken ct)
    {
        var id = Guid.NewGuid().ToString("N");
        var temp = Path.Combine(_temp, id);
        try
        {
            using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            long size = 0;
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0, FileOptions.Asynchronous))
            {
                var buffer = new byte[BufferSize];
                foreach (var part in fileIds)
                {
                    await using var source = OpenRead(part);
                    int read;
                    while ((read = await source.ReadAsync(buffer, ct)) > 0)
                    {
                        md5.AppendData(buffer, 0, read);
                        await file.WriteAsync(buffer.AsMemory(0, read), ct);
                        size += read;
                    }
                }
                await file.FlushAsync(ct);
                Posix.FlushData(file.SafeFileHandle);
            }
            Publish(temp, id);
            return new Written(id, size, md5.GetHashAndReset(), "");
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Opens a stored body for reading (seekable, for range reads).</summary>
    public FileStream OpenRead(string fileId) =>
        new(PathOf(fileId), FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.Asynchronous | FileOptions.SequentialScan);

    /// <summary>Removes a body no row names any more; a missing file is already gone.</summary>
    public void Delete(string fileId)
    {
        var path = PathOf(fileId);
        if (File.Exists(path)) File.Delete(path);
    }

    /// <summary>Every stored body's id (for the janitor that removes those no row names).</summary>
    public IEnumerable<string> All() =>
        Directory.EnumerateDirectories(_root).SelectMany(Directory.EnumerateFiles).Select(Path.GetFileName).OfType<string>();

    private void Publish(string temp, string id)
    {
        var folder = Path.Combine(_root, id[..2]);
        Directory.CreateDirectory(folder);
        File.Move(temp, Path.Combine(folder, id));
        Posix.FlushDirectory(folder);
    }

    private string PathOf(string fileId)
    {
        if (fileId.Length != 32 || !fileId.All(char.IsAsciiHexDigitLower)) throw new ArgumentException("Not an object file id.", nameof(fileId));
        return Path.Combine(_root, fileId[..2], fileId);
    }
}
