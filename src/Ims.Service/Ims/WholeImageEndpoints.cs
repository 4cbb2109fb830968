using System.Text.Json.Nodes;
using Ims.Service.Auth;
using Ims.Service.Backups;
using Ims.Service.Cbr;
using Ims.Service.Ecs;
using Ims.Service.Eps;
using Ims.Service.Evs;
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

    private static async Task<IResult> CreateWholeImage(HttpContext http, Caller caller, Database db, ImageStore images,
        BackupStore backups, VaultStore vaults, VolumeStore volumes, JobQueue jobs, BackupCapture capture, ServerStore servers,
        EnterpriseProjectCheck enterpriseProjects, IOptions<ServiceOptions> options, TimeProvider time)
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
        if (await enterpriseProjects.ImsRefusalAsync(caller.Domain.Id, valid.EnterpriseProjectId, ct) is { } noProject) return noProject;

        await using var write = await db.BeginWriteAsync(ct);
        if (await images.CountQuotaAsync(write, caller.ProjectId, ct) >= settings.ImageQuota) return ImsErrors.Of("IMG.0015");

        var imageId = Ids.NewUuid();
        string? backupId = valid.BackupId, checkpointId = null;
        if (valid.Mode == WholeImageMode.FromServer)
        {
            var refusal = await CheckServerAsync(write, capture, vaults, volumes, backups, caller.ProjectId, valid, settings.Profile, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
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
            var refusal = await CheckBackupAsync(write, images, backups, caller.ProjectId, valid, ct);
            if (refusal is not null) return refusal;
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        try
        {
            await images.InsertAsync(write, new ImageRow
            {
                Id = imageId,
                Owner = caller.ProjectId,
                Name = valid.Name,
                Status = "queued",
                Visibility = "private",
                Imagetype = "private",
                WholeImage = true,
                MinRam = valid.MinRam,
                MaxRam = valid.MaxRam,
                Description = valid.Description,
                BackupId = backupId,
                DataOrigin = valid.BackupId is not null ? $"backup,{valid.BackupId}" : $"instance,{valid.InstanceId}",
                EnterpriseProjectId = valid.EnterpriseProjectId,
                Tags = ImageTags.Serialize(valid.Tags),
                CreatedAt = now,
                UpdatedAt = now,
            }, new ImageProvenance(valid.InstanceId, BackupMadeByImage: checkpointId is not null), ct);
        }
        catch (Exception ex) when (db.IsUniqueViolation(ex))
        {
            // Another request registered this backup first (the partial unique index decides under concurrency).
            return ImsErrors.Of(valid.Mode == WholeImageMode.FromCsbsBackup ? "IMG.0134" : "IMG.0029");
        }

        var payload = new WholeImagePayload(imageId, valid.Mode.ToString(), backupId, valid.InstanceId, valid.VaultId, checkpointId);
        var entities = new JsonObject { ["image_name"] = valid.Name, ["image_id"] = imageId, ["process_percent"] = 0.0 };
        var jobType = valid.Mode == WholeImageMode.FromServer ? WholeImageFromServerJob.Type : WholeImageFromBackupJob.Type;
        // A capture of the server runs on the node hosting it; an image of a backup needs no disk.
        var node = valid.Mode == WholeImageMode.FromServer ? await servers.GetNodeAsync(write, valid.InstanceId!, ct) : null;
        var jobId = await jobs.EnqueueAsync(write, "ims", jobType, caller.ProjectId, payload, entities, imageId, node, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { job_id = jobId });
    }

    /// <summary>
    /// Mode A: the server must be the caller's, running or stopped, idle, with a system disk and (Huawei) no DSS disk;
    /// a vault must be the caller's, a server-backup vault, available, and not another vault's server. A server not
    /// yet in the vault is added to it, as IMS does.
    /// </summary>
    private static async Task<ApiError?> CheckServerAsync(WriteScope write, BackupCapture capture, VaultStore vaults, VolumeStore volumes,
        BackupStore backups,
        string project, ValidWholeImageRequest request,
        CloudProfile profile, long now, CancellationToken ct)
    {
        var serverId = request.InstanceId!;
        var server = await capture.CheckServerAsync(write, project, serverId, ct);
        switch (server.Problem)
        {
            case ServerProblem.NotFound: return ImsErrors.Of("IMG.0005");
            case ServerProblem.BadStatus: return ImsErrors.Of("IMG.0126");
            case ServerProblem.Busy: return ImsErrors.Of(server.TaskState == BackupCapture.TaskState ? "IMG.0136" : "IMG.0010");
            case ServerProblem.NoVolumes: return ImsErrors.Of("IMG.0119");
            default: break;
        }
        if (await ServerGuards.HasDisksInTransitAsync(write, serverId, ct)) return ImsErrors.Of("IMG.0010");
        var disks = await volumes.CountDisksOfServerAsync(write, serverId, ct);
        if (disks.System == 0) return ImsErrors.Of("IMG.0119");
        if (profile == CloudProfile.Huawei && disks.Dedicated > 0) return ImsErrors.Of("IMG.0153");

        if (request.VaultId is null)
            return disks.Shared > 0 ? ImsErrors.Of("IMG.0033", "A CSBS backup cannot contain shared disks; give a CBR vault_id.") : null;

        var vault = await vaults.GetAsync(write, project, request.VaultId, ct);
        if (vault is null) return ImsErrors.Of("IMG.0184");
        if (vault.ObjectType != "server" || vault.ProtectType != "backup") return ImsErrors.Of("IMG.0193");
        if (vault.Status != "available") return ImsErrors.Of("IMG.0188");
        if (!await Vaults.HasRoomAsync(write, backups, vault, server.TotalSizeGb, ct)) return ImsErrors.Of("IMG.0182");
        var boundTo = await vaults.GetVaultOfResourceAsync(write, serverId, ct);
        if (boundTo is not null && boundTo != vault.Id) return ImsErrors.Of("IMG.0183");
        // As CBR's own association: another request may bind the server to another vault meanwhile.
        if (boundTo is null && await vaults.AddResourcesAsync(write, vault.Id, [new NewVaultResource(serverId, Vaults.ServerType, server.Name)], now, ct) is not null)
            return ImsErrors.Of("IMG.0183");
        return null;
    }

    /// <summary>Modes B and C: the backup must be the caller's, of the named kind, available, and not yet imaged.</summary>
    private static async Task<ApiError?> CheckBackupAsync(WriteScope write, ImageStore images, BackupStore backups, string project,
        ValidWholeImageRequest request, CancellationToken ct)
    {
        var csbs = request.Mode == WholeImageMode.FromCsbsBackup;
        var backup = await backups.GetAsync(write, project, request.BackupId!, ct);
        if (backup is null) return ImsErrors.Of(csbs ? "IMG.0127" : "IMG.0020");
        if (backup.Service != (csbs ? "CSBS" : "CBR")) return ImsErrors.Of("IMG.0198");
        // A disk vault's backup is of one disk, not of a server: it does not match the backup type a whole image needs.
        if (backup.IsDiskBackup) return ImsErrors.Of("IMG.0198", "The backup is a disk backup; a full-ECS image needs a server (cloud server) backup.");
        if (backup.Status != "available") return ImsErrors.Of(csbs ? "IMG.0132" : "IMG.0032");

        var disks = await backups.CountDisksAsync(write, request.BackupId!, ct);
        if (csbs && disks.Shared > 0) return ImsErrors.Of("IMG.0033", "A CSBS backup with shared disks cannot be used to create a full-ECS image.");
        if (disks.System == 0) return ImsErrors.Of(csbs ? "IMG.0033" : "IMG.0195");

        return await images.AnyLiveWholeImageOfBackupAsync(write, request.BackupId!, ct) ? ImsErrors.Of(csbs ? "IMG.0134" : "IMG.0029") : null;
    }

    /// <summary>Huawei's ShowJobProgress: the job, with <c>process_percent</c> rising as the work goes on.</summary>
    private static async Task<IResult> ShowJobProgress(string job_id, Caller caller, JobQueue queue, HttpContext http)
    {
        var job = await queue.FindAsync(caller.ProjectId, job_id, http.RequestAborted);
        if (job is null) return ImsErrors.Of("IMG.0031", status: StatusCodes.Status404NotFound);
        return new JsonWriterResult(w => JobWire.Write(w, job));
    }
}
