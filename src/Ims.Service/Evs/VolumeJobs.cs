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
