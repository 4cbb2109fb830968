using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ims.DataPlane.Native;
using Microsoft.Win32.SafeHandles;

namespace Ims.DataPlane.Store;

/// <summary>The store's folders and its versioned <c>config</c>.</summary>
internal sealed class StoreLayout
{
    public const int CurrentVersion = 1;

    private StoreLayout(string root)
    {
        Root = root;
        Chunks = Path.Combine(root, "chunks");
        Manifests = Path.Combine(root, "manifests");
        Volumes = Path.Combine(root, "volumes");
    }

    public string Root { get; }
    public string Chunks { get; }
    public string Manifests { get; }
    public string Volumes { get; }

    /// <summary>Creates the folders and config of a new store, or checks an existing store's config.</summary>
    public static StoreLayout OpenOrCreate(string root, TempFiles temps)
    {
        var layout = new StoreLayout(Path.GetFullPath(root));
        Directory.CreateDirectory(layout.Root);
        var configPath = Path.Combine(layout.Root, "config");
        if (File.Exists(configPath)) CheckConfig(configPath);
        else
        {
            var bytes = JsonSerializer.SerializeToUtf8Bytes(new StoreConfig(CurrentVersion, DataPlane.ChunkSize));
            DurableFile.WriteNew(configPath, bytes, temps, mtime: null, overwrite: true);
        }
        Directory.CreateDirectory(layout.Chunks);
        Directory.CreateDirectory(layout.Manifests);
        Directory.CreateDirectory(layout.Volumes);
        return layout;
    }

    /// <summary>
    /// Creates the bucket and its <c>config</c> object (the same document as the folder's), or checks the config of
    /// a bucket that has one.
    /// </summary>
    public static void OpenOrCreate(Bucket bucket)
    {
        bucket.EnsureExists();
        if (bucket.TryGetAll("config") is { } existing)
        {
            CheckConfig(existing, $"bucket {bucket.Name}");
            return;
        }
        var bytes = JsonSerializer.SerializeToUtf8Bytes(new StoreConfig(CurrentVersion, DataPlane.ChunkSize));
        bucket.Put("config", bytes, bytes.Length);
    }

    private static void CheckConfig(string configPath) => CheckConfig(File.ReadAllBytes(configPath), Path.GetDirectoryName(configPath)!);

    private static void CheckConfig(byte[] bytes, string where)
    {
        StoreConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<StoreConfig>(bytes);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The data store config at {where} is not readable JSON: {e.Message}", e);
        }
        if (config is null) throw new InvalidDataException($"The data store config at {where} is empty.");
        if (config.Version != CurrentVersion)
            throw new NotSupportedException(
                $"The data store at {where} has version {config.Version}; this build reads only version {CurrentVersion}.");
        if (config.ChunkSize != DataPlane.ChunkSize)
            throw new NotSupportedException(
                $"The data store at {where} uses {config.ChunkSize}-byte chunks; this build uses {DataPlane.ChunkSize}.");
    }

    public string VolumeFile(string volumeId) => Path.Combine(Volumes, volumeId + ".raw");
    public string TrackFile(string volumeId) => Path.Combine(Volumes, volumeId + ".track");

    private sealed record StoreConfig(
        [property: JsonPropertyName("version")] int Version,
        [property: JsonPropertyName("chunk_size")] int ChunkSize);
}

/// <summary>
/// Temporary files this process is writing (named <c>final.tmp-guid</c>, or <c>final.tmp-node~guid</c> on a store that
/// several nodes share); any other temporary file of this node, or without a node, is left over from a crash and may be
/// deleted. Another node's are never touched: in a shared folder they may be that node's restore or capture in progress,
/// and that node removes its own leftovers when it starts again.
/// </summary>
internal sealed class TempFiles(string node)
{
    private const string Marker = ".tmp-";
    private const char NodeEnd = '~';
    private readonly string prefix = Marker + NodeTag(node);
    private readonly ConcurrentDictionary<string, byte> inFlight = new(StringComparer.Ordinal);

