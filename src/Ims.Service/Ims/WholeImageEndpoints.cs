using System.Text.Json.Nodes;
using Dapper;
using Ims.Service.Auth;
using Ims.Service.Backups;
using Ims.Service.Cbr;
using Ims.Service.Ecs;
using Ims.Service.Hosting;
using Ims.Service.Http;
using Ims.Service.Jobs;
using Ims.Service.Storage;
using Microsoft.Extensions.Options;

namespace Ims.Service.Ims;

/// <summary>
/// <c>POST /v1/cloudimages/wholeimages/action</c>: validate at once, then write the image record (queued) and its
/// job in one transaction and answer 200 <c>{"job_id"}</c>. The job does the rest.
/// </summary>
public static class WholeImageEndpoints
{
    public static IEndpointRouteBuilder MapWholeImages(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/cloudimages").ForService(ServiceKind.Ims);
        group.MapPost("/wholeimages/action", CreateWholeImage);
        group.MapGet("/job/{job_id}", ShowJobProgress);
        return app;
    }

    private static async Task<IResult> CreateWholeImage(HttpContext http, Caller caller, Database db, JobQueue jobs,
        BackupCapture capture, IOptions<ServiceOptions> options, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var settings = options.Value;
        var (body, error) = await JsonBody.ReadAsync<WholeImageRequest>(http, ServiceKind.Ims);
        if (error is not null) return error;
        var (request, invalid) = WholeImageRules.Validate(body!, chineseNames: settings.Profile == CloudProfile.Huawei);
        if (invalid is not null) return invalid;
        var valid = request!;
        if (valid.Mode == WholeImageMode.FromServer && valid.VaultId is null && !settings.EffectiveCsbsSupported)
            return ImsErrors.Of("IMG.0190");

        await using var write = await db.BeginWriteAsync(ct);
        await ImageQuota.LockAsync(write, caller.ProjectId, ct);
        var used = await ImageQuota.UsedAsync(write.Connection, write.Transaction, caller.ProjectId, ct);
        if (used >= settings.ImageQuota) return ImsErrors.Of("IMG.0015");

        var imageId = Ids.NewUuid();
        string? backupId = valid.BackupId, checkpointId = null;
        if (valid.Mode == WholeImageMode.FromServer)
        {
            var refusal = await CheckServerAsync(write, caller.ProjectId, valid, settings.Profile, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            if (refusal is not null) return refusal;
            // Mode A really takes the backup: a CBR restore point in the vault, or a CSBS backup. It holds the server
            // (task_state) until captured, so the ECS refuses a start or a system-disk detach meanwhile.
            var started = await capture.StartServerBackupAsync(write, valid.VaultId is null ? "CSBS" : "CBR", caller.ProjectId,
                valid.InstanceId!, valid.VaultId, valid.Name, valid.Description, incremental: false, ct);
            if (started is null) return ImsErrors.Of("IMG.0010");
            (checkpointId, backupId) = started.Value;
        }
        else
        {
            var refusal = await CheckBackupAsync(write, caller.ProjectId, valid, ct);
            if (refusal is not null) return refusal;
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        try
        {
            await write.Connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO images (id, owner, name, status, visibility, imagetype, whole_image, min_ram, max_ram, disk_format,
                                    description, backup_id, data_origin, source_type, enterprise_project_id, tags,
                                    source_server_id, backup_made_by_image, created_at, updated_at)
                VALUES (@imageId, @owner, @Name, 'queued', 'private', 'private', 1, @MinRam, @MaxRam, 'zvhd2',
                        @Description, @backupId, @dataOrigin, 'uds', @EnterpriseProjectId, @tags,
                        @InstanceId, @madeByImage, @now, @now)
                """,
                new
                {
                    imageId, owner = caller.ProjectId, valid.Name, valid.MinRam, valid.MaxRam, valid.Description, backupId,
                    madeByImage = checkpointId is null ? 0 : 1,
                    dataOrigin = valid.BackupId is not null ? $"backup,{valid.BackupId}" : $"instance,{valid.InstanceId}",
                    valid.EnterpriseProjectId, tags = ImageTags.Serialize(valid.Tags),
                    valid.InstanceId, now,
                }, write.Transaction, cancellationToken: ct));
        }
        catch (Exception ex) when (db.IsUniqueViolation(ex))
        {
            // Another request registered this backup first (the partial unique index decides under concurrency).
            return ImsErrors.Of(valid.Mode == WholeImageMode.FromCsbsBackup ? "IMG.0134" : "IMG.0029");
        }

        var payload = new WholeImagePayload(imageId, valid.Mode.ToString(), backupId, valid.InstanceId, valid.VaultId, checkpointId);
        var entities = new JsonObject { ["image_name"] = valid.Name, ["image_id"] = imageId, ["process_percent"] = 0.0 };
        var jobType = valid.Mode == WholeImageMode.FromServer ? WholeImageFromServerJob.Type : WholeImageFromBackupJob.Type;
        var jobId = await jobs.EnqueueAsync(write, "ims", jobType, caller.ProjectId, payload, entities, imageId, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { job_id = jobId });
    }

    /// <summary>
    /// Mode A: the server must be the caller's, running or stopped, idle, with a system disk and (Huawei) no DSS disk;
    /// a vault must be the caller's, a server-backup vault, available, and not another vault's server. A server not
    /// yet in the vault is added to it, as IMS does.
    /// </summary>
    private static async Task<ApiError?> CheckServerAsync(WriteScope write, string project, ValidWholeImageRequest request,
        CloudProfile profile, long now, CancellationToken ct)
    {
        var serverId = request.InstanceId!;
        var server = await BackupCapture.CheckServerAsync(write.Connection, write.Transaction, project, serverId, ct);
        switch (server.Problem)
        {
            case ServerProblem.NotFound: return ImsErrors.Of("IMG.0005");
            case ServerProblem.BadStatus: return ImsErrors.Of("IMG.0126");
            case ServerProblem.Busy: return ImsErrors.Of(server.TaskState == BackupCapture.TaskState ? "IMG.0136" : "IMG.0010");
            case ServerProblem.NoVolumes: return ImsErrors.Of("IMG.0119");
            default: break;
        }
        if (await ServerGuards.HasDisksInTransitAsync(write, serverId, ct)) return ImsErrors.Of("IMG.0010");
        var disks = await write.Connection.QuerySingleAsync<DiskCounts>(new CommandDefinition(
            """
            SELECT COALESCE(SUM(CASE WHEN v.multiattach = 1 THEN 1 ELSE 0 END), 0) AS Shared,
                   COALESCE(SUM(CASE WHEN a.boot_index = 0 THEN 1 ELSE 0 END), 0) AS System,
                   COALESCE(SUM(CASE WHEN v.volume_type = 'DSS' THEN 1 ELSE 0 END), 0) AS Dedicated
            FROM volume_attachments a JOIN volumes v ON v.id = a.volume_id WHERE a.server_id = @serverId
            """, new { serverId }, write.Transaction, cancellationToken: ct));
        if (disks.System == 0) return ImsErrors.Of("IMG.0119");
        if (profile == CloudProfile.Huawei && disks.Dedicated > 0) return ImsErrors.Of("IMG.0153");

        if (request.VaultId is null)
            return disks.Shared > 0 ? ImsErrors.Of("IMG.0033", "A CSBS backup cannot contain shared disks; give a CBR vault_id.") : null;

        var vault = await Vaults.FindAsync(write.Connection, write.Transaction, project, request.VaultId, ct);
        if (vault is null) return ImsErrors.Of("IMG.0184");
        if (vault.ObjectType != "server" || vault.ProtectType != "backup") return ImsErrors.Of("IMG.0193");
        if (vault.Status != "available") return ImsErrors.Of("IMG.0188");
        var boundTo = await write.Connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT vault_id FROM vault_resources WHERE resource_id = @serverId", new { serverId }, write.Transaction, cancellationToken: ct));
        if (boundTo is not null && boundTo != vault.Id) return ImsErrors.Of("IMG.0183");
        if (boundTo is null)
        {
            // The unique index on resource_id decides a race with a concurrent association: the loser inserts nothing,
            // and the vault that won is read again (another vault: IMG.0183, as if it had been there before).
            var added = await write.Connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO vault_resources (vault_id, resource_id, resource_type, name, added_at)
                VALUES (@vaultId, @serverId, @type, @name, @now)
                ON CONFLICT (resource_id) DO NOTHING
                """,
                new { vaultId = vault.Id, serverId, type = Vaults.ServerType, name = server.Name, now },
                write.Transaction, cancellationToken: ct));
            if (added == 0)
            {
                boundTo = await write.Connection.ExecuteScalarAsync<string?>(new CommandDefinition(
                    "SELECT vault_id FROM vault_resources WHERE resource_id = @serverId", new { serverId }, write.Transaction, cancellationToken: ct));
                if (boundTo != vault.Id) return ImsErrors.Of("IMG.0183");
            }
        }
        return null;
    }

