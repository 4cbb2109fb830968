using System.Text.Json.Nodes;
using Ims.Service.Auth;
using Ims.Service.Http;
using Ims.Service.Jobs;
using Ims.Service.Policies;

namespace Ims.Service.Cbr;

/// <summary>
/// CBR's operation logs (tasks): <c>GET /v3/{project_id}/operation-logs</c> and <c>.../operation-logs/{id}</c>, read from
/// the jobs that do the work. A restore is a <c>restore</c> log; a checkpoint (a request's or a policy run's) is a
/// <c>backup</c> log, which carries the policy for automatic ones. A policy run that found its vault full leaves a failed
/// backup log with the refusal's code, as the real service shows a failed automatic backup.
/// </summary>
public static class CbrOperationLogEndpoints
{
    private static readonly Dictionary<string, string> OperationTypes = new(StringComparer.Ordinal)
    {
        [CbrRestoreJob.Type] = "restore",
        [CbrBackupEndpoints.JobType] = "backup",
        [CbrPolicyCheckpointJob.Type] = "backup",
    };

    public static IEndpointRouteBuilder MapCbrOperationLogs(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v3/{project_id}").ForService(ServiceKind.Cbr);
        group.MapGet("/operation-logs", ListOperationLogs);
        group.MapGet("/operation-logs/{operation_log_id}", ShowOperationLog);
        return app;
    }

    private static async Task<IResult> ShowOperationLog(string operation_log_id, HttpContext http, Caller caller, JobQueue jobs)
    {
        var job = await jobs.FindAsync(caller.ProjectId, operation_log_id, http.RequestAborted);
        if (job is null || !OperationTypes.ContainsKey(job.JobType)) return CbrErrors.ResourceNotFound("operation log", operation_log_id);
        return TypedResults.Json(new JsonObject { ["operation_log"] = Render(job) });
    }

    /// <summary>
    /// The filters the reference lists that the jobs can answer (<c>operation_type</c>, <c>status</c>, <c>vault_id</c>,
    /// <c>provider_id</c>), applied to the project's logs newest first, then <c>offset</c> and <c>limit</c>.
    /// </summary>
    private static async Task<IResult> ListOperationLogs(HttpContext http, Caller caller, JobQueue jobs)
    {
        if (!QueryArgs.TryInt(http, "offset", ServiceKind.Cbr, out var offset, out var error)) return error!;
        if (!QueryArgs.TryInt(http, "limit", ServiceKind.Cbr, out var limit, out error, min: 1, max: 1000)) return error!;
        var filters = new[] { "operation_type", "status", "vault_id", "provider_id" }
            .Select(name => (Name: name, Value: QueryArgs.String(http, name)))
            .Where(f => !string.IsNullOrEmpty(f.Value))
            .ToList();
        var logs = (await jobs.ListAsync(caller.ProjectId, OperationTypes.Keys, http.RequestAborted))
            .Select(Render)
            .Where(log => filters.All(f => (string?)log[f.Name] == f.Value))
            .ToList();
        var page = logs.Skip(offset ?? 0).Take(limit ?? 1000).Select(log => (JsonNode)log);
        return TypedResults.Json(new JsonObject
        {
            ["operation_logs"] = new JsonArray([.. page]),
            ["count"] = logs.Count,
            ["offset"] = offset ?? 0,
            ["limit"] = limit ?? 1000,
        });
    }

    private static JsonObject Render(JobRow job)
    {
        var facts = JsonNode.Parse(job.Entities)!.AsObject();
        string Fact(string name) => facts[name] is JsonValue value && value.TryGetValue<string>(out var text) ? text : "";
        var type = OperationTypes[job.JobType];
        var extra = new JsonObject
        {
            ["common"] = new JsonObject { ["progress"] = job.Status == JobStatus.Success ? 100 : 0, ["request_id"] = job.Id },
        };
        if (type == "restore")
            extra["restore"] = new JsonObject
            {
                ["backup_id"] = Fact("backup_id"),
                ["backup_name"] = Fact("backup_name"),
                ["target_resource_id"] = Fact("target_resource_id"),
                ["target_resource_name"] = Fact("target_resource_name"),
            };
        return new JsonObject
        {
            ["id"] = job.Id,
            ["project_id"] = job.ProjectId,
            ["operation_type"] = type,
            ["status"] = job.Status switch
            {
                JobStatus.Init => "waiting",
                JobStatus.Running => "running",
                JobStatus.Success => "success",
                _ => "failed",
            },
            ["checkpoint_id"] = Fact("checkpoint_id"),
            ["provider_id"] = Fact("provider_id"),
            ["vault_id"] = Fact("vault_id"),
            ["vault_name"] = Fact("vault_name"),
            ["policy_id"] = Fact("policy_id"),
            ["created_at"] = WireTime.MicrosNoZone(job.BeginTime),
            ["started_at"] = WireTime.MicrosNoZone(job.BeginTime),
            ["updated_at"] = WireTime.MicrosNoZone(job.EndTime ?? job.BeginTime),
            ["ended_at"] = job.EndTime is { } end ? WireTime.MicrosNoZone(end) : "",
            ["error_info"] = job.Status == JobStatus.Fail
                ? new JsonObject { ["code"] = job.ErrorCode ?? "", ["message"] = job.FailReason ?? "" }
                : new JsonObject { ["code"] = "", ["message"] = "" },
            ["extra_info"] = extra,
        };
    }
}
