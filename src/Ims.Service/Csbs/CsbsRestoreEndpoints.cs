using System.Text.Json;
using System.Text.Json.Nodes;
using Ims.Service.Auth;
using Ims.Service.Backups;
using Ims.Service.Ecs;
using Ims.Service.Evs;
using Ims.Service.Http;
using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Csbs;

/// <summary>
/// CSBS restore: <c>POST /v1/{project_id}/restores</c> (the API reference's "Creating a Restoration Task", what the OTC SDK's
/// <c>CreateRestorationTask</c> sends) and the same <c>restore</c> body on the server's resource action
/// (<c>POST .../providers/{provider_id}/resources/{resource_id}/action</c>), <c>check_restorable</c> on the resources
/// action, and <c>GET /v1/{project_id}/restores/{restore_id}</c>. A restore puts a CSBS backup back onto a stopped server
/// (all its disks, or the <c>targets.volumes</c> mappings given) through <see cref="ServerRestore"/> and
/// <see cref="CsbsRestoreJob"/>, the path CBR restores take: every disk or none. Meanwhile the checkpoint item is
/// <c>restoring</c> (what the console and scripts poll) and the restore <c>in_progress</c>.
/// </summary>
public static class CsbsRestoreEndpoints
{
    private const string Service = "CSBS";
    private const string ServerType = "OS::Nova::Server";

    public static IEndpointRouteBuilder MapCsbsRestores(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/{project_id}").ForService(ServiceKind.Csbs);
        group.MapPost("/restores", CreateRestore);
        group.MapGet("/restores/{restore_id}", ShowRestore);
        return app;
    }

    private static async Task<IResult> CreateRestore(HttpContext http, Caller caller, Database db, BackupStore backups, ServerStore servers,
        VolumeStore volumes, JobQueue jobs, TimeProvider time)
    {
        var (request, error) = await JsonBody.ReadAsync<CsbsRestoreRequest>(http, ServiceKind.Csbs);
        if (error is not null) return error;
        return await RestoreAsync(request!.Restore, null, null, http, caller, db, backups, servers, volumes, jobs, time);
    }

    /// <summary>
    /// Starts a restore. On the resource action, <paramref name="pathProviderId"/> stands in for a missing
    /// <c>provider_id</c> and <paramref name="pathServerId"/> for a missing <c>targets.server_id</c>.
    /// </summary>
    internal static async Task<IResult> RestoreAsync(CsbsRestoreBody? body, string? pathProviderId, string? pathServerId, HttpContext http,
        Caller caller, Database db, BackupStore backups, ServerStore servers, VolumeStore volumes, JobQueue jobs, TimeProvider time)
    {
        if (body is null) return ApiError.BadBody(ServiceKind.Csbs, "restore is required.");
        if ((body.ProviderId ?? pathProviderId) != CsbsEndpoints.ProviderId) return CsbsErrors.ProviderInvalid();
        if (string.IsNullOrEmpty(body.CheckpointId)) return ApiError.BadBody(ServiceKind.Csbs, "restore.checkpoint_id is required.");
        if (body.Parameters is not { CheckpointItemId: { Length: > 0 } itemId } parameters)
            return ApiError.BadBody(ServiceKind.Csbs, "restore.parameters.checkpoint_item_id is required.");
        if (!TryMappings(parameters.Targets?.Volumes, out var mappings)) return MappingsIncomplete();
        var targetServer = FirstGiven(parameters.Targets?.ServerId);
        if (targetServer is not null && pathServerId is not null && targetServer != pathServerId)
            return ApiError.BadBody(ServiceKind.Csbs, $"restore.parameters.targets.server_id must be the resource {pathServerId} of the path.");

        var ct = http.RequestAborted;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var write = await db.BeginWriteAsync(ct);
        var backup = await backups.GetBackupAsync(write, caller.ProjectId, Service, itemId, ct);
        if (backup is null) return ApiError.NotFound(ServiceKind.Csbs, $"The backup {itemId} does not exist.");
        if (backup.CheckpointId != body.CheckpointId)
            return ApiError.BadBody(ServiceKind.Csbs, $"The backup {itemId} is not in the backup record {body.CheckpointId}.");
        if (await ServerRestore.CheckBackupAsync(write, backups, backup, ct) is { } unusable) return CsbsErrors.Of(unusable);
        var serverId = targetServer ?? pathServerId ?? backup.ResourceId;
        var plan = await ServerRestore.PlanAsync(write, servers, volumes, backups, caller.ProjectId, backup, serverId, mappings, now, ct);
        if (plan.Refusal is not null) return CsbsErrors.Of(plan.Refusal);

        var powerOn = parameters.PowerOn ?? true;
        // What GET /restores/{id} shows back: the request as it was resolved.
        var resolved = new CsbsRestoreParameters
        {
            CheckpointItemId = itemId,
            PowerOn = powerOn,
            Targets = new CsbsRestoreTargets
            {
                ServerId = serverId,
                Volumes = [.. (mappings ?? []).Select(m => new CsbsVolumeMapping { BackupId = m.DiskBackupId, VolumeId = m.VolumeId })],
            },
        };
        var entities = new JsonObject
        {
            ["checkpoint_id"] = backup.CheckpointId,
            ["backup_id"] = backup.Id,
            ["server_id"] = serverId,
            ["restore_target"] = body.RestoreTarget,
            ["parameters"] = JsonSerializer.SerializeToNode(resolved),
        };
        var (jobId, busy) = await ServerRestore.StartAsync(write, backups, volumes, jobs, "csbs", CsbsRestoreJob.Type, caller.ProjectId,
            backup, plan, powerOn, entities, now, ct);
        if (busy is not null) return CsbsErrors.Of(busy);
        await write.CommitAsync(ct);

        var job = await jobs.FindAsync(caller.ProjectId, jobId!, ct);
        return TypedResults.Json(new { restore = Render(job!) });
    }