    /// <summary>Modes B and C: the backup must be the caller's, of the named kind, available, and not yet imaged.</summary>
    private static async Task<ApiError?> CheckBackupAsync(WriteScope write, string project, ValidWholeImageRequest request, CancellationToken ct)
    {
        var csbs = request.Mode == WholeImageMode.FromCsbsBackup;
        var backup = await write.Connection.QuerySingleOrDefaultAsync<BackupState>(new CommandDefinition(
            "SELECT service AS Service, status AS Status FROM backups WHERE id = @BackupId AND project_id = @project",
            new { request.BackupId, project }, write.Transaction, cancellationToken: ct));
        if (backup is null) return ImsErrors.Of(csbs ? "IMG.0127" : "IMG.0020");
        if (backup.Service != (csbs ? "CSBS" : "CBR")) return ImsErrors.Of("IMG.0198");
        if (backup.Status != "available") return ImsErrors.Of(csbs ? "IMG.0132" : "IMG.0032");

        var disks = await write.Connection.QuerySingleAsync<DiskCounts>(new CommandDefinition(
            """
            SELECT COALESCE(SUM(CASE WHEN multiattach = 1 THEN 1 ELSE 0 END), 0) AS Shared,
                   COALESCE(SUM(CASE WHEN boot_index = 0 THEN 1 ELSE 0 END), 0) AS System,
                   COALESCE(SUM(CASE WHEN volume_type = 'DSS' THEN 1 ELSE 0 END), 0) AS Dedicated
            FROM backup_volumes WHERE backup_id = @BackupId
            """, new { request.BackupId }, write.Transaction, cancellationToken: ct));
        if (csbs && disks.Shared > 0) return ImsErrors.Of("IMG.0033", "A CSBS backup with shared disks cannot be used to create a full-ECS image.");
        if (disks.System == 0) return ImsErrors.Of(csbs ? "IMG.0033" : "IMG.0195");

        var imaged = await write.Connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM images WHERE backup_id = @BackupId AND whole_image = 1 AND status IN ('queued', 'saving', 'active')",
            new { request.BackupId }, write.Transaction, cancellationToken: ct));
        return imaged > 0 ? ImsErrors.Of(csbs ? "IMG.0134" : "IMG.0029") : null;
    }

    private sealed record BackupState(string Service, string Status);

    private sealed record DiskCounts(long Shared, long System, long Dedicated);

    /// <summary>Huawei's ShowJobProgress: the job, with <c>process_percent</c> rising as the work goes on.</summary>
    private static async Task<IResult> ShowJobProgress(string job_id, Caller caller, JobQueue queue, HttpContext http)
    {
        var job = await queue.FindAsync(caller.ProjectId, job_id, http.RequestAborted);
        if (job is null) return ImsErrors.Of("IMG.0031", status: StatusCodes.Status404NotFound);
        return new JsonWriterResult(w => JobWire.Write(w, job));
    }
}
