using System.Text.Json;
using Ims.Service.Auth;
using Ims.Service.Evs;
using Ims.Service.Http;
using Ims.Service.Jobs;
using Ims.Service.Storage;
using Ims.Service.Vpc;

namespace Ims.Service.Ecs;

/// <summary>ECS servers: create, show, list, metadata, batch power actions and batch delete.</summary>
public static class ServerEndpoints
{
    public const int MaxBatch = 1000;

    public static IEndpointRouteBuilder MapServers(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/{project_id}/cloudservers").ForService(ServiceKind.Ecs);
        group.MapPost("", ServerCreation.CreateAsync);
        group.MapGet("/detail", ListServers);
        group.MapGet("/{server_id}", GetServer);
        group.MapPost("/{server_id}/metadata", UpdateMetadata);
        group.MapPost("/action", ServerAction);
        group.MapPost("/delete", DeleteServers);
        app.MapPost("/v1.1/{project_id}/cloudservers", ServerCreation.CreateAsync).ForService(ServiceKind.Ecs);
        return app;
    }

    private static async Task<IResult> GetServer(string server_id, Caller caller, ServerStore servers, VolumeStore volumes, VpcStore vpcs,
        HttpContext http)
    {
        var ct = http.RequestAborted;
        var row = await servers.GetAsync(caller.ProjectId, server_id, ct);
        if (row is null) return EcsErrors.NotFound(server_id);
        var body = (await ServerViews.RenderAsync(volumes, vpcs, caller.ProjectId, [row], ct))[0];
        return TypedResults.Json(new ServerEnvelope(body));
    }

    /// <summary>
    /// ECS pages with <c>offset</c> as a 1-based page number (0 also means the first page) and <c>limit</c>
    /// servers per page (default 25, at most 1000).
    /// </summary>
    private static async Task<IResult> ListServers(Caller caller, ServerStore store, VolumeStore volumes, VpcStore vpcs, HttpContext http)
    {
        if (!QueryArgs.TryInt(http, "limit", ServiceKind.Ecs, out var limit, out var error, 1, 1000)) return error!;
        if (!QueryArgs.TryInt(http, "offset", ServiceKind.Ecs, out var offset, out error)) return error!;
        var name = QueryArgs.String(http, "name");
        var status = QueryArgs.String(http, "status");
        var flavor = QueryArgs.String(http, "flavor");
        var ip = QueryArgs.String(http, "ip");
        var eps = QueryArgs.String(http, "enterprise_project_id");
        if (eps == "all_granted_eps") eps = null;

        var ct = http.RequestAborted;
        var (rows, total) = await store.ListAsync(caller.ProjectId, new ServerFilter
        {
            NameContains = name,
            Status = status,
            FlavorId = flavor,
            EnterpriseProjectId = eps,
            // The ip filter matches any address of the server's NICs (the ports are VPC's).
            Ids = string.IsNullOrEmpty(ip) ? null : await vpcs.GetDevicesWithAddressAsync(caller.ProjectId, ip, ct),
            PageSize = limit ?? 25,
            Skip = (long)(Math.Max(offset ?? 1, 1) - 1) * (limit ?? 25),
        }, ct);
        var servers = await ServerViews.RenderAsync(volumes, vpcs, caller.ProjectId, rows, ct);
        return TypedResults.Json(new ServerListBody((int)total, servers));
    }

    /// <summary>
    /// Adds or replaces metadata keys. DECISION: the SAN policy of a Windows guest is a setting inside the guest,
    /// which a real cloud cannot see; this emulator lets clients declare it through the <c>san_policy</c> metadata
    /// key (OnlineAll, OfflineShared or OfflineInternal), so that whole-image rules that depend on it can be exercised.
    /// </summary>
    private static async Task<IResult> UpdateMetadata(string server_id, Caller caller, Database db, ServerStore servers, TimeProvider time,
        HttpContext http)
    {
        var (body, error) = await JsonBody.ReadAsync<MetadataRequest>(http, ServiceKind.Ecs);
        if (error is not null) return error;
        if (body!.Metadata is not { } changes) return EcsErrors.Invalid("Invalid key 'metadata' in the request body.");
        var problem = ServerCreation.ValidateMetadata(changes);
        if (problem is not null) return problem;

        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        var server = await servers.GetAsync(write, caller.ProjectId, server_id, ct);
        if (server is null) return EcsErrors.NotFound(server_id);
        var sanPolicy = server.SanPolicy;
        if (changes.TryGetValue("san_policy", out var requested))
        {
            if (server.OsType != "Windows") return EcsErrors.Invalid("metadata.san_policy applies to Windows ECSs only.");
            if (!ServerCreation.SanPolicies.Contains(requested!))
                return EcsErrors.Invalid($"Invalid metadata.san_policy '{requested}': use OnlineAll, OfflineShared or OfflineInternal.");
            sanPolicy = requested;
        }
        var metadata = server.MetadataMap();
        foreach (var (key, value) in changes) metadata[key] = value!;
        await servers.SetMetadataAsync(write, caller.ProjectId, server_id, JsonSerializer.Serialize(metadata), sanPolicy,
            time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { metadata });
    }

