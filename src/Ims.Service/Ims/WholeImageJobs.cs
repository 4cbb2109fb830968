using Dapper;
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
public abstract class WholeImageJob : JobHandler
{
    public override string InternalErrorCode => "IMG.0014";

    /// <summary>Registers the image from its backup: attributes come from the captured disks and the source server.</summary>
    protected static JobStep RegisterImage() => new("RegisterImage", async (job, write, ct) =>
    {
        var payload = job.Payload<WholeImagePayload>();
        var backupId = await write.Connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT backup_id FROM images WHERE id = @ImageId", payload, write.Transaction, cancellationToken: ct));
        var facts = await write.Connection.QuerySingleOrDefaultAsync<BackupFacts>(new CommandDefinition(
            """
            SELECT b.id AS BackupId, b.status, b.resource_id AS ResourceId, b.os_type AS OsType, b.image_id AS SourceImageId,
                   b.san_policy AS SanPolicy,
                   (SELECT bv.size_gb FROM backup_volumes bv WHERE bv.backup_id = b.id AND bv.boot_index = 0) AS SystemDiskGb,
                   (SELECT COALESCE(SUM(bv.size_gb), 0) FROM backup_volumes bv WHERE bv.backup_id = b.id) AS TotalGb
            FROM backups b WHERE b.id = @backupId
            """, new { backupId }, write.Transaction, cancellationToken: ct));
        if (facts is null || facts.Status != "available")
            throw JobContext.Fail("IMG.0032", ImsErrors.MessageOf("IMG.0032"));
        if (facts.SystemDiskGb is null)
            throw JobContext.Fail("IMG.0195", ImsErrors.MessageOf("IMG.0195"));

        var source = facts.SourceImageId is null ? null : await write.Connection.QuerySingleOrDefaultAsync<ImageRow>(new CommandDefinition(
            $"SELECT {ImageRow.Columns} FROM images WHERE id = @id", new { id = facts.SourceImageId }, write.Transaction, cancellationToken: ct));
        var now = job.NowMs;
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE images SET status = 'active', active_at = @now, updated_at = @now,
                min_disk = @minDisk, image_size = @imageSize, os_type = @osType, os_version = @osVersion,
                platform = @platform, os_bit = @osBit, data_disks_offline = @offline, properties = @properties
            WHERE id = @imageId
            """,
            new
            {
                now, imageId = payload.ImageId, minDisk = facts.SystemDiskGb, imageSize = facts.TotalGb * (1L << 30),
                osType = facts.OsType ?? source?.OsType ?? "Linux",
                osVersion = source?.OsVersion ?? "", platform = source?.Platform ?? "", osBit = source?.OsBit ?? "64",
                offline = facts.OsType == "Windows" && facts.SanPolicy is not (null or "OnlineAll") ? 1 : 0,
                properties = WholeImageProperties(facts.SourceImageId),
            }, write.Transaction, cancellationToken: ct));
        job.Entities["process_percent"] = 100.0;
        job.Entities.Remove("current_task");
    });

    /// <summary>A failed job hides its image (<c>killed</c> is neither listed nor counted against the quota).</summary>
    public override async Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        var payload = job.Payload<WholeImagePayload>();
        await write.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE images SET status = 'killed', updated_at = @now WHERE id = @ImageId AND status IN ('queued', 'saving')",
            new { payload.ImageId, now = job.NowMs }, write.Transaction, cancellationToken: ct));
    }

    protected static Task MarkSavingAsync(JobContext job, WriteScope write, string nextTask, double percent, CancellationToken ct)
    {
        job.Entities["process_percent"] = percent;
        job.Entities["current_task"] = nextTask;
        return write.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE images SET status = 'saving', updated_at = @now WHERE id = @ImageId AND status = 'queued'",
            new { job.Payload<WholeImagePayload>().ImageId, now = job.NowMs }, write.Transaction, cancellationToken: ct));
    }

    private static string WholeImageProperties(string? sourceImageId) =>
        System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["__originalimagename"] = sourceImageId ?? "",
            ["hw_firmware_type"] = "bios",
            ["__support_kvm"] = "true",
        });

    private sealed record BackupFacts
    {
        public string BackupId { get; init; } = "";
        public string Status { get; init; } = "";
        public string ResourceId { get; init; } = "";
        public string? OsType { get; init; }
        public string? SourceImageId { get; init; }
        public string? SanPolicy { get; init; }
        public long? SystemDiskGb { get; init; }
        public long TotalGb { get; init; }
    }
}

/// <summary>Modes B and C: register an existing CSBS or CBR backup.</summary>
public sealed class WholeImageFromBackupJob : WholeImageJob
{
    public const string Type = "imsCreateWholeImageByBackupJob";

    public override string JobType => Type;

    public override IReadOnlyList<JobStep> Steps { get; } =
    [
        new("VerifyBackup", async (job, write, ct) =>
        {
            var payload = job.Payload<WholeImagePayload>();
            var status = await write.Connection.ExecuteScalarAsync<string?>(new CommandDefinition(
                "SELECT status FROM backups WHERE id = @BackupId AND project_id = @project",
                new { payload.BackupId, project = job.ProjectId }, write.Transaction, cancellationToken: ct));
            if (status is null) throw JobContext.Fail("IMG.0020", ImsErrors.MessageOf("IMG.0020"));
            if (status != "available") throw JobContext.Fail("IMG.0032", ImsErrors.MessageOf("IMG.0032"));
            await MarkSavingAsync(job, write, "RegisterImage", 50.0, ct);
        }),
        RegisterImage(),
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

    public WholeImageFromServerJob(BackupSteps backup)
    {
        _backup = backup;
        var steps = backup.For(new BackupJob(
            job => job.Payload<WholeImagePayload>().CheckpointId!,
            _ => null,
            () => JobContext.Fail("IMG.0110", ImsErrors.MessageOf("IMG.0110"))));
        Steps =
        [
            .. steps.Select(step => step.Name switch
            {
                // The progress IMS reports while it backs the server up (current_task names its own task, not the step).
                BackupSteps.Capture => step.ThenCommit((job, write, ct) => MarkSavingAsync(job, write, "CreateBackup", 20.0, ct)),
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
            RegisterImage(),
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
        await BackupRemoval.DeleteAsync(write, job.ProjectId, [payload.BackupId!], ct);
        await write.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE images SET backup_id = NULL WHERE id = @ImageId", payload, write.Transaction, cancellationToken: ct));
    }
}
