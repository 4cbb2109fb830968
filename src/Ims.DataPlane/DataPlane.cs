namespace Ims.DataPlane;

/// <summary>Where the data plane keeps its files and how hard it may work.</summary>
public sealed record DataPlaneOptions
{
    /// <summary>The folder holding <c>chunks/</c>, <c>manifests/</c> and <c>volumes/</c>.</summary>
    public required string Root { get; init; }

    /// <summary>How many chunks are hashed, stored or restored at once.</summary>
    public int Parallelism { get; init; } = Environment.ProcessorCount;
}

/// <summary>One disk to capture (the data plane itself knows what changed since the volume's last capture).</summary>
public sealed record DiskToCapture(string VolumeId);

/// <summary>What a capture made of one disk.</summary>
/// <param name="VolumeId">The captured volume.</param>
/// <param name="ManifestId">The manifest naming the disk's chunks at the captured instant (64 lowercase hex).</param>
/// <param name="SizeBytes">The disk's declared size.</param>
/// <param name="ChunksRead">Chunks read from the volume (the rest were known unchanged).</param>
/// <param name="BytesStored">Bytes newly written to the chunk store by this capture.</param>
public sealed record CapturedDisk(string VolumeId, string ManifestId, long SizeBytes, long ChunksRead, long BytesStored);

/// <summary>
/// The result of a capture or import. Its manifests are protected from garbage collection until it is disposed:
/// dispose it only after the records that name the manifests are committed (or abandoned).
/// </summary>
public interface IManifestLease : IDisposable
{
    IReadOnlyList<CapturedDisk> Disks { get; }
}

/// <summary>A chunk that failed verification.</summary>
public sealed record DamagedChunk(string ManifestId, long ChunkIndex, string ChunkId, string Problem);

/// <summary>What a verification found.</summary>
public sealed record VerifyReport(long ChunksChecked, IReadOnlyList<DamagedChunk> Damaged)
{
    public bool Ok => Damaged.Count == 0;
}

/// <summary>What a garbage collection removed.</summary>
public sealed record CollectionReport(long ChunksKept, long ChunksDeleted, long BytesFreed, long ManifestsDeleted);

/// <summary>A disk image format a user can upload.</summary>
public enum DiskFormat
{
    Raw,
    Qcow2,
}

/// <summary>A restore met a chunk whose bytes do not match its name (or that is missing); nothing wrong was written.</summary>
public sealed class DamagedChunkException(string message) : Exception(message);

/// <summary>A byte range outside a volume, or a volume that does not exist.</summary>
public sealed class VolumeRangeException(string message) : Exception(message);

/// <summary>An uploaded image that is not a readable disk of the stated format.</summary>
public sealed class InvalidDiskImageException(string message) : Exception(message);

/// <summary>
/// The data plane: volumes as sparse raw files, a content-addressed chunk store, and manifests. It knows nothing of
/// HTTP or of the database: the service tells it which manifests are live (<see cref="CollectGarbageAsync"/>), and
/// keeps manifest ids in its own records.
/// </summary>
public sealed class DataPlane : IDisposable
{
    /// <summary>The fixed chunk size: 4 MiB.</summary>
    public const int ChunkSize = 4 * 1024 * 1024;

    private DataPlane(DataPlaneOptions options, TimeProvider time)
    {
        Options = options;
        Time = time;
    }

    public DataPlaneOptions Options { get; }
    private TimeProvider Time { get; }

    /// <summary>Opens (creating if needed) the store under <see cref="DataPlaneOptions.Root"/>; refuses an unknown store version.</summary>
    public static DataPlane Open(DataPlaneOptions options, TimeProvider time) => throw new NotImplementedException();

    // ---- volumes ----

    /// <summary>Creates an all-zero sparse volume of <paramref name="sizeBytes"/>. Idempotent.</summary>
    public Task CreateVolumeAsync(string volumeId, long sizeBytes, CancellationToken ct) => throw new NotImplementedException();

