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
        if (backup.Status != BackupStatus.Available)
            return CbrErrors.InUse($"Backup {backup_id} is {backup.Status}; only an available backup can be restored.");
        var captured = await backups.GetCapturedDisksAsync(write, backup_id, ct);
        if (captured.Any(d => d.ManifestId is null))
            return CbrErrors.BadRequest($"Backup {backup_id} holds no disk data to restore (it was taken before disks had bytes).");

        var plan = backup.IsDiskBackup
            ? await PlanDiskAsync(write, servers, volumes, caller.ProjectId, backup, captured, body, ct)
            : await PlanServerAsync(write, servers, volumes, caller.ProjectId, backup, captured, body, now, ct);
        if (plan.Error is not null) return plan.Error;

        var targets = plan.Disks.Select(d => d.VolumeId).ToList();
        if (await volumes.SetStatusAsync(write, targets, VolumeStatus.Restoring, [VolumeStatus.Available, VolumeStatus.InUse], ct) != targets.Count)
            return CbrErrors.InUse("A disk to restore is busy (being created, attached, detached, expanded, backed up or restored).");
        await backups.MoveStatusAsync(write, backup_id, BackupStatus.Available, BackupStatus.Restoring, now, ct);

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
        var jobId = await jobs.EnqueueAsync(write, "cbr", CbrRestoreJob.Type, caller.ProjectId,
            new RestorePayload(backup_id, plan.ServerId, body.PowerOn ?? true, plan.Disks), entities, backup_id,
            // The disks' bytes live on their node: the job runs there.
            (await volumes.GetNodesAsync(write, targets, ct)).FirstOrDefault(), ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { job_id = jobId }, statusCode: StatusCodes.Status202Accepted);
    }

    /// <summary>
    /// A server backup goes onto a server (<c>server_id</c>, else <c>resource_id</c>, else the backed-up server) that is
    /// stopped (SHUTOFF, as CBR requires) and idle; the request takes it for the job. Each mapping names a disk of the
    /// backup (its per-disk child backup id, as <c>GET /backups/{id}</c> lists in <c>children</c>) and a disk attached to
    /// that server at least as large. Without mappings, every captured disk goes back onto the same disk, which must
    /// still be attached there.
    /// </summary>
    private static async Task<RestorePlan> PlanServerAsync(WriteScope write, ServerStore servers, VolumeStore volumes, string projectId,
        BackupRow backup, IReadOnlyList<CapturedDisk> captured, RestoreBody body, long now, CancellationToken ct)
    {
        var serverId = FirstGiven(body.ServerId, body.ResourceId) ?? backup.ResourceId;
        var server = await servers.GetAsync(write, projectId, serverId, ct);
        if (server is null) return RestorePlan.Refused(CbrErrors.ResourceNotFound("server", serverId));
        if (server.Status != ServerStatus.Shutoff) return RestorePlan.Refused(CbrErrors.ServerNotStopped(serverId, server.Status));
        var attached = (await volumes.GetAttachmentsOfServersAsync(write, [serverId], ct)).Select(a => a.VolumeId).ToHashSet(StringComparer.Ordinal);
        var byChild = captured.ToDictionary(d => BackupRecords.ChildId(backup.Id, d.VolumeId), StringComparer.Ordinal);

        var pairs = new List<(CapturedDisk Source, string TargetId)>();
        if (body.Mappings is { Count: > 0 } mappings)
        {
            foreach (var mapping in mappings)
            {
                if (!byChild.TryGetValue(mapping!.BackupId!, out var source))
                    return RestorePlan.Refused(CbrErrors.BadRequest($"Disk backup {mapping.BackupId} is not part of backup {backup.Id}."));
                pairs.Add((source, mapping.VolumeId!));
            }
        }
        else
        {
            pairs.AddRange(captured.Select(d => (d, d.VolumeId)));
        }
        if (pairs.Select(p => p.TargetId).Distinct(StringComparer.Ordinal).Count() != pairs.Count)
            return RestorePlan.Refused(CbrErrors.BadRequest("restore.mappings names a target disk twice."));

        var disks = new List<RestoreDisk>();
        foreach (var (source, targetId) in pairs)
        {
            if (!attached.Contains(targetId))
                return RestorePlan.Refused(CbrErrors.BadRequest(
                    $"Disk {targetId} is not attached to server {serverId}; give restore.mappings from the backup's disks to the server's."));
            var target = await volumes.GetAsync(write, projectId, targetId, ct);
            if (target!.SizeGb < source.SizeGb)
                return RestorePlan.Refused(CbrErrors.BadRequest($"Disk {targetId} ({target.SizeGb} GB) is smaller than the backed-up disk ({source.SizeGb} GB)."));
            disks.Add(new RestoreDisk(targetId, target.SizeGb, source.ManifestId!));
        }
        var claim = await ServerGuards.TryClaimAsync(write, projectId, serverId, CbrRestoreJob.ServerTaskState, now, ct);
        if (!claim.Claimed) return RestorePlan.Refused(CbrErrors.InUse($"Server {serverId} is busy: task_state {claim.TaskState} is in progress."));
        return new RestorePlan(null, serverId, serverId, server.Name, disks);
    }

    /// <summary>
    /// A disk backup goes onto a disk (<c>volume_id</c>, else <c>resource_id</c>, else the backed-up disk) at least as
    /// large, which is available or attached only to stopped servers (CBR restores a disk of a stopped server).
    /// </summary>
    private static async Task<RestorePlan> PlanDiskAsync(WriteScope write, ServerStore servers, VolumeStore volumes, string projectId,
        BackupRow backup, IReadOnlyList<CapturedDisk> captured, RestoreBody body, CancellationToken ct)
    {
        var source = captured.Single();
        var volumeId = FirstGiven(body.VolumeId, body.ResourceId) ?? backup.ResourceId;
        var target = await volumes.GetAsync(write, projectId, volumeId, ct);
        if (target is null) return RestorePlan.Refused(CbrErrors.ResourceNotFound("volume", volumeId));
        if (target.SizeGb < source.SizeGb)
            return RestorePlan.Refused(CbrErrors.BadRequest($"Disk {volumeId} ({target.SizeGb} GB) is smaller than the backed-up disk ({source.SizeGb} GB)."));
        foreach (var attachment in await volumes.GetAttachmentsAsync(write, [volumeId], ct))
        {
            var server = await servers.GetAsync(write, projectId, attachment.ServerId, ct);
            if (server is not null && server.Status != ServerStatus.Shutoff)
                return RestorePlan.Refused(CbrErrors.ServerNotStopped(server.Id, server.Status));
            if (server?.TaskState is { } busy)
                return RestorePlan.Refused(CbrErrors.InUse($"Server {server.Id} is busy: task_state {busy} is in progress."));
        }
        return new RestorePlan(null, null, volumeId, target.Name, [new RestoreDisk(volumeId, target.SizeGb, source.ManifestId!)]);
    }

    private static string? FirstGiven(params string?[] values) => values.FirstOrDefault(v => !string.IsNullOrEmpty(v));
}

/// <summary>What a restore request resolved to: the server it holds (server backups), the target shown in the log, the disks.</summary>
internal sealed record RestorePlan(ApiError? Error, string? ServerId, string TargetId, string TargetName, List<RestoreDisk> Disks)
{
    public static RestorePlan Refused(ApiError error) => new(error, null, "", "", []);
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
