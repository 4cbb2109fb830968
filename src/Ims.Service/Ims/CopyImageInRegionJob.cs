using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Ims;

/// <summary>What an in-region copy needs to know; stored as the job payload.</summary>
public sealed record CopyImagePayload(string SourceImageId, string ImageId);

/// <summary>
/// <c>imsCopyImageInRegionJob</c>: a system or data disk image copied within the region. The copy names the source's
/// manifests (no byte is copied: the data plane's chunks are shared and immutable), so one step does it all:
/// <c>CopyImage</c> reads the source (still live, with content) and makes the copy <c>active</c>. A failed job kills the
/// copy (neither listed nor counted against the quota).
/// </summary>
public sealed class CopyImageInRegionJob(ImageStore images) : JobHandler
{
    public const string Type = "imsCopyImageInRegionJob";

    public override string JobType => Type;

    public override string InternalErrorCode => "IMG.0014";

    public override IReadOnlyList<JobStep> Steps { get; } =
    [
        new("CopyImage", async (job, write, ct) =>
        {
            var payload = job.Payload<CopyImagePayload>();
            var source = await images.GetLiveAsync(write, payload.SourceImageId, ct);
            if (source is not { Status: "active", ManifestId: not null })
                throw JobContext.Fail("IMG.0027", $"The image {payload.SourceImageId} no longer exists.");
            if (await images.CopyContentAsync(write, payload.ImageId, source, job.NowMs, ct))
                await images.ActivateDiskImageAsync(write, payload.ImageId, job.NowMs, ct);
        }),
    ];

    public override Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct) =>
        images.KillAsync(write, job.Payload<CopyImagePayload>().ImageId, forgetBackup: false, job.NowMs, ct);
}
