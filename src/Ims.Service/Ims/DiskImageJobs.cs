using Ims.DataPlane;
using Ims.Service.Data;
using Ims.Service.Ecs;
using Ims.Service.Evs;
using Ims.Service.Jobs;
using Ims.Service.Storage;
using DataPlaneStore = Ims.DataPlane.DataPlane;

namespace Ims.Service.Ims;

/// <summary>One image a disk-image job makes: the image, the disk it is made of, and its sub-job id (data disk images).</summary>
public sealed record DiskImageTarget(string ImageId, string VolumeId, string Name, string? SubJobId);

/// <summary>What a disk-image job needs to know; stored as the job payload.</summary>
public sealed record DiskImagePayload(string? ServerId, IReadOnlyList<DiskImageTarget> Disks);

/// <summary>
/// The data plane's lease on the manifests a capture made and which image each belongs to, between the capture's work
/// and its commit (the engine releases it once that transaction has ended).
/// </summary>
public sealed class CapturedImages(IManifestLease lease, IReadOnlyList<(string ImageId, string VolumeId)> images) : IDisposable
{
    public IManifestLease Lease { get; } = lease;

    public IReadOnlyList<(string ImageId, string VolumeId)> Images { get; } = images;

    public void Dispose() => Lease.Dispose();
}

/// <summary>
/// The jobs of <c>POST /v2/cloudimages/action</c> for images of disks, one wire <c>job_type</c> per way of asking, all
/// with the same steps:
/// <list type="number">
/// <item><c>CaptureDisks</c>: every disk's bytes at one instant (work), each image's manifest and size recorded (commit,
/// the images <c>saving</c>);</item>
/// <item><c>RegisterImage</c>: the images become <c>active</c> and the ECS (if any) is released.</item>
/// </list>
/// A failed job kills its images (neither listed nor counted against the quota) and releases the ECS; the manifests it
/// made are left to the garbage collector.
/// </summary>
public abstract class DiskImageJob(ImageStore images, VolumeStore volumes, DiskFiles files, DataPlaneStore dataPlane) : JobHandler
{
    /// <summary>The <c>servers.task_state</c> that holds an ECS while its disks are captured.</summary>
    public const string TaskState = "image_snapshot";

    /// <summary>The sub-job type a data disk image reports in <c>sub_jobs_result</c> (the reference's "creating a data disk image").</summary>
    public const string DataImageSubJobType = "imsImportDataImageJob";

    public const string CaptureDisks = "CaptureDisks";
    public const string RegisterImage = "RegisterImage";

    public override string InternalErrorCode => "IMG.0014";

    private IReadOnlyList<JobStep>? _steps;

    public override IReadOnlyList<JobStep> Steps => _steps ??=
    [
        JobStep.WithWork(CaptureDisks, CaptureAsync, async (job, captured, write, ct) =>
        {
            var manifests = captured.Lease.Disks.ToDictionary(d => d.VolumeId, StringComparer.Ordinal);
            foreach (var (imageId, volumeId) in captured.Images)
                await images.SetDiskContentAsync(write, imageId, manifests[volumeId].ManifestId, manifests[volumeId].SizeBytes, job.NowMs, ct);
            job.Entities["process_percent"] = 80.0;
        }),
        new(RegisterImage, async (job, write, ct) =>
        {
            var payload = job.Payload<DiskImagePayload>();
            foreach (var disk in payload.Disks) await images.ActivateDiskImageAsync(write, disk.ImageId, job.NowMs, ct);
            if (payload.ServerId is { } serverId) await ServerGuards.ReleaseAsync(write, serverId, TaskState, job.NowMs, ct);
            job.Entities["process_percent"] = 100.0;
        }),
    ];

    /// <summary>
    /// Captures every disk of the job at one instant. A disk deleted since the request fails the job (<c>IMG.0120</c>)
    /// before anything is read: its file must not be made again.
    /// </summary>
    private async Task<CapturedImages> CaptureAsync(JobContext job, CancellationToken ct)
    {
        var payload = job.Payload<DiskImagePayload>();
        var volumeIds = payload.Disks.Select(d => d.VolumeId).Distinct(StringComparer.Ordinal).ToList();
        foreach (var volumeId in volumeIds)
        {
            var volume = await volumes.GetAsync(job.ProjectId, volumeId, ct);
            if (volume is null || volume.Status is not (VolumeStatus.Available or VolumeStatus.InUse))
                throw JobContext.Fail("IMG.0120", $"The disk {volumeId} is no longer available.");
            await files.EnsureAsync(volumeId, volume.SizeGb * DiskFiles.BytesPerGb, ct);
        }
        var lease = await dataPlane.CaptureAsync([.. volumeIds.Select(id => new DiskToCapture(id))], ct);
        return new CapturedImages(lease, [.. payload.Disks.Select(d => (d.ImageId, d.VolumeId))]);
    }

    public override async Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        var payload = job.Payload<DiskImagePayload>();
        foreach (var disk in payload.Disks) await images.KillAsync(write, disk.ImageId, forgetBackup: false, job.NowMs, ct);
        if (payload.ServerId is { } serverId) await ServerGuards.ReleaseAsync(write, serverId, TaskState, job.NowMs, ct);
        // The manifests a capture recorded are garbage now.
        await DataJanitor.RequestCollectionAsync(write, ct);
    }
}

/// <summary>A system disk image of an ECS, with data disk images of the disks <c>data_images</c> names.</summary>
public sealed class ImageFromServerJob(ImageStore images, VolumeStore volumes, DiskFiles files, DataPlaneStore dataPlane)
    : DiskImageJob(images, volumes, files, dataPlane)
{
    public const string Type = "imsCreateImageByInstance";

    public override string JobType => Type;
}

/// <summary>A system disk image of an EVS disk (<c>volume_id</c>).</summary>
public sealed class SystemImageFromVolumeJob(ImageStore images, VolumeStore volumes, DiskFiles files, DataPlaneStore dataPlane)
    : DiskImageJob(images, volumes, files, dataPlane)
{
    public const string Type = "imsVolumeCreateImageJob";

    public override string JobType => Type;
}

/// <summary>Data disk images of EVS disks (<c>data_images</c> without <c>instance_id</c>).</summary>
public sealed class DataImagesFromVolumesJob(ImageStore images, VolumeStore volumes, DiskFiles files, DataPlaneStore dataPlane)
    : DiskImageJob(images, volumes, files, dataPlane)
{
    public const string Type = "imsVolumesToSysDataImagesJob";

    public override string JobType => Type;
}
