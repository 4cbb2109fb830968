using Ims.Service.Http;
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

    public override string StorageFullCode => ErrorBodies.StorageFullCode;

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
/// Mode A: the backup steps of the CBR and CSBS checkpoint jobs (<see cref="BackupSteps"/>) on the checkpoint the request
/// started (CBR restore point or CSBS backup), each also reporting the image's progress, then the image is registered.
/// A failure deletes that backup again, so a failed job leaves nothing behind.
/// </summary>
public sealed class WholeImageFromServerJob : WholeImageJob
{
    public const string Type = "imsCreateWholeImageByInstanceJob";

    private readonly BackupSteps _backup;
    private readonly BackupRemoval _removal;

    public WholeImageFromServerJob(ImageStore images, BackupStore backups, BackupSteps backup, BackupRemoval removal) : base(images)
    {
        _backup = backup;
        _removal = removal;
        var steps = backup.For(new BackupJob(
            job => job.Payload<WholeImagePayload>().CheckpointId!,
            _ => null,
            () => JobContext.Fail("IMG.0110", ImsErrors.MessageOf("IMG.0110"))));
        Steps =
        [
            .. steps.Select(step => step.Name switch
            {
                // The progress IMS reports while it backs the server up (current_task names its own task, not the step).
                BackupSteps.Capture => step.ThenCommit((job, write, ct) => MarkSavingAsync(images, job, write, "CreateBackup", 20.0, ct)),
                BackupSteps.CaptureBytes => step.ThenCommit((job, _, _) =>
                {
                    job.Entities["process_percent"] = 40.0;
                    return Task.CompletedTask;
                }),
                BackupSteps.Complete => step.ThenCommit((job, _, _) =>
                {
                    job.Entities["process_percent"] = 80.0;
                    job.Entities["current_task"] = "RegisterImage";
                    return Task.CompletedTask;
                }),
                _ => step,
            }),
            RegisterImage(images, backups),
        ];
    }

    public override string JobType => Type;

    public override IReadOnlyList<JobStep> Steps { get; }

    public override async Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        await base.OnFailedAsync(job, write, ct);
        var payload = job.Payload<WholeImagePayload>();
        // Releases the server, then removes the backup this job made; the killed image no longer points at it.
        await _backup.FailAsync(write, payload.CheckpointId!, ct);
        await _removal.DeleteAsync(write, job.ProjectId, [payload.BackupId!], ct);
        await Images.ForgetBackupAsync(write, payload.ImageId, ct);
    }
}
