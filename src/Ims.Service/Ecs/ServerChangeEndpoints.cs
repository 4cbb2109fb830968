using System.Text.Json;
using Ims.Service.Auth;
using Ims.Service.Http;
using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Ecs;

/// <summary>
/// The changes terraform's <c>huaweicloud_compute_instance</c> update makes to a server it created: rename and describe
/// (<c>PUT</c>), delete a metadata key, tags (batch create/delete and list), and a flavor change (resize, a job).
/// </summary>
public static partial class ServerChangeEndpoints
{
    public const int MaxTags = 20;

    public static IEndpointRouteBuilder MapServerChanges(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/{project_id}/cloudservers/{server_id}").ForService(ServiceKind.Ecs);
        group.MapPut("", UpdateServer);
        group.MapDelete("/metadata/{key}", DeleteMetadataKey);
        group.MapPost("/tags/action", TagAction);
        group.MapGet("/tags", ListTags);
        group.MapPost("/resize", Resize);
        app.MapPost("/v1.1/{project_id}/cloudservers/{server_id}/resize", Resize).ForService(ServiceKind.Ecs);
        return app;
    }

    /// <summary>
    /// <c>PUT /v1/{project_id}/cloudservers/{server_id}</c>: name, description and user data; an absent field stays as it
    /// is (the hostname is derived from the address here, so it is not stored). Answers the server as the show does.
    /// </summary>
    private static async Task<IResult> UpdateServer(string server_id, Caller caller, Database db, ServerStore servers,
        Evs.VolumeStore volumes, Vpc.VpcStore vpcs, HttpContext http)
    {
        var (body, error) = await JsonBody.ReadAsync<UpdateServerRequest>(http, ServiceKind.Ecs);
        if (error is not null) return error;
        if (body!.Server is not { } spec) return EcsErrors.Invalid("Invalid key 'server' in the request body.");
        if (spec.Name is not null && !ServerCreation.IsValidName(spec.Name))
            return EcsErrors.Invalid("Invalid server name: use 1 to 64 letters, digits, underscores (_), hyphens (-) and periods (.).");
        if (spec.Description is { Length: > 85 }) return EcsErrors.Invalid("The description cannot exceed 85 characters.");
        if (spec.UserData is { Length: > 0 } userData && ServerCreation.ValidateUserData(userData) is { } userDataError) return userDataError;

        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        if (await servers.GetAsync(write, caller.ProjectId, server_id, ct) is null) return EcsErrors.NotFound(server_id);
        await servers.UpdateAsync(write, caller.ProjectId, server_id, spec.Name, spec.Description,
            string.IsNullOrEmpty(spec.UserData) ? null : spec.UserData, ct);
        var row = await servers.GetAsync(write, caller.ProjectId, server_id, ct);
        await write.CommitAsync(ct);
        var rendered = (await ServerViews.RenderAsync(volumes, vpcs, caller.ProjectId, [row!], ct))[0];
        return TypedResults.Json(new ServerEnvelope(rendered));
    }

