using System.Security.Cryptography;
using Ims.DataPlane.Capture;
using Ims.DataPlane.Chunks;
using Ims.DataPlane.Import;
using Ims.DataPlane.Maintenance;
using Ims.DataPlane.Manifests;
using Ims.DataPlane.Native;
using Ims.DataPlane.Restore;
using Ims.DataPlane.Store;
using Ims.DataPlane.Volumes;

namespace Ims.DataPlane;

/// <summary>
/// Where the data plane keeps its files and how hard it may work. The service binds it from <c>Ims:DataPlane</c> and
/// refuses to start when <see cref="Problems"/> finds anything.
/// </summary>
public sealed record DataPlaneOptions
{
    /// <summary>The folder holding <c>volumes/</c> and, unless <see cref="ObjectStore"/> is set, <c>chunks/</c> and <c>manifests/</c>.</summary>
    public required string Root { get; set; }

    /// <summary>
    /// A bucket to keep the chunks and manifests in instead of the folder (null: the folder). The service sets it from
    /// <c>Ims:ObjectStore</c>.
    /// </summary>
    public ObjectStoreOptions? ObjectStore { get; set; }

    /// <summary>How many chunks are hashed, stored or restored at once.</summary>
    public int Parallelism { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// How many chunk-sized reads the data plane keeps in flight ahead of its workers (read-ahead into the page cache,
    /// no extra memory of its own); the device is busiest with several requests queued.
    /// </summary>
    public int IoDepth { get; set; } = 16;

    public const int MaxParallelism = 1024;
    public const int MaxIoDepth = 4096;

    /// <summary>What is wrong with these options, each naming its property; empty when they are usable.</summary>
    public IEnumerable<string> Problems()
    {
        if (string.IsNullOrWhiteSpace(Root)) yield return "Root must name the data plane's folder.";
        if (Parallelism is < 1 or > MaxParallelism)
            yield return $"Parallelism must be between 1 and {MaxParallelism} (it is {Parallelism}).";
        if (IoDepth is < 1 or > MaxIoDepth) yield return $"IoDepth must be between 1 and {MaxIoDepth} (it is {IoDepth}).";
    }
}

/// <summary>One disk to capture (the data plane itself knows what changed since the volume's last capture).</summary>
public sealed record DiskToCapture(string VolumeId);

/// <summary>A volume to be given the disk a manifest describes, at <see cref="SizeBytes"/> (not smaller than that disk).</summary>
public sealed record VolumeRestore(string VolumeId, long SizeBytes, string ManifestId);

/// <summary>What a capture made of one disk.</summary>
/// <param name="VolumeId">The captured volume.</param>
/// <param name="ManifestId">The manifest naming the disk's chunks at the captured instant (64 lowercase hex).</param>
/// <param name="SizeBytes">The disk's declared size.</param>
/// <param name="ChunksRead">Chunks read from the volume (the rest were known unchanged).</param>
/// <param name="BytesStored">Bytes newly written to the chunk store by this capture.</param>
/// <param name="ChunksLookedUp">
/// Unchanged chunks whose presence in the store was checked (a metadata read each): none while no chunk has left the
/// store since the volume's base was recorded.
/// </param>
public sealed record CapturedDisk(string VolumeId, string ManifestId, long SizeBytes, long ChunksRead, long BytesStored,
    long ChunksLookedUp = 0);

/// <summary>
/// The result of a capture or import. Its manifests are protected from garbage collection until it is disposed:
/// dispose it only after the records that name the manifests are committed (or abandoned).
/// </summary>
public interface IManifestLease : IDisposable
{
    IReadOnlyList<CapturedDisk> Disks { get; }
}

/// <summary>A non-zero chunk of a volume: its index (offset / chunk size) and the SHA-256 of its bytes (64 lowercase hex).</summary>
public sealed record VolumeChunk(long Index, string Sha256);

/// <summary>A chunk that failed verification.</summary>
public sealed record DamagedChunk(string ManifestId, long ChunkIndex, string ChunkId, string Problem);

/// <summary>What a verification found.</summary>
public sealed record VerifyReport(long ChunksChecked, IReadOnlyList<DamagedChunk> Damaged)
{
    public bool Ok => Damaged.Count == 0;
}

/// <summary>What a garbage collection removed.</summary>
public sealed record CollectionReport(long ChunksKept, long ChunksDeleted, long BytesFreed, long ManifestsDeleted);

/// <summary>A disk image format a user can upload: every format IMS lists that qemu-img reads.</summary>
public enum DiskFormat
{
    Raw,
    Qcow2,
    /// <summary>VHD (qemu's <c>vpc</c>).</summary>
    Vhd,
    Vhdx,
    Vmdk,
    Qed,
    Vdi,
    /// <summary>An ISO 9660 (or UDF) image: its bytes are the disk, as a raw file's are.</summary>
    Iso,
}

/// <summary>A restore met a chunk whose bytes do not match its name (or that is missing); nothing wrong was written.</summary>
public sealed class DamagedChunkException(string message) : Exception(message);

/// <summary>The bucket the options name cannot be reached or used (wrong endpoint, keys or rights); the message says why.</summary>
public sealed class ObjectStoreUnusableException(string message, Exception inner) : Exception(message, inner);

/// <summary>A byte range outside a volume, or a volume that does not exist.</summary>
public sealed class VolumeRangeException(string message) : Exception(message);

/// <summary>Thrown when a volume cannot be replaced or grown because a capture is reading it (retry later).</summary>
public sealed class VolumeBusyException(string message) : Exception(message);

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