    public string Begin(string finalPath)
    {
        var path = $"{finalPath}{prefix}{Guid.NewGuid():N}";
        inFlight[path] = 0;
        return path;
    }

    public void End(string tempPath) => inFlight.TryRemove(tempPath, out _);

    public static bool IsTemp(string path) => Path.GetFileName(path).Contains(Marker, StringComparison.Ordinal);

    public bool IsStale(string path) => IsTemp(path) && IsOurs(path) && !inFlight.ContainsKey(path);

    private bool IsOurs(string path)
    {
        var name = Path.GetFileName(path);
        var tag = name[(name.LastIndexOf(Marker, StringComparison.Ordinal) + Marker.Length)..];
        var end = tag.IndexOf(NodeEnd, StringComparison.Ordinal);
        return end < 0 || string.Equals(Marker + tag[..(end + 1)], prefix, StringComparison.Ordinal);
    }

    /// <summary>The node's name as it goes into file names: letters, digits, '-' and '_' only; "" for no node.</summary>
    private static string NodeTag(string node)
    {
        var safe = new string([.. node.Where(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')]);
        return safe.Length == 0 ? "" : safe + NodeEnd;
    }

    /// <summary>Deletes the stale temporary files under a folder (or only in it); returns how many.</summary>
    public int DeleteStale(string folder, SearchOption depth = SearchOption.AllDirectories)
    {
        if (!Directory.Exists(folder)) return 0;
        var deleted = 0;
        foreach (var path in Directory.EnumerateFiles(folder, "*" + Marker + "*", depth))
        {
            if (!IsStale(path)) continue;
            try
            {
                File.Delete(path);
                deleted++;
            }
            catch (IOException)
            {
                // Gone already or busy: the next collection tries again.
            }
        }
        return deleted;
    }
}

/// <summary>Whole files written under a temporary name, flushed, then renamed into place.</summary>
internal static class DurableFile
{
    /// <summary>
    /// Writes <paramref name="content"/> as <paramref name="path"/>. Without <paramref name="overwrite"/>, returns false
    /// (and leaves the existing file alone) when the final name already exists.
    /// </summary>
    public static bool WriteNew(string path, ReadOnlySpan<byte> content, TempFiles temps, DateTimeOffset? mtime, bool overwrite,
        bool flushDirectory = true)
    {
        var directory = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(directory);
        var temp = temps.Begin(path);
        try
        {
            using (var handle = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write))
            {
                RandomAccess.Write(handle, content, 0);
                Posix.Flush(handle);
            }
            if (mtime is { } time) File.SetLastWriteTimeUtc(temp, time.UtcDateTime);
            if (!Rename(temp, path, overwrite)) return false;
            if (flushDirectory) Posix.FlushDirectory(directory);
            return true;
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
            temps.End(temp);
        }
    }

    /// <summary>Renames a flushed temporary file into place; false when another writer got there first (no overwrite).</summary>
    public static bool Rename(string temp, string path, bool overwrite)
    {
        try
        {
            File.Move(temp, path, overwrite);
            return true;
        }
        catch (IOException) when (!overwrite && File.Exists(path))
        {
            File.Delete(temp);
            return false;
        }
    }

    public static SafeFileHandle CreateSparse(string path, long length)
    {
        var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite);
        try
        {
            RandomAccess.SetLength(handle, length);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }
}

/// <summary>Chunk-sized buffers, pooled so a capture's memory stays a few buffers per worker whatever the disk size.</summary>
internal static class ChunkBuffers
{
    /// <summary>Room for a whole chunk file: the header plus a chunk stored uncompressed.</summary>
    public const int Size = DataPlane.ChunkSize + 64;

    private static readonly ArrayPool<byte> Pool = ArrayPool<byte>.Create(Size, 32);

    public static byte[] Rent() => Pool.Rent(Size);

    public static void Return(byte[] buffer) => Pool.Return(buffer);
}
