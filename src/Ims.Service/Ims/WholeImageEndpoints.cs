using System.Text.Json.Nodes;
using Dapper;
using Ims.Service.Auth;
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
        IOptions<ServiceOptions> options, TimeProvider time)
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
        var used = await write.Connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM images WHERE owner = @project AND status IN ('queued', 'saving', 'active')",
            new { project = caller.ProjectId }, write.Transaction, cancellationToken: ct));
        if (used >= settings.ImageQuota) return ImsErrors.Of("IMG.0015");

        var imageId = Ids.NewUuid();
        var refusal = valid.Mode switch
        {
            WholeImageMode.FromCsbsBackup or WholeImageMode.FromCbrBackup => await CheckBackupAsync(write, caller.ProjectId, valid, ct),
            _ => ImsErrors.Of("IMG.0180"),
        };
        if (refusal is not null) return refusal;

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        try
        {
            await write.Connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO images (id, owner, name, status, visibility, imagetype, whole_image, min_ram, max_ram, disk_format,
                                    description, backup_id, data_origin, source_type, enterprise_project_id, tags,
                                    source_server_id, created_at, updated_at)
                VALUES (@imageId, @owner, @Name, 'queued', 'private', 'private', 1, @MinRam, @MaxRam, 'zvhd2',
                        @Description, @BackupId, @dataOrigin, 'uds', @EnterpriseProjectId, @tags,
                        @InstanceId, @now, @now)
                """,
                new
                {
                    imageId, owner = caller.ProjectId, valid.Name, valid.MinRam, valid.MaxRam, valid.Description, valid.BackupId,
                    dataOrigin = valid.BackupId is not null ? $"backup,{valid.BackupId}" : $"instance,{valid.InstanceId}",
                    valid.EnterpriseProjectId, tags = System.Text.Json.JsonSerializer.Serialize(valid.Tags.Select(t => new { key = t.Key, value = t.Value })),
                    valid.InstanceId, now,
                }, write.Transaction, cancellationToken: ct));
        }
        catch (Exception ex) when (db.IsUniqueViolation(ex))
        {
            // Another request registered this backup first (the partial unique index decides under concurrency).
            return ImsErrors.Of(valid.Mode == WholeImageMode.FromCsbsBackup ? "IMG.0134" : "IMG.0029");
        }

        var payload = new WholeImagePayload(imageId, valid.Mode.ToString(), valid.BackupId, valid.InstanceId, valid.VaultId);
        var entities = new JsonObject { ["image_name"] = valid.Name, ["image_id"] = imageId, ["process_percent"] = 0.0 };
        var jobType = valid.Mode == WholeImageMode.FromServer ? "imsCreateWholeImageByInstanceJob" : WholeImageFromBackupJob.Type;
        var jobId = await jobs.EnqueueAsync(write, "ims", jobType, caller.ProjectId, payload, entities, imageId, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { job_id = jobId });
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
                   COALESCE(SUM(CASE WHEN boot_index = 0 THEN 1 ELSE 0 END), 0) AS System
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

    private sealed record DiskCounts(long Shared, long System);

    /// <summary>Huawei's ShowJobProgress: the job, with <c>process_percent</c> rising as the work goes on.</summary>
    private static async Task<IResult> ShowJobProgress(string job_id, Caller caller, JobQueue queue, HttpContext http)
    {
        var job = await queue.FindAsync(caller.ProjectId, job_id, http.RequestAborted);
        if (job is null) return ImsErrors.Of("IMG.0031", status: StatusCodes.Status404NotFound);
        return new JsonWriterResult(w => JobWire.Write(w, job));
    }
}
