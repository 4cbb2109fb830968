using Ims.DataPlane;
using Ims.Service.Evs;
using Ims.Service.Jobs;
using Ims.Service.Nodes;
using Microsoft.Extensions.Options;
using DataPlaneStore = Ims.DataPlane.DataPlane;

namespace Ims.Service.Data;

/// <summary>
/// The bytes behind volume records: job steps call this from their <c>Work</c> (outside any transaction) to give new
/// volumes their files, restored from the manifest recorded in <c>volumes.source_manifest_id</c> or empty.
/// </summary>
public sealed class DiskFiles(VolumeStore volumes, DataPlaneStore store, IOptions<NodeOptions> node)
{
    public const long BytesPerGb = 1L << 30;

    /// <summary>The job error code of an ECS job (create, change OS) whose disk could not be restored: data damaged.</summary>
    public const string EcsDamagedCode = "Ecs.0218";

    /// <summary>The job error code of an EVS disk created from an image whose data is damaged.</summary>
    public const string EvsDamagedCode = "EVS.5410";

    /// <summary>
    /// Gives every volume of <paramref name="volumeIds"/> still <c>creating</c> its file. Idempotent (the data plane's
    /// create and restore are), so a resumed job simply runs it again. All or nothing: a damaged or missing chunk fails
    /// the job with <paramref name="damagedCode"/> and removes the files of every volume of the call, also those already
    /// written (a server's undamaged disks are not left behind beside its failed one). The job's failure marks the same
    /// files doomed too, for a process that dies in between.
    /// </summary>
    public async Task MaterialiseAsync(IReadOnlyCollection<string> volumeIds, string damagedCode, CancellationToken ct)
    {
        if (volumeIds.Count == 0) return;
        var disks = await volumes.GetCreatingAsync(volumeIds, ct);
        try
        {
            foreach (var disk in disks)
                await WriteDiskAsync(disk.Id, disk.SizeGb * BytesPerGb, disk.SourceManifestId, damagedCode, ct);
        }
        catch (JobFailedException)
        {
            foreach (var disk in disks) await store.DeleteVolumeAsync(disk.Id, CancellationToken.None);
            throw;
        }
    }

    /// <summary>
    /// Replaces a volume's content with the disk a manifest names (changing a server's OS), or with zeros when
    /// <paramref name="manifestId"/> is null. The manifest is verified first, so damaged image data fails the job with
    /// <paramref name="damagedCode"/> before the old content is touched.
    /// </summary>
    public async Task ReplaceAsync(string volumeId, long sizeBytes, string? manifestId, string damagedCode, CancellationToken ct)
    {
        if (manifestId is not null)
        {
            var check = await store.VerifyAsync([manifestId], ct);
            if (!check.Ok) throw Damaged(volumeId, damagedCode, Describe(check.Damaged[0]));
        }
        await store.DeleteVolumeAsync(volumeId, ct);
        await WriteDiskAsync(volumeId, sizeBytes, manifestId, damagedCode, ct);
    }

    /// <summary>
    /// Makes sure a volume has its file before bytes are read from or written to it. A volume whose record predates disk
    /// bytes has none yet: it reads as zeros, so an empty file is its content.
    /// </summary>
    public async Task EnsureAsync(string volumeId, long sizeBytes, CancellationToken ct)
    {
        if (store.VolumeExists(volumeId)) return;
        // Another node's volume has its bytes on that node's disk: an empty file here would pass for its content.
        if (await volumes.GetNodeAsync(volumeId, ct) is { } host && host != node.Value.Name)
            throw new VolumeElsewhereException(volumeId, host);
        await store.CreateVolumeAsync(volumeId, sizeBytes, ct);
    }

    /// <summary>
    /// Grows a volume's file to <paramref name="sizeBytes"/> (a volume without a file yet gets one of that size). Idempotent.
    /// </summary>
    public async Task ExtendAsync(string volumeId, long sizeBytes, CancellationToken ct)
    {
        if (!store.VolumeExists(volumeId)) await store.CreateVolumeAsync(volumeId, sizeBytes, ct);
        else await store.ExtendVolumeAsync(volumeId, sizeBytes, ct);
    }

    /// <summary>
    /// Restores existing volumes from backed-up disks, all or nothing (<see cref="DataPlaneStore.ReplaceVolumesAsync"/>): a
    /// damaged or missing chunk fails the job with <paramref name="damagedCode"/> and no volume changed. A capture reading a
    /// volume makes the call throw for a retry. Idempotent: a resumed job writes the same content again.
    /// </summary>
    public async Task RestoreOntoAsync(IReadOnlyList<Backups.RestoreDisk> disks, string damagedCode, CancellationToken ct)
    {
        try
        {
            await store.ReplaceVolumesAsync([.. disks.Select(d => new VolumeRestore(d.VolumeId, d.SizeGb * BytesPerGb, d.ManifestId))], ct);
        }
        catch (DamagedChunkException ex)
        {
            throw JobContext.Fail(damagedCode, $"The backup could not be restored because its stored data is damaged ({ex.Message}). " +
                "No disk was written; verify the backup and restore another one.");
        }
    }

    private async Task WriteDiskAsync(string volumeId, long sizeBytes, string? manifestId, string damagedCode, CancellationToken ct)
    {
        try
        {
            if (manifestId is null) await store.CreateVolumeAsync(volumeId, sizeBytes, ct);
            else await store.RestoreVolumeAsync(volumeId, sizeBytes, manifestId, ct);
        }
        catch (DamagedChunkException ex)
        {
            throw Damaged(volumeId, damagedCode, ex.Message);
        }
    }

    private static JobFailedException Damaged(string volumeId, string code, string detail) =>
        JobContext.Fail(code, $"The data of disk {volumeId} could not be restored because the stored image or backup data is " +
            $"damaged ({detail}). The disk was not written; verify the image or backup and create it again.");

    private static string Describe(DamagedChunk chunk) =>
        $"chunk {chunk.ChunkIndex} ({chunk.ChunkId}) of manifest {chunk.ManifestId}: {chunk.Problem}";
}

/// <summary>A volume's bytes were asked for on a node that does not host it (a job or request that reached the wrong node).</summary>
public sealed class VolumeElsewhereException(string volumeId, string node)
    : Exception($"The bytes of volume {volumeId} are on node {node}, not on this one.")
{
    public string Node => node;
}