    private static readonly byte[] Zeros = new byte[ChunkSize];

    private readonly StoreLayout layout;
    private readonly TempFiles temps;
    private readonly ChunkStore chunks;
    private readonly ManifestStore manifests;
    private readonly VolumeRegistry volumes;
    private readonly IDataPlaneCoordination coordination;
    private readonly IGarbageCollector collector;
    private readonly Bucket? bucket;
    // Captures and imports enter the writers' side while they store or look up chunks when a collection excludes them:
    // always in a bucket, and in a folder other processes share.
    private readonly bool writersExcluded;

    private DataPlane(DataPlaneOptions options, TimeProvider time, StoreLayout layout, TempFiles temps, Bucket? bucket,
        IDataPlaneCoordination? shared)
    {
        Options = options;
        this.layout = layout;
        this.temps = temps;
        this.bucket = bucket;
        volumes = new VolumeRegistry(layout, temps);
        coordination = shared
            ?? new LocalCoordination(time, bucket is null ? DeletionEpoch.Open(layout, temps) : DeletionEpoch.Open(bucket));
        writersExcluded = bucket is not null || coordination.SpansProcesses;
        if (bucket is null)
        {
            var folderChunks = new FolderChunkStore(layout, temps, time, coordination);
            var folderManifests = new FolderManifestStore(layout, temps, time);
            chunks = folderChunks;
            manifests = folderManifests;
            collector = new FolderGarbageCollector(layout, folderChunks, folderManifests, coordination, temps);
        }
        else
        {
            chunks = new BucketChunkStore(bucket, coordination);
            manifests = new BucketManifestStore(bucket);
            collector = new BucketGarbageCollector(bucket, manifests, coordination, Parallelism);
        }
    }

    public DataPlaneOptions Options { get; }

    private int Parallelism => Math.Max(1, Options.Parallelism);

    private int IoDepth => Math.Max(1, Options.IoDepth);

    /// <summary>
    /// Opens (creating if needed) the store under <see cref="DataPlaneOptions.Root"/>, and the bucket when
    /// <see cref="DataPlaneOptions.ObjectStore"/> is set (created when missing; wrong settings, keys or endpoint throw
    /// here); refuses a store of an unknown version or chunk size with <see cref="NotSupportedException"/>. Temporary
    /// files left by a crash are removed. <paramref name="coordination"/> is what the collector shares with the captures
    /// and restores of every process using the same store (null: this process alone, <c>deletion-epoch</c> in the store).
    /// </summary>
    public static DataPlane Open(DataPlaneOptions options, TimeProvider time, IDataPlaneCoordination? coordination = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        options = options with { }; // a copy: the options are settable (configuration binds them), the open store's are not
        var temps = new TempFiles(coordination?.Node ?? "");
        // Nothing of this instance is in flight yet: every temporary file is a crash's leftover, wherever it is (the
        // root holds those of config and deletion-epoch, which a killed collection leaves).
        temps.DeleteStale(Path.GetFullPath(options.Root), SearchOption.TopDirectoryOnly);
        var layout = StoreLayout.OpenOrCreate(options.Root, temps);
        temps.DeleteStale(layout.Volumes);
        temps.DeleteStale(layout.Manifests);
        temps.DeleteStale(layout.Chunks);
        Bucket? bucket = null;
        if (options.ObjectStore is { } objectStore)
        {
            bucket = new Bucket(objectStore);
            try
            {
                StoreLayout.OpenOrCreate(bucket);
            }
            catch (Amazon.Runtime.AmazonServiceException e)
            {
                bucket.Dispose();
                throw new ObjectStoreUnusableException(
                    $"The bucket {objectStore.Bucket} at {objectStore.Endpoint} is not usable: {(int)e.StatusCode} {e.ErrorCode}"
                    + (string.IsNullOrWhiteSpace(e.Message) ? "." : $" ({e.Message.TrimEnd('.')})."), e);
            }
            catch (Exception e) when (e is HttpRequestException or Amazon.Runtime.AmazonClientException)
            {
                bucket.Dispose();
                throw new ObjectStoreUnusableException($"The object store at {objectStore.Endpoint} cannot be reached: {e.Message}", e);
            }
            catch
            {
                bucket.Dispose();
                throw;
            }
        }
        return new DataPlane(options, time, layout, temps, bucket, coordination);
    }