    /// <summary>
    /// Batch power actions. All servers are checked and taken in one transaction: if any one is missing, busy or
    /// in the wrong state, nothing happens.
    /// </summary>
    private static async Task<IResult> ServerAction(Caller caller, Database db, JobQueue jobs, TimeProvider time, HttpContext http)
    {
        var (body, error) = await JsonBody.ReadAsync<ServerActionRequest>(http, ServiceKind.Ecs);
        if (error is not null) return error;
        var actions = new[] { ("os-start", body!.Start), ("os-stop", body.Stop), ("reboot", body.Reboot) }
            .Where(a => a.Item2 is not null).ToList();
        if (actions.Count != 1) return EcsErrors.Invalid("The request body must name exactly one action: os-start, os-stop or reboot.");
        var (action, spec) = actions[0];
        if (action != "os-start" && spec!.Type is not (null or "SOFT" or "HARD"))
            return EcsErrors.Invalid($"Invalid {action}.type '{spec.Type}': use SOFT or HARD.");
        var (ids, listError) = ServerIds(spec!.Servers, action);
        if (listError is not null) return listError;

        var (jobType, taskState, required) = action switch
        {
            "os-stop" => (PowerJob.StopType, ServerGuards.PoweringOff, ServerStatus.Active),
            "os-start" => (PowerJob.StartType, ServerGuards.PoweringOn, ServerStatus.Shutoff),
            _ => (PowerJob.RebootType, ServerGuards.Rebooting, ServerStatus.Active),
        };
        var ct = http.RequestAborted;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var write = await db.BeginWriteAsync(ct);
        foreach (var id in ids)
        {
            var claim = await ServerGuards.TryClaimAsync(write, caller.ProjectId, id, taskState, now, ct);
            if (claim.EcsRefusal() is { } refusal) return refusal;
            if (claim.Status != required)
                return EcsErrors.Conflict($"Instance[{id}] is {claim.Status}; {action} needs an ECS that is {required}.");
        }
        var jobId = await jobs.EnqueueAsync(write, "ecs", jobType, caller.ProjectId, new ServersPayload(ids, false),
            EcsJobEntities.ForServers(jobType.Replace("Server", "SingleServer", StringComparison.Ordinal), ids), ids[0], null, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new JobAccepted(jobId));
    }

    private static async Task<IResult> DeleteServers(Caller caller, Database db, JobQueue jobs, TimeProvider time, HttpContext http)
    {
        var (body, error) = await JsonBody.ReadAsync<DeleteServersRequest>(http, ServiceKind.Ecs);
        if (error is not null) return error;
        var (ids, listError) = ServerIds(body!.Servers, "delete");
        if (listError is not null) return listError;

        var ct = http.RequestAborted;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var write = await db.BeginWriteAsync(ct);
        foreach (var id in ids)
        {
            var claim = await ServerGuards.TryClaimAsync(write, caller.ProjectId, id, ServerGuards.Deleting, now, ct);
            if (claim.EcsRefusal() is { } refusal) return refusal;
        }
        // delete_publicip has nothing to do: this emulator creates no EIPs.
        var jobId = await jobs.EnqueueAsync(write, "ecs", DeleteServerJob.Type, caller.ProjectId,
            new ServersPayload(ids, body.DeleteVolume ?? false), EcsJobEntities.ForServers("deleteSingleServer", ids), ids[0], null, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new JobAccepted(jobId));
    }

    private static (List<string> Ids, ApiError? Error) ServerIds(List<ServerRef?>? servers, string action)
    {
        if (servers is not { Count: > 0 }) return ([], EcsErrors.Invalid($"{action}: servers must list at least one ECS."));
        if (servers.Count > MaxBatch) return ([], EcsErrors.Invalid($"{action}: at most {MaxBatch} ECSs per request."));
        if (servers.Any(s => s is null || string.IsNullOrEmpty(s.Id))) return ([], EcsErrors.Invalid($"{action}: servers[].id is required."));
        return (servers.Select(s => s!.Id!).Distinct(StringComparer.Ordinal).ToList(), null);
    }
}