    /// <summary>
    /// Creates a volume of <paramref name="sizeBytes"/> holding the disk a manifest names (sparse where the disk was
    /// zero; bytes past the manifest's disk size are zero). Written under a temporary name and published only when every
    /// chunk verified: a damaged or missing chunk throws <see cref="DamagedChunkException"/> and leaves no volume.
    /// Idempotent. The restored content becomes the volume's base for incremental captures.
    /// </summary>
    public Task RestoreVolumeAsync(string volumeId, long sizeBytes, string manifestId, CancellationToken ct) =>
        throw new NotImplementedException();

    /// <summary>Removes a volume's file and its change tracking. Idempotent.</summary>
    public Task DeleteVolumeAsync(string volumeId, CancellationToken ct) => throw new NotImplementedException();

    public bool VolumeExists(string volumeId) => throw new NotImplementedException();

    /// <summary>The volume's size in bytes; throws <see cref="VolumeRangeException"/> when it does not exist.</summary>
    public long VolumeSize(string volumeId) => throw new NotImplementedException();

    /// <summary>
    /// Writes bytes at <paramref name="offset"/> (a guest write). Marks the chunks it touches changed, durably, and
    /// preserves for running captures the bytes they have not read yet. Throws <see cref="VolumeRangeException"/>
    /// past the end.
    /// </summary>
    public Task WriteAsync(string volumeId, long offset, ReadOnlyMemory<byte> data, CancellationToken ct) =>
        throw new NotImplementedException();

    /// <summary>Reads up to <c>buffer.Length</c> bytes at <paramref name="offset"/>; returns how many (0 at the end).</summary>
    public Task<int> ReadAsync(string volumeId, long offset, Memory<byte> buffer, CancellationToken ct) =>
        throw new NotImplementedException();

    /// <summary>SHA-256 of the whole volume (holes read as zeros), 64 lowercase hex.</summary>
    public Task<string> HashVolumeAsync(string volumeId, CancellationToken ct) => throw new NotImplementedException();

    // ---- captures and images ----

    /// <summary>
    /// Captures every disk at one instant (writes go on meanwhile and are not seen), storing only chunks the store
    /// lacks and reading only chunks changed since the volume's last completed capture or restore. On failure the
    /// change tracking is left as if the capture had never run.
    /// </summary>
    public Task<IManifestLease> CaptureAsync(IReadOnlyList<DiskToCapture> disks, CancellationToken ct) =>
        throw new NotImplementedException();

    /// <summary>Stores an uploaded disk image (raw, or qcow2) and returns its manifest (one disk).</summary>
    public Task<IManifestLease> ImportAsync(string path, DiskFormat format, CancellationToken ct) =>
        throw new NotImplementedException();

    /// <summary>The disk size a manifest records; throws <see cref="DamagedChunkException"/> when the manifest is gone or unreadable.</summary>
    public Task<long> ManifestSizeAsync(string manifestId, CancellationToken ct) => throw new NotImplementedException();

    /// <summary>SHA-256 of the disk a manifest names (as a restore would produce it), 64 lowercase hex; verifies every chunk.</summary>
    public Task<string> HashManifestAsync(string manifestId, CancellationToken ct) => throw new NotImplementedException();

    // ---- maintenance ----

    /// <summary>Re-hashes every chunk the manifests name and reports the damaged or missing ones.</summary>
    public Task<VerifyReport> VerifyAsync(IReadOnlyCollection<string> manifestIds, CancellationToken ct) =>
        throw new NotImplementedException();

    /// <summary>
    /// Deletes manifests and chunks that no live manifest needs. <paramref name="liveManifests"/> is asked after the
    /// collection starts; manifests held by leases and chunks that running captures use are kept.
    /// </summary>
    public Task<CollectionReport> CollectGarbageAsync(Func<CancellationToken, Task<IReadOnlyCollection<string>>> liveManifests,
        CancellationToken ct) => throw new NotImplementedException();

    public void Dispose()
    {
    }
}