    /// <summary>The restore, read from its job.</summary>
    private static async Task<IResult> ShowRestore(string restore_id, HttpContext http, Caller caller, JobQueue jobs)
    {
        var job = await jobs.FindAsync(caller.ProjectId, restore_id, http.RequestAborted);
        if (job is null || job.JobType != CsbsRestoreJob.Type)
            return ApiError.NotFound(ServiceKind.Csbs, $"The restore {restore_id} does not exist.");
        return TypedResults.Json(new { restore = Render(job) });
    }

    /// <summary>
    /// <c>check_restorable</c>: for each query, whether its backup could be restored onto the target now. Each answer runs the
    /// restore's own checks in a transaction that is thrown away, so it says exactly what a restore would.
    /// </summary>
    internal static async Task<IResult> CheckRestorableAsync(List<RestorableQuery?>? queries, HttpContext http, Caller caller, Database db,
        BackupStore backups, ServerStore servers, VolumeStore volumes, TimeProvider time)
    {
        if (queries is not { Count: > 0 } || queries.Count > 256)
            return ApiError.BadBody(ServiceKind.Csbs, "check_restorable must list 1 to 256 queries.");
        if (queries.Any(q => string.IsNullOrEmpty(q?.CheckpointItemId) || string.IsNullOrEmpty(q.Target?.ResourceId)
                || string.IsNullOrEmpty(q.Target.ResourceType)))
            return ApiError.BadBody(ServiceKind.Csbs,
                "Each entry of check_restorable needs checkpoint_item_id and a target with resource_id and resource_type.");
        if (queries.Any(q => !TryMappings(q!.Target!.Volumes, out _))) return MappingsIncomplete();

        var ct = http.RequestAborted;
        var results = new List<ProtectableWire>();
        foreach (var query in queries)
        {
            var target = query!.Target!;
            ApiError? problem;
            if (target.ResourceType != ServerType)
            {
                problem = CsbsErrors.RestoreTypeNotSupported(target.ResourceId!, target.ResourceType!);
            }
            else
            {
                TryMappings(target.Volumes, out var mappings);
                await using var trial = await db.BeginWriteAsync(ct);
                var backup = await backups.GetBackupAsync(trial, caller.ProjectId, Service, query.CheckpointItemId!, ct);
                var refusal = backup is null ? null : await ServerRestore.CheckBackupAsync(trial, backups, backup, ct)
                    ?? (await ServerRestore.PlanAsync(trial, servers, volumes, backups, caller.ProjectId, backup, target.ResourceId!, mappings,
                        time.GetUtcNow().ToUnixTimeMilliseconds(), ct)).Refusal;
                problem = backup is null
                    ? ApiError.NotFound(ServiceKind.Csbs, $"The backup {query.CheckpointItemId} does not exist.")
                    : refusal is null ? null : CsbsErrors.Of(refusal);
                // Not committed: the trial's claim on the server goes with it.
            }
            results.Add(new ProtectableWire(problem is null, target.ResourceType!, target.ResourceId!, problem?.Code ?? "", problem?.Message ?? ""));
        }
        return TypedResults.Json(new { restorable = results });
    }

    private static CsbsRestoreWire Render(JobRow job)
    {
        var facts = JsonNode.Parse(job.Entities)!.AsObject();
        var resource = $"{ServerType}#{(string?)facts["server_id"]}";
        var (status, resourceStatus) = job.Status switch
        {
            JobStatus.Success => ("success", "available"),
            JobStatus.Fail => ("fail", "error"),
            _ => ("in_progress", BackupStatus.Restoring),
        };
        return new CsbsRestoreWire
        {
            Id = job.Id,
            ProjectId = job.ProjectId,
            ProviderId = CsbsEndpoints.ProviderId,
            CheckpointId = (string?)facts["checkpoint_id"] ?? "",
            RestoreTarget = (string?)facts["restore_target"],
            Parameters = facts["parameters"].Deserialize<CsbsRestoreParameters>()!,
            Status = status,
            ResourcesStatus = new Dictionary<string, string> { [resource] = resourceStatus },
            ResourcesReason = job.Status == JobStatus.Fail
                ? new Dictionary<string, string> { [resource] = $"{job.ErrorCode}: {job.FailReason}" }
                : new Dictionary<string, string>(),
        };
    }

    /// <summary>The mappings given (null for none: every disk back onto its own); false when one lacks an id.</summary>
    private static bool TryMappings(List<CsbsVolumeMapping?>? volumes, out List<RestoreTarget>? mappings)
    {
        mappings = null;
        if (volumes is not { Count: > 0 }) return true;
        if (volumes.Any(v => string.IsNullOrEmpty(v?.BackupId) || string.IsNullOrEmpty(v.VolumeId))) return false;
        mappings = [.. volumes.Select(v => new RestoreTarget(v!.BackupId!, v.VolumeId!))];
        return true;
    }

    private static ApiError MappingsIncomplete() =>
        ApiError.BadBody(ServiceKind.Csbs, "Each volume mapping needs a backup_id and a volume_id.");

    private static string? FirstGiven(params string?[] values) => values.FirstOrDefault(v => !string.IsNullOrEmpty(v));
}
