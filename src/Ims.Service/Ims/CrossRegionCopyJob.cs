using Ims.Service.Http;
using Ims.Service.Backups;
using Ims.Service.Cbr;
using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Ims;

/// <summary>
/// An image replicated across regions: the source image and (a whole image) its backup, the new image (owned by the target
/// project), and the ids of the replica's checkpoint and backup, fixed at request time so that a resumed step writes the
/// same rows. A system or data disk image has no backup (<see cref="SourceBackupId"/> and <see cref="VaultId"/> null).
/// </summary>
public sealed record CrossRegionCopyPayload(string SourceImageId, string? SourceBackupId, string ImageId, string TargetProjectId,
    string? VaultId, string CheckpointId, string BackupId);

/// <summary>
/// <c>imsCrossRegionCopyImageJob</c>: the backup behind the whole image is replicated into the target vault (a new CBR
/// restore point and backup with the same captured disks, as CBR replication does), then the new image is registered on
/// it. A system or data disk image needs no replica: the new image names the source's content (chunks are shared and
/// immutable), recorded in the same step. A failure deletes the replica (if any) and hides the image.
/// </summary>
public sealed class CrossRegionCopyJob(ImageStore images, BackupStore backups, VaultStore vaults, BackupRemoval removal) : JobHandler
{
    public override string StorageFullCode => ErrorBodies.StorageFullCode;

    public const string Type = "imsCrossRegionCopyImageJob";

    public override string JobType => Type;

    public override IReadOnlyList<JobStep> Steps { get; } =
    [
        new("ReplicateBackup", async (job, write, ct) =>
        {
            var p = job.Payload<CrossRegionCopyPayload>();
            if (p.SourceBackupId is null)
            {
                var image = await images.GetLiveAsync(write, p.SourceImageId, ct);
                if (image is not { Status: "active", ManifestId: not null })
                    throw JobContext.Fail("IMG.0027", $"The image {p.SourceImageId} no longer exists.");
                await images.CopyContentAsync(write, p.ImageId, image, job.NowMs, ct);
                job.Entities["process_percent"] = 50.0;
                job.Entities["current_task"] = "RegisterImage";
                return;
            }
            var source = await backups.GetAsync(write, p.SourceBackupId, ct);
            if (source?.Status != BackupStatus.Available) throw JobContext.Fail("IMG.0032", ImsErrors.MessageOf("IMG.0032"));
            var vault = await vaults.GetAsync(write, p.TargetProjectId, p.VaultId!, ct);
            if (vault is null) throw JobContext.Fail("IMG.0184", ImsErrors.MessageOf("IMG.0184"));
            if (vault.Status != "available") throw JobContext.Fail("IMG.0188", ImsErrors.MessageOf("IMG.0188"));
            if (!await Vaults.HasRoomAsync(write, backups, vault, source.ResourceSize, ct))
                throw JobContext.Fail("IMG.0182", ImsErrors.MessageOf("IMG.0182"));

            await backups.ReplicateAsync(write, new BackupReplica(p.SourceBackupId, p.TargetProjectId, vault.Id, p.CheckpointId, p.BackupId),
                job.NowMs, ct);
            await images.AttachReplicaBackupAsync(write, p.ImageId, p.BackupId, job.NowMs, ct);
            job.Entities["process_percent"] = 50.0;
            job.Entities["current_task"] = "RegisterImage";
        }),
        new("RegisterImage", async (job, write, ct) =>
        {
            await images.ActivateAsync(write, job.Payload<CrossRegionCopyPayload>().ImageId, job.NowMs, ct);
            job.Entities["process_percent"] = 100.0;
            job.Entities.Remove("current_task");
        }),
    ];

    /// <summary>Nothing is left behind: the image is killed (neither listed nor counted) and the replica deleted.</summary>
    public override async Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        var p = job.Payload<CrossRegionCopyPayload>();
        await images.KillAsync(write, p.ImageId, forgetBackup: true, job.NowMs, ct);
        await removal.DeleteAsync(write, p.TargetProjectId, [p.BackupId], ct);
    }
}