    // ---- volumes ----

    /// <summary>Creates an all-zero sparse volume of <paramref name="sizeBytes"/>. Idempotent.</summary>
    public Task CreateVolumeAsync(string volumeId, long sizeBytes, CancellationToken ct)
    {
        VolumeRegistry.CheckId(volumeId);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sizeBytes);
        ct.ThrowIfCancellationRequested();
        if (volumes.Exists(volumeId)) return Task.CompletedTask;
        var temp = temps.Begin(layout.VolumeFile(volumeId));
        try
        {
            using (var file = DurableFile.CreateSparse(temp, sizeBytes)) Posix.Flush(file);
            volumes.Publish(volumeId, temp, sizeBytes, volumeBase: null);
        }
        catch (IOException e) when (StorageFullException.IsOutOfSpace(e))
        {
            throw StorageFullException.From(e);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
            temps.End(temp);
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// Creates a volume of <paramref name="sizeBytes"/> holding the disk a manifest names (sparse where the disk was
    /// zero; bytes past the manifest's disk size are zero). Written under a temporary name and published only when every
    /// chunk verified: a damaged or missing chunk throws <see cref="DamagedChunkException"/> and leaves no volume.
    /// Idempotent. The restored content becomes the volume's base for incremental captures. A size smaller than the
    /// manifest's disk throws <see cref="ArgumentOutOfRangeException"/>.
    /// </summary>
    public Task RestoreVolumeAsync(string volumeId, long sizeBytes, string manifestId, CancellationToken ct) =>
        StorageFullException.Translate(() => RestoreVolumeCoreAsync(volumeId, sizeBytes, manifestId, ct));

    private async Task RestoreVolumeCoreAsync(string volumeId, long sizeBytes, string manifestId, CancellationToken ct)
    {
        VolumeRegistry.CheckId(volumeId);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sizeBytes);
        if (volumes.Exists(volumeId)) return;
        using var operation = await BeginOperationAsync(ct).ConfigureAwait(false);
        // Every chunk is read after this, so when the epoch is known the restored base names only stored chunks.
        var deletionEpoch = await operation.PinAsync([manifestId], observeEpoch: true, ct).ConfigureAwait(false);
        var manifest = manifests.Read(manifestId);
        if (sizeBytes < manifest.DiskSize)
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes,
                $"The volume would be smaller than the {manifest.DiskSize}-byte disk manifest {manifestId} describes.");
        var temp = temps.Begin(layout.VolumeFile(volumeId));
        try
        {
            using (var file = DurableFile.CreateSparse(temp, sizeBytes))
            {
                await Restorer.WriteAsync(manifest, file, chunks, Parallelism, IoDepth, ct).ConfigureAwait(false);
                Posix.Flush(file);
            }
            volumes.Publish(volumeId, temp, sizeBytes,
                SnapshotSource.Describes(manifest, sizeBytes) ? new VolumeBase(manifestId, deletionEpoch) : null);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
            temps.End(temp);
        }
    }

    /// <summary>
    /// Grows an existing volume to <paramref name="sizeBytes"/>; the new bytes read as zero. Idempotent (a volume that is
    /// that large already is left as it is). The change tracking keeps its base, so the next capture stores only what
    /// changed. Throws <see cref="VolumeBusyException"/> while a capture reads the volume.
    /// </summary>
    public Task ExtendVolumeAsync(string volumeId, long sizeBytes, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sizeBytes);
        ct.ThrowIfCancellationRequested();
        volumes.Extend(volumeId, sizeBytes);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Replaces the content of existing volumes with the disks manifests name, all or nothing: every volume is restored
    /// under a temporary name and verified first, and only when all are written are they published, one after the other.
    /// A damaged or missing chunk throws <see cref="DamagedChunkException"/> with no volume changed. A volume that does
    /// not exist yet is created. Throws <see cref="VolumeBusyException"/> while a capture reads one of them (before any is
    /// replaced, unless a capture starts in between).
    /// </summary>
    public async Task ReplaceVolumesAsync(IReadOnlyList<VolumeRestore> restores, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(restores);
        if (restores.Select(r => r.VolumeId).Distinct(StringComparer.Ordinal).Count() != restores.Count)
            throw new ArgumentException("A volume is listed twice.", nameof(restores));
        foreach (var restore in restores) VolumeRegistry.CheckId(restore.VolumeId);
        using var operation = await BeginOperationAsync(ct).ConfigureAwait(false);
        var deletionEpoch = await operation.PinAsync([.. restores.Select(r => r.ManifestId)], observeEpoch: true, ct).ConfigureAwait(false);
        var prepared = new List<(VolumeRestore Restore, string Temp, VolumeBase? Base)>();
        try
        {
            foreach (var restore in restores)
            {
                var manifest = manifests.Read(restore.ManifestId);
                if (restore.SizeBytes < manifest.DiskSize)
                    throw new ArgumentOutOfRangeException(nameof(restores), restore.SizeBytes,
                        $"Volume {restore.VolumeId} would be smaller than the {manifest.DiskSize}-byte disk manifest {restore.ManifestId} describes.");
                var temp = temps.Begin(layout.VolumeFile(restore.VolumeId) + ".restore");
                prepared.Add((restore, temp, SnapshotSource.Describes(manifest, restore.SizeBytes)
                    ? new VolumeBase(restore.ManifestId, deletionEpoch) : null));
                using var file = DurableFile.CreateSparse(temp, restore.SizeBytes);
                await Restorer.WriteAsync(manifest, file, chunks, Parallelism, IoDepth, ct).ConfigureAwait(false);
                Posix.Flush(file);
            }
            if (prepared.Any(p => volumes.IsBeingCaptured(p.Restore.VolumeId)))
                throw new VolumeBusyException("A volume to restore is being captured; try again when the capture has finished.");
            foreach (var (restore, temp, volumeBase) in prepared)
                volumes.Replace(restore.VolumeId, temp, restore.SizeBytes, volumeBase);
        }
        finally
        {
            foreach (var (_, temp, _) in prepared)
            {
                if (File.Exists(temp)) File.Delete(temp);
                temps.End(temp);
            }
        }
    }

    /// <summary>Removes a volume's file and its change tracking. Idempotent.</summary>
    public Task DeleteVolumeAsync(string volumeId, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        volumes.Delete(volumeId);
        return Task.CompletedTask;
    }

    public bool VolumeExists(string volumeId) => volumes.Exists(volumeId);

    /// <summary>The volume's size in bytes; throws <see cref="VolumeRangeException"/> when it does not exist.</summary>
    public long VolumeSize(string volumeId) => volumes.Get(volumeId).Size;

    /// <summary>
    /// Writes bytes at <paramref name="offset"/> (a guest write). Marks the chunks it touches changed, durably, and
    /// preserves for running captures the bytes they have not read yet. Throws <see cref="VolumeRangeException"/>
    /// past the end.
    /// </summary>
    public Task WriteAsync(string volumeId, long offset, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        try
        {
            volumes.Get(volumeId).Write(offset, data.Span);
        }
        catch (IOException e) when (StorageFullException.IsOutOfSpace(e))
        {
            throw StorageFullException.From(e);
        }
        return Task.CompletedTask;
    }

    /// <summary>Reads up to <c>buffer.Length</c> bytes at <paramref name="offset"/>; returns how many (0 at the end).</summary>
    public Task<int> ReadAsync(string volumeId, long offset, Memory<byte> buffer, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        return Task.FromResult(volumes.Get(volumeId).Read(offset, buffer.Span));
    }

    /// <summary>SHA-256 of the whole volume (holes read as zeros, without reading them), 64 lowercase hex.</summary>
    public Task<string> HashVolumeAsync(string volumeId, CancellationToken ct)
    {
        var volume = volumes.Get(volumeId);
        return Task.Run(() =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = ChunkBuffers.Rent();
            try
            {
                var regions = new DataRegions(volume.Data);
                for (long offset = 0; offset < volume.Size; offset += ChunkSize)
                {
                    ct.ThrowIfCancellationRequested();
                    var length = (int)Math.Min(ChunkSize, volume.Size - offset);
                    if (!regions.AnyData(offset, offset + length)) hash.AppendData(Zeros, 0, length);
                    else
                    {
                        volume.Read(offset, buffer.AsSpan(0, length));
                        hash.AppendData(buffer, 0, length);
                    }
                }
            }
            finally
            {
                ChunkBuffers.Return(buffer);
            }
            return Convert.ToHexStringLower(hash.GetHashAndReset());
        }, ct);
    }

    /// <summary>
    /// The volume's non-zero chunks, each with the SHA-256 of its bytes: a content digest that costs the data written,
    /// not the declared size (holes are skipped without reading). Two volumes of one size hold equal bytes exactly when
    /// their lists are equal.
    /// </summary>
    public Task<IReadOnlyList<VolumeChunk>> ListChunksAsync(string volumeId, CancellationToken ct)
    {
        var volume = volumes.Get(volumeId);
        return Task.Run<IReadOnlyList<VolumeChunk>>(() =>
        {
            var chunks = new List<VolumeChunk>();
            var digest = new byte[SHA256.HashSizeInBytes];
            var buffer = ChunkBuffers.Rent();
            try
            {
                var regions = new DataRegions(volume.Data);
                for (long index = 0, offset = 0; offset < volume.Size; index++, offset += ChunkSize)
                {
                    ct.ThrowIfCancellationRequested();
                    var length = (int)Math.Min(ChunkSize, volume.Size - offset);
                    if (!regions.AnyData(offset, offset + length)) continue;
                    var content = buffer.AsSpan(0, length);
                    volume.Read(offset, content);
                    if (content.IndexOfAnyExcept((byte)0) < 0) continue;
                    SHA256.HashData(content, digest);
                    chunks.Add(new VolumeChunk(index, Convert.ToHexStringLower(digest)));
                }
            }
            finally
            {
                ChunkBuffers.Return(buffer);
            }
            return chunks;
        }, ct);
    }

    // ---- captures and images ----

    /// <summary>
    /// Captures every disk at one instant (writes go on meanwhile and are not seen), storing only chunks the store
    /// lacks and reading only chunks changed since the volume's last completed capture or restore. On failure the
    /// change tracking is left as if the capture had never run. The instant is taken before this method returns its
    /// task: a write issued after the call is never part of the capture.
    /// </summary>
    public Task<IManifestLease> CaptureAsync(IReadOnlyList<DiskToCapture> disks, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(disks);
        if (disks.Count == 0) throw new ArgumentException("A capture needs at least one disk.", nameof(disks));
        if (disks.Select(d => d.VolumeId).Distinct(StringComparer.Ordinal).Count() != disks.Count)
            throw new ArgumentException("A disk is listed twice.", nameof(disks));
        var opened = disks.Select(d => volumes.Get(d.VolumeId)).ToArray();
        var snapshots = new Snapshot[opened.Length];
        try
        {
            TakeInstant(opened, snapshots);
        }
        catch (IOException e) when (StorageFullException.IsOutOfSpace(e))
        {
            throw StorageFullException.From(e);
        }
        return StorageFullException.Translate(() => FinishCaptureAsync(snapshots, ct));
    }

    /// <summary>Every volume's gate, in id order (so concurrent captures cannot deadlock), then one snapshot each.</summary>
    private void TakeInstant(Volume[] opened, Snapshot[] snapshots)
    {
        var order = Enumerable.Range(0, opened.Length).OrderBy(i => opened[i].Id, StringComparer.Ordinal).ToArray();
        var entered = new List<Volume>(opened.Length);
        try
        {
            foreach (var i in order)
            {
                opened[i].EnterInstant();
                entered.Add(opened[i]);
            }
            foreach (var i in order) snapshots[i] = opened[i].AddSnapshot(temps.Begin(layout.VolumeFile(opened[i].Id) + ".snapshot"));
        }
        catch
        {
            foreach (var snapshot in snapshots.Where(s => s is not null)) snapshot.Volume.EndSnapshotDuringInstant(snapshot);
            throw;
        }
        finally
        {
            for (var i = entered.Count - 1; i >= 0; i--) entered[i].ExitInstant();
        }
    }

    private async Task<IManifestLease> FinishCaptureAsync(Snapshot[] snapshots, CancellationToken ct)
    {
        var ended = false;
        Operation? operation = null;
        try
        {
            // Registered before any chunk is stored or touched, so a folder collection's cutoff stays before those.
            operation = await BeginOperationAsync(ct).ConfigureAwait(false);
            // Observed when the bases were pinned, null if a collection was running. A base recorded under it names only
            // chunks still stored (and kept, being pinned), so they are reused without a lookup.
            var deletionEpoch = await operation.PinAsync(snapshots.Select(s => s.Base?.ManifestId).OfType<string>().ToList(),
                observeEpoch: true, ct).ConfigureAwait(false);
            var sources = new DiskSource[snapshots.Length];
            for (var i = 0; i < snapshots.Length; i++)
            {
                var knownStored = deletionEpoch is { } epoch && snapshots[i].Base?.DeletionEpoch == epoch;
                sources[i] = new SnapshotSource(snapshots[i], UsableBase(snapshots[i]), knownStored);
            }
            using var writing = await EnterWriterAsync(ct).ConfigureAwait(false);
            using var pending = new PendingChunks(temps);
            await ChunkingPipeline.RunAsync(sources, chunks, pending, Parallelism, IoDepth, ct).ConfigureAwait(false);
            // Chunk names are durable before any manifest names them.
            chunks.Publish(pending);
            var results = new CapturedDisk[sources.Length];
            for (var i = 0; i < sources.Length; i++)
            {
                var manifestId = manifests.Write(sources[i].ToManifest());
                results[i] = new CapturedDisk(sources[i].VolumeId, manifestId, sources[i].DiskSize, sources[i].ChunksRead,
                    sources[i].BytesStored, sources[i].ChunksLookedUp);
            }
            // Still a writer (and a running operation): no collection has run since the manifests were written.
            var lease = await LeaseAsync(results, ct).ConfigureAwait(false);
            for (var i = 0; i < snapshots.Length; i++)
                snapshots[i].Volume.EndSnapshot(snapshots[i], new VolumeBase(results[i].ManifestId, deletionEpoch));
            ended = true;
            return lease;
        }
        finally
        {
            foreach (var snapshot in snapshots)
            {
                if (!ended) snapshot.Volume.EndSnapshot(snapshot, completed: null);
                snapshot.Dispose();
                temps.End(snapshot.SidePath);
            }
            operation?.Dispose();
        }
    }

    private Manifest? UsableBase(Snapshot snapshot)
    {
        if (snapshot.Base?.ManifestId is not { } baseId || !manifests.TryRead(baseId, out var manifest)) return null;
        return SnapshotSource.Describes(manifest!, snapshot.Volume.Size) ? manifest : null;
    }

    /// <summary>
    /// Stores an uploaded disk image and returns its manifest (one disk, with an empty volume id). Raw and ISO files are
    /// the disk; every other format is converted to raw with qemu-img. An image that is not a readable disk of the stated
    /// format, or that names another file (a backing file, an external data file or extent), throws
    /// <see cref="InvalidDiskImageException"/>.
    /// </summary>
    public Task<IManifestLease> ImportAsync(string path, DiskFormat format, CancellationToken ct) =>
        StorageFullException.Translate(() => ImportCoreAsync(path, format, ct));

    private async Task<IManifestLease> ImportCoreAsync(string path, DiskFormat format, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new InvalidDiskImageException($"The image file {Path.GetFileName(path)} does not exist.");
        using var operation = await BeginOperationAsync(ct).ConfigureAwait(false);
        if (format == DiskFormat.Raw) return await ImportRawAsync(path, ct).ConfigureAwait(false);
        if (format == DiskFormat.Iso)
        {
            ImageFormats.CheckIso(path);
            return await ImportRawAsync(path, ct).ConfigureAwait(false);
        }

        if (format == DiskFormat.Qcow2) ImageFormats.CheckQcow2(path);
        await ImageFormats.CheckSelfContainedAsync(path, format, ct).ConfigureAwait(false);
        var converted = temps.Begin(Path.Combine(layout.Volumes, $"import-{Guid.NewGuid():N}.raw"));
        try
        {
            await ImageFormats.ConvertToRawAsync(path, format, converted, ct).ConfigureAwait(false);
            return await ImportRawAsync(converted, ct).ConfigureAwait(false);
        }
        finally
        {
            if (File.Exists(converted)) File.Delete(converted);
            temps.End(converted);
        }
    }

    /// <summary>
    /// Writes the disk a manifest names to <paramref name="destination"/> as an image file of <paramref name="format"/>:
    /// the disk is read out as a sparse raw file next to it (zeros left as holes) and, for any other format, converted by
    /// qemu-img, which makes a file the format's own tools read (VHD at the disk's exact size, not rounded to a CHS
    /// geometry). A damaged or missing chunk throws <see cref="DamagedChunkException"/>; a destination that exists is
    /// replaced. Nothing but <paramref name="destination"/> is left behind, whatever happens.
    /// </summary>
    public Task ExportAsync(string manifestId, DiskFormat format, string destination, CancellationToken ct) =>
        StorageFullException.Translate(() => ExportCoreAsync(manifestId, format, destination, ct));

    private async Task ExportCoreAsync(string manifestId, DiskFormat format, string destination, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(destination);
        var size = manifests.Read(manifestId).DiskSize;
        var raw = format is DiskFormat.Raw or DiskFormat.Iso ? destination : destination + ".raw";
        try
        {
            using (var file = File.OpenHandle(raw, FileMode.Create, FileAccess.Write))
            {
                RandomAccess.SetLength(file, 0);
                long at = 0;
                await ReadManifestAsync(manifestId, 0, size, (bytes, _) =>
                {
                    SparseFile.WriteSkippingZeroBlocks(file, bytes.Span, at);
                    at += bytes.Length;
                    return ValueTask.CompletedTask;
                }, ct).ConfigureAwait(false);
                RandomAccess.SetLength(file, size);
            }
            if (raw != destination) await ImageFormats.ConvertFromRawAsync(raw, format, destination, ct).ConfigureAwait(false);
        }
        catch
        {
            File.Delete(destination);
            throw;
        }
        finally
        {
            if (raw != destination) File.Delete(raw);
        }
    }

    private async Task<IManifestLease> ImportRawAsync(string path, CancellationToken ct)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var size = ImageFormats.CheckRaw(file, path);
        var source = new RawFileSource(file, size);
        using var writing = await EnterWriterAsync(ct).ConfigureAwait(false);
        using var pending = new PendingChunks(temps);
        await ChunkingPipeline.RunAsync([source], chunks, pending, Parallelism, IoDepth, ct).ConfigureAwait(false);
        chunks.Publish(pending);
        var manifestId = manifests.Write(source.ToManifest());
        return await LeaseAsync([new CapturedDisk("", manifestId, size, source.ChunksRead, source.BytesStored)], ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Streams the bytes <c>[offset, offset + length)</c> of the disk a manifest names to <paramref name="write"/>, in disk
    /// order and in pieces of at most one chunk: each stored chunk verified as it is read (the next one read while the
    /// last is written), chunks left out as zeros. The manifest is pinned meanwhile, so a collection keeps its chunks. A
    /// damaged or missing chunk throws <see cref="DamagedChunkException"/> (after the bytes before it were written); a
    /// range past the disk's end throws <see cref="ArgumentOutOfRangeException"/>.
    /// </summary>
    public async Task ReadManifestAsync(string manifestId, long offset, long length,
        Func<ReadOnlyMemory<byte>, CancellationToken, ValueTask> write, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(write);
        using var operation = await BeginOperationAsync(ct).ConfigureAwait(false);
        await operation.PinAsync([manifestId], observeEpoch: false, ct).ConfigureAwait(false);
        var manifest = manifests.Read(manifestId);
        if (offset < 0 || length < 0 || offset + length > manifest.DiskSize)
            throw new ArgumentOutOfRangeException(nameof(length), length,
                $"The range {offset}+{length} is outside the {manifest.DiskSize}-byte disk of manifest {manifestId}.");
        if (length == 0) return;
        var stored = new Dictionary<long, string>(manifest.Entries.Count);
        foreach (var entry in manifest.Entries) stored[entry.Index] = entry.ChunkId;

        var first = offset / ChunkSize;
        var last = (offset + length - 1) / ChunkSize;
        byte[][] buffers = [ChunkBuffers.Rent(), ChunkBuffers.Rent()];
        byte[][] scratch = [ChunkBuffers.Rent(), ChunkBuffers.Rent()];
        Task<byte[]>? pending = null;
        try
        {
            Task<byte[]> Load(long index, int slot) => stored.TryGetValue(index, out var chunkId)
                ? Task.Run(() =>
                {
                    chunks.Read(chunkId, buffers[slot], scratch[slot]);
                    return buffers[slot];
                }, ct)
                : Task.FromResult(Zeros);
            pending = Load(first, 0);
            for (var index = first; index <= last; index++)
            {
                var content = await pending.ConfigureAwait(false);
                if (index < last) pending = Load(index + 1, (int)((index + 1 - first) % 2));
                var chunkStart = index * ChunkSize;
                var from = Math.Max(offset, chunkStart) - chunkStart;
                var to = Math.Min(offset + length, chunkStart + Manifest.ChunkLength(manifest.DiskSize, index)) - chunkStart;
                await write(content.AsMemory((int)from, (int)(to - from)), ct).ConfigureAwait(false);
            }
        }
        finally
        {
            // A read still running (the writer failed or the caller went away) must finish before its buffers go back.
            if (pending is not null)
            {
                try
                {
                    await pending.ConfigureAwait(false);
                }
                catch (Exception e) when (e is DamagedChunkException or OperationCanceledException or IOException)
                {
                    // Already reported, or nobody is waiting for it any more.
                }
            }
            foreach (var buffer in buffers) ChunkBuffers.Return(buffer);
            foreach (var buffer in scratch) ChunkBuffers.Return(buffer);
        }
    }

    /// <summary>The disk size a manifest records; throws <see cref="DamagedChunkException"/> when the manifest is gone or unreadable.</summary>
    public Task<long> ManifestSizeAsync(string manifestId, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        return Task.FromResult(manifests.Read(manifestId).DiskSize);
    }

    /// <summary>SHA-256 of the disk a manifest names (as a restore would produce it), 64 lowercase hex; verifies every chunk.</summary>
    public async Task<string> HashManifestAsync(string manifestId, CancellationToken ct)
    {
        var manifest = manifests.Read(manifestId);
        using var operation = await BeginOperationAsync(ct).ConfigureAwait(false);
        await operation.PinAsync([manifestId], observeEpoch: false, ct).ConfigureAwait(false);
        var window = Parallelism;
        var buffers = Enumerable.Range(0, window).Select(_ => ChunkBuffers.Rent()).ToArray();
        var scratch = Enumerable.Range(0, window).Select(_ => ChunkBuffers.Rent()).ToArray();
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var entries = manifest.Entries;
            var next = 0;
            var batch = new (long Index, int Slot)[window];
            for (long chunk = 0; chunk < manifest.ChunkCount;)
            {
                // Read up to one chunk per worker ahead, in parallel, then hash them in disk order.
                var count = 0;
                for (var e = next; e < entries.Count && count < window; e++) batch[count] = (entries[e].Index, count++);
                var firstIndex = next;
                await Parallel.ForAsync(0, count, ct, (k, _) =>
                {
                    chunks.Read(entries[firstIndex + k].ChunkId, buffers[k], scratch[k]);
                    return ValueTask.CompletedTask;
                }).ConfigureAwait(false);
                var stop = count == 0 ? manifest.ChunkCount : batch[count - 1].Index + 1;
                var slot = 0;
                for (; chunk < stop; chunk++)
                {
                    var length = Manifest.ChunkLength(manifest.DiskSize, chunk);
                    if (slot < count && batch[slot].Index == chunk) hash.AppendData(buffers[slot++], 0, length);
                    else hash.AppendData(Zeros, 0, length);
                }
                next += count;
            }
            return Convert.ToHexStringLower(hash.GetHashAndReset());
        }
        finally
        {
            foreach (var buffer in buffers) ChunkBuffers.Return(buffer);
            foreach (var buffer in scratch) ChunkBuffers.Return(buffer);
        }
    }

    // ---- maintenance ----

    /// <summary>Re-hashes every chunk the manifests name and reports the damaged or missing ones.</summary>
    public async Task<VerifyReport> VerifyAsync(IReadOnlyCollection<string> manifestIds, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(manifestIds);
        using var operation = await BeginOperationAsync(ct).ConfigureAwait(false);
        await operation.PinAsync(manifestIds, observeEpoch: false, ct).ConfigureAwait(false);
        return await Verifier.VerifyAsync(manifestIds, manifests, chunks, Parallelism, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes manifests and chunks that no live manifest needs. <paramref name="liveManifests"/> is asked after the
    /// collection starts; manifests held by leases and chunks that running captures use are kept.
    /// </summary>
    public Task<CollectionReport> CollectGarbageAsync(Func<CancellationToken, Task<IReadOnlyCollection<string>>> liveManifests,
        CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(liveManifests);
        return collector.CollectAsync(liveManifests, ct);
    }

    public void Dispose()
    {
        volumes.Dispose();
        bucket?.Dispose();
    }

    // ---- coordination ----

    private async Task<Operation> BeginOperationAsync(CancellationToken ct) =>
        new(coordination, await coordination.BeginOperationAsync(ct).ConfigureAwait(false));

    private async Task<IDisposable?> EnterWriterAsync(CancellationToken ct) =>
        writersExcluded ? await coordination.EnterWriterAsync(ct).ConfigureAwait(false) : null;

    private async Task<IManifestLease> LeaseAsync(IReadOnlyList<CapturedDisk> disks, CancellationToken ct)
    {
        var hold = await coordination.BeginLeaseAsync(disks.Select(d => d.ManifestId).Distinct(StringComparer.Ordinal).ToList(), ct)
            .ConfigureAwait(false);
        return new ManifestLease(coordination, hold, disks);
    }

    /// <summary>A running operation: its start bounds a folder collection's cutoff, and what it pins is live until it ends.</summary>
    private sealed class Operation(IDataPlaneCoordination coordination, DataPlaneHold hold) : IDisposable
    {
        private int ended;

        public Task<long?> PinAsync(IReadOnlyCollection<string> manifestIds, bool observeEpoch, CancellationToken ct) =>
            coordination.PinAsync(hold, manifestIds, observeEpoch, ct);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref ended, 1) == 0) coordination.End(hold);
        }
    }

    private sealed class ManifestLease(IDataPlaneCoordination coordination, DataPlaneHold hold, IReadOnlyList<CapturedDisk> disks)
        : IManifestLease
    {
        private int disposed;

        public IReadOnlyList<CapturedDisk> Disks => disks;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0) coordination.End(hold);
        }
    }
}
