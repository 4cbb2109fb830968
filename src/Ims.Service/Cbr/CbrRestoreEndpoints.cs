using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Ims.Service.Auth;
using Ims.Service.Backups;
using Ims.Service.Ecs;
using Ims.Service.Evs;
using Ims.Service.Http;
using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Cbr;

/// <summary>
/// CBR restore: <c>POST /v3/{project_id}/backups/{backup_id}/restore</c> puts a server backup back onto a stopped server
/// (all its disks, or the <c>mappings</c> given) and a disk backup onto a disk, as a durable job (<c>cbrRestoreBackup</c>)
/// that writes every disk or none. The backup is <c>restoring</c> meanwhile and <c>available</c> again after; the
/// operation is pollable as CBR's operation log (<see cref="CbrOperationLogEndpoints"/>, what terraform's
/// huaweicloud_cbr_restore polls: <c>waiting</c>, <c>running</c>, <c>success</c>, <c>failed</c>).
/// </summary>
public static class CbrRestoreEndpoints
{
    public static IEndpointRouteBuilder MapCbrRestores(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v3/{project_id}").ForService(ServiceKind.Cbr);
        group.MapPost("/backups/{backup_id}/restore", Restore);
        return app;
    }

    private static async Task<IResult> Restore(string backup_id, HttpContext http, Caller caller, Database db, BackupStore backups,
        VaultStore vaults, ServerStore servers, VolumeStore volumes, JobQueue jobs, TimeProvider time)
    {
        var (request, error) = await JsonBody.ReadAsync<RestoreRequest>(http, ServiceKind.Cbr);
        if (error is not null) return error;
        if (request!.Restore is not { } body) return CbrErrors.BadRequest("restore is required.");
        foreach (var mapping in body.Mappings ?? [])
            if (mapping is null || string.IsNullOrEmpty(mapping.BackupId) || string.IsNullOrEmpty(mapping.VolumeId))
                return CbrErrors.BadRequest("Each of restore.mappings needs a backup_id and a volume_id.");

        var ct = http.RequestAborted;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var write = await db.BeginWriteAsync(ct);
        var backup = await backups.GetBackupAsync(write, caller.ProjectId, "CBR", backup_id, ct);
        if (backup is null) return CbrErrors.ResourceNotFound("backup", backup_id);
        if (await ServerRestore.CheckBackupAsync(write, backups, backup, ct) is { } unusable) return Refusal(unusable);

        var plan = backup.IsDiskBackup
            ? await PlanDiskAsync(write, servers, volumes, backups, caller.ProjectId, backup, body, ct)
            : await ServerRestore.PlanAsync(write, servers, volumes, backups, caller.ProjectId, backup,
                FirstGiven(body.ServerId, body.ResourceId) ?? backup.ResourceId,
                body.Mappings?.Select(m => new RestoreTarget(m!.BackupId!, m.VolumeId!)).ToList(), now, ct);
        if (plan.Refusal is not null) return Refusal(plan.Refusal);

        var vault = backup.VaultId is null ? null : await vaults.GetAsync(write, caller.ProjectId, backup.VaultId, ct);
        var entities = new JsonObject
        {
            ["backup_id"] = backup.Id,
            ["backup_name"] = backup.Name,
            ["checkpoint_id"] = backup.CheckpointId,
            ["vault_id"] = backup.VaultId ?? "",
            ["vault_name"] = vault?.Name ?? "",
            ["provider_id"] = Vaults.ProviderIdOf(backup.IsDiskBackup ? "disk" : "server"),
            ["target_resource_id"] = plan.TargetId,
            ["target_resource_name"] = plan.TargetName,
        };
        var (jobId, busy) = await ServerRestore.StartAsync(write, backups, volumes, jobs, "cbr", CbrRestoreJob.Type, caller.ProjectId, backup,
            plan, body.PowerOn ?? true, entities, now, ct);
        if (busy is not null) return Refusal(busy);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { job_id = jobId }, statusCode: StatusCodes.Status202Accepted);
    }

    /// <summary>CBR's answer to each reason a restore is refused.</summary>
    private static ApiError Refusal(RestoreRefusal refusal) => refusal.Problem switch
    {
        RestoreProblem.ServerNotFound => CbrErrors.ResourceNotFound("server", refusal.Subject),
        RestoreProblem.VolumeNotFound => CbrErrors.ResourceNotFound("volume", refusal.Subject),
        RestoreProblem.ServerNotStopped or RestoreProblem.BackupNotAvailable or RestoreProblem.ServerBusy or RestoreProblem.DiskBusy =>
            CbrErrors.InUse(refusal.Message),
        _ => CbrErrors.BadRequest(refusal.Message),
    };

    /// <summary>
    /// A disk backup goes onto a disk (<c>volume_id</c>, else <c>resource_id</c>, else the backed-up disk) at least as
    /// large, which is available or attached only to stopped servers (CBR restores a disk of a stopped server).
    /// </summary>
    private static async Task<RestorePlan> PlanDiskAsync(WriteScope write, ServerStore servers, VolumeStore volumes, BackupStore backups,
        string projectId, BackupRow backup, RestoreBody body, CancellationToken ct)
    {
        var source = (await backups.GetCapturedDisksAsync(write, backup.Id, ct)).Single();
        var volumeId = FirstGiven(body.VolumeId, body.ResourceId) ?? backup.ResourceId;
        var target = await volumes.GetAsync(write, projectId, volumeId, ct);
        if (target is null) return RestorePlan.Refused(RestoreProblem.VolumeNotFound, volumeId, $"The volume {volumeId} does not exist.");
        if (target.SizeGb < source.SizeGb)
            return RestorePlan.Refused(RestoreProblem.DiskTooSmall, volumeId,
                $"Disk {volumeId} ({target.SizeGb} GB) is smaller than the backed-up disk ({source.SizeGb} GB).");
        foreach (var attachment in await volumes.GetAttachmentsAsync(write, [volumeId], ct))
        {
            var server = await servers.GetAsync(write, projectId, attachment.ServerId, ct);
            if (server is not null && server.Status != ServerStatus.Shutoff)
                return RestorePlan.Refused(RestoreProblem.ServerNotStopped, server.Id,
                    $"Server {server.Id} is {server.Status}; stop it (SHUTOFF) before restoring a backup onto it.");
            if (server?.TaskState is { } busy)
                return RestorePlan.Refused(RestoreProblem.ServerBusy, server.Id, $"Server {server.Id} is busy: task_state {busy} is in progress.");
        }
        return new RestorePlan(null, null, volumeId, target.Name, [new RestoreDisk(volumeId, target.SizeGb, source.ManifestId!)]);
    }

    private static string? FirstGiven(params string?[] values) => values.FirstOrDefault(v => !string.IsNullOrEmpty(v));
}

public sealed record RestoreRequest([property: JsonPropertyName("restore")] RestoreBody? Restore);

public sealed record RestoreBody
{
    [JsonPropertyName("mappings")] public List<RestoreMapping?>? Mappings { get; init; }
    [JsonPropertyName("power_on")] public bool? PowerOn { get; init; }
    [JsonPropertyName("server_id")] public string? ServerId { get; init; }
    [JsonPropertyName("volume_id")] public string? VolumeId { get; init; }
    [JsonPropertyName("resource_id")] public string? ResourceId { get; init; }
    [JsonPropertyName("details")] public System.Text.Json.JsonElement? Details { get; init; }
}

public sealed record RestoreMapping
{
    [JsonPropertyName("backup_id")] public string? BackupId { get; init; }
    [JsonPropertyName("volume_id")] public string? VolumeId { get; init; }
}
