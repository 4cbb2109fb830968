using Dapper;
using Ims.Service.Backups;
using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Ims;

/// <summary>
/// A whole image replicated across regions: the source image and its backup, the new image (owned by the target project),
/// and the ids of the replica's checkpoint and backup, fixed at request time so that a resumed step writes the same rows.
/// </summary>
public sealed record CrossRegionCopyPayload(string SourceImageId, string SourceBackupId, string ImageId, string TargetProjectId,
    string VaultId, string CheckpointId, string BackupId);

/// <summary>
/// <c>imsCrossRegionCopyImageJob</c>: the backup behind the whole image is replicated into the target vault (a new CBR
/// restore point and backup with the same captured disks, as CBR replication does), then the new image is registered on
/// it. A failure deletes the replica and hides the image.
/// </summary>
public sealed class CrossRegionCopyJob : JobHandler
{
    public const string Type = "imsCrossRegionCopyImageJob";

    public override string JobType => Type;

    public override IReadOnlyList<JobStep> Steps { get; } =
    [
        new("ReplicateBackup", async (job, write, ct) =>
        {
            var p = job.Payload<CrossRegionCopyPayload>();
            var source = await write.Connection.QuerySingleOrDefaultAsync<(string Status, long SizeGb)>(new CommandDefinition(
                "SELECT status, resource_size FROM backups WHERE id = @SourceBackupId", p, write.Transaction, cancellationToken: ct));
            if (source.Status != BackupStatus.Available) throw JobContext.Fail("IMG.0032", ImsErrors.MessageOf("IMG.0032"));
            var vault = await write.Connection.QuerySingleOrDefaultAsync<(string Status, long SizeGb)>(new CommandDefinition(
                "SELECT status, size_gb FROM vaults WHERE id = @VaultId AND project_id = @TargetProjectId", p, write.Transaction,
                cancellationToken: ct));
            if (vault.Status is null) throw JobContext.Fail("IMG.0184", ImsErrors.MessageOf("IMG.0184"));
            if (vault.Status != "available") throw JobContext.Fail("IMG.0188", ImsErrors.MessageOf("IMG.0188"));
            var usedGb = await write.Connection.ExecuteScalarAsync<long>(new CommandDefinition(
                "SELECT COALESCE(SUM(resource_size), 0) FROM backups WHERE vault_id = @VaultId AND service = 'CBR' AND status = 'available'",
                p, write.Transaction, cancellationToken: ct));
            if (usedGb + source.SizeGb > vault.SizeGb) throw JobContext.Fail("IMG.0182", ImsErrors.MessageOf("IMG.0182"));

            var args = new { p.SourceBackupId, p.TargetProjectId, p.VaultId, p.CheckpointId, p.BackupId, p.ImageId, now = job.NowMs };
            await write.Connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO checkpoints (id, project_id, service, vault_id, name, description, status, incremental, created_at, updated_at)
                SELECT @CheckpointId, @TargetProjectId, 'CBR', @VaultId, name, description, 'available', 0, @now, @now
                FROM backups WHERE id = @SourceBackupId
                """, args, write.Transaction, cancellationToken: ct));
            await write.Connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO backups (id, project_id, service, checkpoint_id, vault_id, resource_id, resource_type, resource_name,
                                     resource_az, resource_size, name, description, status, incremental, os_type, image_id,
                                     san_policy, enterprise_project_id, created_at, updated_at, protected_at)
                SELECT @BackupId, @TargetProjectId, 'CBR', @CheckpointId, @VaultId, resource_id, resource_type, resource_name,
                       resource_az, resource_size, name, description, 'available', 0, os_type, image_id,
                       san_policy, '0', @now, @now, @now
                FROM backups WHERE id = @SourceBackupId
                """, args, write.Transaction, cancellationToken: ct));
            await write.Connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO backup_volumes (backup_id, volume_id, name, size_gb, volume_type, device, boot_index, multiattach, bootable,
                                            manifest_id)
                SELECT @BackupId, volume_id, name, size_gb, volume_type, device, boot_index, multiattach, bootable, manifest_id
                FROM backup_volumes WHERE backup_id = @SourceBackupId
                """, args, write.Transaction, cancellationToken: ct));
            await write.Connection.ExecuteAsync(new CommandDefinition(
                "UPDATE images SET backup_id = @BackupId, status = 'saving', updated_at = @now WHERE id = @ImageId AND status = 'queued'",
                args, write.Transaction, cancellationToken: ct));
            job.Entities["process_percent"] = 50.0;
            job.Entities["current_task"] = "RegisterImage";
        }),
        new("RegisterImage", async (job, write, ct) =>
        {
            var p = job.Payload<CrossRegionCopyPayload>();
            await write.Connection.ExecuteAsync(new CommandDefinition(
                "UPDATE images SET status = 'active', active_at = @now, updated_at = @now WHERE id = @ImageId AND status = 'saving'",
                new { p.ImageId, now = job.NowMs }, write.Transaction, cancellationToken: ct));
            job.Entities["process_percent"] = 100.0;
            job.Entities.Remove("current_task");
        }),
    ];

    /// <summary>Nothing is left behind: the image is killed (neither listed nor counted) and the replica deleted.</summary>
    public override async Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        var p = job.Payload<CrossRegionCopyPayload>();
        await write.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE images SET status = 'killed', backup_id = NULL, updated_at = @now WHERE id = @ImageId AND status IN ('queued', 'saving')",
            new { p.ImageId, now = job.NowMs }, write.Transaction, cancellationToken: ct));
        await BackupRemoval.DeleteAsync(write, p.TargetProjectId, [p.BackupId], ct);
    }
}