    /// <summary>
    /// Deletes one metadata key (204). DECISION: a key the server does not have answers 404 with ECS's parameter code,
    /// as Nova's metadata-item delete answers 404; reserved system keys cannot be deleted.
    /// </summary>
    private static async Task<IResult> DeleteMetadataKey(string server_id, string key, Caller caller, Database db, ServerStore servers,
        TimeProvider time, HttpContext http)
    {
        if (ServerCreation.SystemMetadataKeys.Contains(key)) return EcsErrors.Invalid($"Metadata key '{key}' is reserved.");
        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        var server = await servers.GetAsync(write, caller.ProjectId, server_id, ct);
        if (server is null) return EcsErrors.NotFound(server_id);
        var metadata = server.MetadataMap();
        if (!metadata.Remove(key))
            return new ApiError(ServiceKind.Ecs, StatusCodes.Status404NotFound, EcsErrors.InvalidParameter,
                $"Metadata key [{key}] of instance [{server_id}] could not be found.");
        // The SAN policy is declared through its metadata key (see ServerEndpoints.UpdateMetadata): deleting it restores the default.
        var sanPolicy = key == "san_policy" ? (server.OsType == "Windows" ? "OnlineAll" : null) : server.SanPolicy;
        await servers.SetMetadataAsync(write, caller.ProjectId, server_id, JsonSerializer.Serialize(metadata), sanPolicy,
            time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
        await write.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// ECS's batch tag API: <c>{"action":"create"|"delete","tags":[{"key","value"}]}</c>, 204. Create adds or replaces
    /// keys; delete removes the keys given (with a value, only when it matches), ignoring keys the server does not have,
    /// as the tag service does. At most 20 tags per server (ECS's limit).
    /// </summary>
    private static async Task<IResult> TagAction(string server_id, Caller caller, Database db, ServerStore servers, HttpContext http)
    {
        var (body, error) = await JsonBody.ReadAsync<TagActionRequest>(http, ServiceKind.Ecs);
        if (error is not null) return error;
        if (body!.Action is not ("create" or "delete")) return EcsErrors.Invalid("action must be create or delete.");
        if (body.Tags is not { Count: > 0 } tags) return EcsErrors.Invalid("tags must list at least one tag.");
        foreach (var tag in tags)
        {
            if (tag is null || string.IsNullOrEmpty(tag.Key) || tag.Key.Length > 36)
                return EcsErrors.Invalid("Each tag needs a key of 1 to 36 characters.");
            if (tag.Value is { Length: > 43 }) return EcsErrors.Invalid($"The value of tag '{tag.Key}' cannot exceed 43 characters.");
        }

        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        var server = await servers.GetAsync(write, caller.ProjectId, server_id, ct);
        if (server is null) return EcsErrors.NotFound(server_id);
        var current = ServerTags.Parse(server.Tags);
        if (body.Action == "create")
        {
            foreach (var tag in tags) current[tag!.Key!] = tag.Value ?? "";
            if (current.Count > MaxTags) return EcsErrors.Invalid($"An ECS can have at most {MaxTags} tags.");
        }
        else
        {
            foreach (var tag in tags)
                if (current.TryGetValue(tag!.Key!, out var value) && (tag.Value is null || tag.Value == value)) current.Remove(tag.Key!);
        }
        await servers.SetTagsAsync(write, caller.ProjectId, server_id, ServerTags.Serialize(current), ct);
        await write.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    private static async Task<IResult> ListTags(string server_id, Caller caller, ServerStore servers, HttpContext http)
    {
        var server = await servers.GetAsync(caller.ProjectId, server_id, http.RequestAborted);
        if (server is null) return EcsErrors.NotFound(server_id);
        return TypedResults.Json(new TagListBody([.. ServerTags.Parse(server.Tags).Select(t => new TagBody(t.Key, t.Value))]));
    }

    /// <summary>
    /// Changes a server's flavor (a job, <c>resizeServer</c>). The server must be ACTIVE or SHUTOFF and idle; the new
    /// flavor must exist and differ from the current one. Only <c>withStopServer</c> mode exists (a running server is
    /// stopped, resized and started again, ending as it began), as the ECS reference describes.
    /// </summary>
    private static async Task<IResult> Resize(string server_id, Caller caller, Database db, ServerStore servers, JobQueue jobs,
        TimeProvider time, HttpContext http)
    {
        var (body, error) = await JsonBody.ReadAsync<ResizeRequest>(http, ServiceKind.Ecs);
        if (error is not null) return error;
        if (body!.Resize is not { } spec || string.IsNullOrEmpty(spec.FlavorRef)) return EcsErrors.Invalid("resize.flavorRef is required.");
        if (spec.Mode is not (null or "" or "withStopServer")) return EcsErrors.Invalid("resize.mode must be withStopServer.");
        if (spec.DedicatedHostId is { Length: > 0 }) return EcsErrors.Invalid("Dedicated hosts are not supported.");
        var flavor = Catalog.FindFlavor(spec.FlavorRef);
        if (flavor is null) return EcsErrors.Invalid($"Flavor [{spec.FlavorRef}] could not be found.");

        var ct = http.RequestAborted;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var write = await db.BeginWriteAsync(ct);
        var server = await servers.GetAsync(write, caller.ProjectId, server_id, ct);
        if (server is null) return EcsErrors.NotFound(server_id);
        if (server.FlavorId == flavor.Id) return EcsErrors.Invalid($"Instance[{server_id}] already has flavor [{flavor.Id}].");
        var claim = await ServerGuards.TryClaimAsync(write, caller.ProjectId, server_id, ServerGuards.Resizing, now, ct);
        if (claim.EcsRefusal() is { } refusal) return refusal;
        if (claim.Status is not (ServerStatus.Active or ServerStatus.Shutoff))
            return EcsErrors.Conflict($"Instance[{server_id}] is {claim.Status}; resize needs an ECS that is ACTIVE or SHUTOFF.");
        var jobId = await jobs.EnqueueAsync(write, "ecs", ResizeServerJob.Type, caller.ProjectId,
            new ResizePayload(server_id, flavor.Id, claim.Status!), EcsJobEntities.ForServers("resizeSingleServer", [server_id]), server_id,
            null, ct); // no bytes move: any node may run it
        await write.CommitAsync(ct);
        return TypedResults.Json(new JobAccepted(jobId));
    }
}

/// <summary>A server's tags as stored (<c>["key=value", ...]</c>, the ECS show's form), read as an ordered map.</summary>
public static class ServerTags
{
    public static SortedDictionary<string, string> Parse(string stored)
    {
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var tag in JsonSerializer.Deserialize<List<string>>(stored) ?? [])
        {
            var equals = tag.IndexOf('=', StringComparison.Ordinal);
            if (equals < 0) map[tag] = "";
            else map[tag[..equals]] = tag[(equals + 1)..];
        }
        return map;
    }

    public static string Serialize(IReadOnlyDictionary<string, string> tags) =>
        JsonSerializer.Serialize(tags.Select(t => $"{t.Key}={t.Value}").ToList());
}
