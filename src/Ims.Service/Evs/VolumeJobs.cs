using Ims.Service.Data;
using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Evs;

public sealed record VolumesPayload(List<string> VolumeIds);

/// <summary>Makes EVS disks created by a request usable.</summary>
public sealed class CreateVolumeJob(VolumeStore volumes, DiskFiles files) : JobHandler
{
    public const string Type = "createVolume";

    public override string JobType => Type;

    public override string InternalErrorCode => "EVS.5400";

    public override IReadOnlyList<JobStep> Steps =>
    [
        JobStep.WithWork("create",
            (job, ct) => files.MaterialiseAsync(job.Payload<VolumesPayload>().VolumeIds, DiskFiles.EvsDamagedCode, ct),
            (job, write, ct) => volumes.CompleteCreationAsync(write, job.Payload<VolumesPayload>().VolumeIds, ct)),
    ];

    public override Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct) =>
        volumes.FailCreationAsync(write, job.Payload<VolumesPayload>().VolumeIds, ct);
}

/// <summary>Removes EVS disks the request already moved to <c>deleting</c>.</summary>
public sealed class DeleteVolumeJob(VolumeStore volumes) : JobHandler
{
    public const string Type = "deleteVolume";

    public override string JobType => Type;

    public override string InternalErrorCode => "EVS.5400";

    public override IReadOnlyList<JobStep> Steps =>
    [
        new("delete", (job, write, ct) => volumes.DeleteAsync(write, job.Payload<VolumesPayload>().VolumeIds, ct)),
    ];

    public override Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct) =>
        volumes.SetStatusAsync(write, job.Payload<VolumesPayload>().VolumeIds, VolumeStatus.Error, [VolumeStatus.Deleting], ct);
}

public sealed record ExtendPayload(string VolumeId, long NewSizeGb);

/// <summary>
/// Grows an EVS disk the request moved to <c>extending</c>: the work grows its bytes (zeros at the end; the next backup
/// captures the larger disk), the commit records the size. A failure settles the disk again at its old size.
/// </summary>
public sealed class ExtendVolumeJob(VolumeStore volumes, DiskFiles files) : JobHandler
{
    public const string Type = "extendVolume";

    public override string JobType => Type;

    public override string InternalErrorCode => "EVS.5400";

    public override IReadOnlyList<JobStep> Steps =>
    [
        JobStep.WithWork("extend",
            (job, ct) =>
            {
                var extend = job.Payload<ExtendPayload>();
                return files.ExtendAsync(extend.VolumeId, extend.NewSizeGb * DiskFiles.BytesPerGb, ct);
            },
            (job, write, ct) =>
            {
                var extend = job.Payload<ExtendPayload>();
                return volumes.CompleteExtendAsync(write, extend.VolumeId, extend.NewSizeGb, ct);
            }),
    ];

    public override Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct) =>
        volumes.SettleFromAsync(write, [job.Payload<ExtendPayload>().VolumeId], VolumeStatus.Extending, ct);
}
