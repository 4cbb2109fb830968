using Ims.Service.Backups;
using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Ims;

/// <summary>What a whole-image job needs to know; stored as the job payload.</summary>
public sealed record WholeImagePayload(string ImageId, string Mode, string? BackupId, string? ServerId, string? VaultId,
    string? CheckpointId = null);

/// <summary>
/// The steps shared by the whole-image jobs: the image is registered from a backup's captured disks, and a failed job
/// leaves no listed image and no reserved quota (the record is <c>killed</c>, which lists and quota ignore).
/// </summary>
public abstract class WholeImageJob(ImageStore images) : JobHandler
{
    protected ImageStore Images { get; } = images;

    public override string InternalErrorCode => "IMG.0014";

    /// <summary>Registers the image from its backup: attributes come from the captured disks and the source server.</summary>
    protected static JobStep RegisterImage(ImageStore images, BackupStore backups) => new("RegisterImage", async (job, write, ct) =>
    {
        var payload = job.Payload<WholeImagePayload>();
        var image = await images.GetAsync(write, payload.ImageId, ct);
        var facts = image?.BackupId is null ? null : await backups.GetRegistrationFactsAsync(write, image.BackupId, ct);
        if (facts is null || facts.Status != "available")
            throw JobContext.Fail("IMG.0032", ImsErrors.MessageOf("IMG.0032"));
        if (facts.SystemDiskGb is null)
            throw JobContext.Fail("IMG.0195", ImsErrors.MessageOf("IMG.0195"));

        var source = facts.SourceImageId is null ? null : await images.GetAsync(write, facts.SourceImageId, ct);
        await images.ActivateWholeImageAsync(write, payload.ImageId, new WholeImageAttributes(
            MinDisk: facts.SystemDiskGb.Value,
            ImageSize: facts.TotalGb * (1L << 30),
            OsType: facts.OsType ?? source?.OsType ?? "Linux",
            OsVersion: source?.OsVersion ?? "",
            Platform: source?.Platform ?? "",
            OsBit: source?.OsBit ?? "64",
            DataDisksOffline: facts.OsType == "Windows" && facts.SanPolicy is not (null or "OnlineAll"),
            Properties: WholeImageProperties(facts.SourceImageId)), job.NowMs, ct);
        job.Entities["process_percent"] = 100.0;
        job.Entities.Remove("current_task");
    });

    /// <summary>A failed job hides its image (<c>killed</c> is neither listed nor counted against the quota).</summary>
    public override Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct) =>
        Images.KillAsync(write, job.Payload<WholeImagePayload>().ImageId, forgetBackup: false, job.NowMs, ct);

    protected static Task MarkSavingAsync(ImageStore images, JobContext job, WriteScope write, string nextTask, double percent, CancellationToken ct)
    {
        job.Entities["process_percent"] = percent;
        job.Entities["current_task"] = nextTask;
        return images.MarkSavingAsync(write, job.Payload<WholeImagePayload>().ImageId, job.NowMs, ct);
    }

    private static string WholeImageProperties(string? sourceImageId) =>
        System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["__originalimagename"] = sourceImageId ?? "",
            ["hw_firmware_type"] = "bios",
            ["__support_kvm"] = "true",
        });
}

/// <summary>Modes B and C: register an existing CSBS or CBR backup.</summary>
public sealed class WholeImageFromBackupJob(ImageStore images, BackupStore backups) : WholeImageJob(images)
{
    public const string Type = "imsCreateWholeImageByBackupJob";

    public override string JobType => Type;

    public override IReadOnlyList<JobStep> Steps { get; } =
    [
        new("VerifyBackup", async (job, write, ct) =>
        {
            var payload = job.Payload<WholeImagePayload>();
            var status = (await backups.GetAsync(write, job.ProjectId, payload.BackupId!, ct))?.Status;
            if (status is null) throw JobContext.Fail("IMG.0020", ImsErrors.MessageOf("IMG.0020"));
            if (status != "available") throw JobContext.Fail("IMG.0032", ImsErrors.MessageOf("IMG.0032"));
            await MarkSavingAsync(images, job, write, "RegisterImage", 50.0, ct);
        }),
        RegisterImage(images, backups),
    ];
}

/// <summary>
/// Mode A: capture the server into the backup the request started (CBR restore point or CSBS backup), finish it, then
/// register it. A failure deletes that backup again, so a failed job leaves nothing behind.
/// </summary>
public sealed class WholeImageFromServerJob(ImageStore images, BackupStore backups, BackupCapture capture) : WholeImageJob(images)
{
    public const string Type = "imsCreateWholeImageByInstanceJob";

    public override string JobType => Type;

    public override IReadOnlyList<JobStep> Steps =>
    [
        new("CreateBackup", async (job, write, ct) =>
        {
            var payload = job.Payload<WholeImagePayload>();
            if (!await capture.CaptureAsync(write, payload.BackupId!, [], ct))
                throw JobContext.Fail("IMG.0110", ImsErrors.MessageOf("IMG.0110"));
            await MarkSavingAsync(Images, job, write, "CreateBackup", 20.0, ct);
        }),
        new("CaptureDisks", (job, write, ct) =>
        {
            job.Entities["process_percent"] = 40.0;
            return capture.RecordBytesAsync(write, job.JobId, ct);
        })
        {
            Work = (job, ct) => capture.CaptureBytesAsync(job.JobId, [job.Payload<WholeImagePayload>().BackupId!], ct),
        },
        new("FinishBackup", async (job, write, ct) =>
        {
            await capture.FinishCheckpointAsync(write, job.Payload<WholeImagePayload>().CheckpointId!, succeeded: true, ct);
            job.Entities["process_percent"] = 80.0;
            job.Entities["current_task"] = "RegisterImage";
        }),
        RegisterImage(Images, backups),
    ];

    public override async Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        await base.OnFailedAsync(job, write, ct);
        capture.ReleaseBytes(job.JobId);
        var payload = job.Payload<WholeImagePayload>();
        // Releases the server, then removes the backup this job made; the killed image no longer points at it.
        await capture.FinishCheckpointAsync(write, payload.CheckpointId!, succeeded: false, ct);
        await BackupRemoval.DeleteAsync(write, job.ProjectId, [payload.BackupId!], ct);
        await Images.ForgetBackupAsync(write, payload.ImageId, ct);
    }
}
