using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Ims.Service.Auth;
using Ims.Service.Http;
using Ims.Service.Storage;

namespace Ims.Service.Eps;

/// <summary>
/// EPS's enterprise projects (<c>/v1.0/enterprise-projects</c>): list, create, show, update, enable and disable, per
/// account (EPS is global: the caller acts for its whole account, with any token or AK/SK of it, project- or
/// account-level). <c>0</c> is the default project of every account: it can be neither changed nor disabled.
/// Enterprise projects are never deleted here (terraform only disables them on destroy).
/// </summary>
public static partial class EnterpriseProjectManagement
{
    /// <summary>Enterprise projects an account may create besides the default (EPS's default quota).</summary>
    public const int Quota = 100;

    private const int MaxDescription = 512;

    public static IEndpointRouteBuilder MapEnterpriseProjectManagement(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1.0/enterprise-projects").ForService(ServiceKind.Eps).AllowDomainScope();
        group.MapGet("", List);
        group.MapPost("", Create);
        group.MapGet("/{enterprise_project_id}", Show);
        group.MapPut("/{enterprise_project_id}", Update);
        group.MapPost("/{enterprise_project_id}/action", Act);
        return app;
    }

    /// <summary>
    /// Query: <c>id</c>, <c>name</c> (a part of the name, any case), <c>status</c> (1 enabled, 2 disabled), <c>type</c>,
    /// <c>limit</c> (1-1000, default 1000: <c>EPS.0017</c>), <c>offset</c> (from 0: <c>EPS.0018</c>), <c>sort_key</c>
    /// (<c>created_at</c> by default, <c>updated_at</c>, <c>name</c>) and <c>sort_dir</c> (<c>desc</c> by default, <c>asc</c>).
    /// </summary>
    private static async Task<IResult> List(HttpContext http, Caller caller, EnterpriseProjectStore store)
    {
        var limit = 1000;
        if (QueryArgs.String(http, "limit") is { Length: > 0 } rawLimit
            && (!int.TryParse(rawLimit, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 1000))
            return Error("EPS.0017", "Invalid limit.");
        var offset = 0;
        if (QueryArgs.String(http, "offset") is { Length: > 0 } rawOffset
            && !int.TryParse(rawOffset, NumberStyles.None, CultureInfo.InvariantCulture, out offset))
            return Error("EPS.0018", "Invalid offset.");
        long? status = null;
        if (QueryArgs.String(http, "status") is { Length: > 0 } rawStatus)
        {
            if (rawStatus is not ("1" or "2")) return Error("EPS.0002", "status is 1 (enabled) or 2 (disabled).");
            status = rawStatus == "1" ? EnterpriseProjectStore.Enabled : EnterpriseProjectStore.Disabled;
        }
        var type = QueryArgs.String(http, "type") is { Length: > 0 } t ? t : null;
        if (type is not (null or EnterpriseProjectStore.Prod or EnterpriseProjectStore.Poc)) return Error("EPS.0002", "type is prod or poc.");
        var sortKey = QueryArgs.String(http, "sort_key") is { Length: > 0 } k ? k : "created_at";
        if (!EnterpriseProjectStore.SortColumns.ContainsKey(sortKey)) return Error("EPS.0002", "sort_key is created_at, updated_at or name.");
        var sortDir = QueryArgs.String(http, "sort_dir") is { Length: > 0 } d ? d : "desc";
        if (sortDir is not ("asc" or "desc")) return Error("EPS.0002", "sort_dir is asc or desc.");

        var query = new EnterpriseProjectQuery(QueryArgs.String(http, "id") is { Length: > 0 } id ? id : null,
            QueryArgs.String(http, "name") is { Length: > 0 } name ? name : null, status, type, limit, offset, sortKey, sortDir == "desc");
        var (page, total) = await store.ListAsync(caller.Domain.Id, query, http.RequestAborted);
        return new JsonWriterResult(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("enterprise_projects");
            foreach (var project in page) Write(w, project);
            w.WriteEndArray();
            w.WriteNumber("total_count", total);
            w.WriteEndObject();
        });
    }

    /// <summary><c>{"name", "description", "type"}</c> → 200 <c>{"enterprise_project": {...}}</c>, enabled.</summary>
    private static async Task<IResult> Create(HttpContext http, Caller caller, Database db, EnterpriseProjectStore store, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (body, error) = await JsonBody.ReadAsync<ProjectRequest>(http, ServiceKind.Eps);
        if (error is not null) return error;
        if (Invalid(body!, requireName: true) is { } invalid) return invalid;

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var row = new EnterpriseProjectRow
        {
            DomainId = caller.Domain.Id,
            Id = Guid.NewGuid().ToString(),
            Name = body!.Name!,
            Description = body.Description ?? "",
            Type = body.Type ?? EnterpriseProjectStore.Prod,
            Status = EnterpriseProjectStore.Enabled,
            CreatedAt = now,
            UpdatedAt = now,
        };
        await using var write = await db.BeginWriteAsync(ct);
        if (await store.CountAsync(write, caller.Domain.Id, ct) >= Quota)
            return Error("EPS.0009", $"The number of enterprise project exceeds the upper limit ({Quota}).");
        if (await store.NameTakenAsync(write, caller.Domain.Id, row.Name, null, ct)) return NameTaken(row.Name);
        await store.InsertAsync(write, row, ct);
        await write.CommitAsync(ct);
        return One(row);
    }

    private static async Task<IResult> Show(string enterprise_project_id, HttpContext http, Caller caller, EnterpriseProjectStore store)
    {
        var project = await store.GetAsync(caller.Domain.Id, enterprise_project_id, http.RequestAborted);
        return project is null ? NotFound(enterprise_project_id) : One(project);
    }

    /// <summary>
    /// <c>{"name", "description", "type"}</c>: the name is required; an absent description or type keeps the current one.
    /// The default project cannot be changed (<c>EPS.0012</c>), nor a disabled one (<c>EPS.0014</c>).
    /// </summary>
    private static async Task<IResult> Update(string enterprise_project_id, HttpContext http, Caller caller, Database db,
        EnterpriseProjectStore store, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (body, error) = await JsonBody.ReadAsync<ProjectRequest>(http, ServiceKind.Eps);
        if (error is not null) return error;
        await using var write = await db.BeginWriteAsync(ct);
        var project = await store.GetAsync(write, caller.Domain.Id, enterprise_project_id, ct);
        if (project is null) return NotFound(enterprise_project_id);
        if (project.Id == EnterpriseProjectStore.DefaultId) return Error("EPS.0012", "The default enterprise project cannot be modified.");
        if (!project.Enabled) return Error("EPS.0014", "The disabled enterprise project cannot be modified.");
        if (Invalid(body!, requireName: true) is { } invalid) return invalid;
        if (await store.NameTakenAsync(write, caller.Domain.Id, body!.Name!, project.Id, ct)) return NameTaken(body.Name!);

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var updated = project with
        {
            Name = body.Name!,
            Description = body.Description ?? project.Description,
            Type = body.Type ?? project.Type,
            UpdatedAt = now,
        };
        await store.UpdateAsync(write, updated.DomainId, updated.Id, updated.Name, updated.Description, updated.Type, now, ct);
        await write.CommitAsync(ct);
        return One(updated);
    }

    /// <summary>
    /// <c>{"action": "enable" | "disable"}</c> → 204. Idempotent (terraform disables on destroy, whatever the state); the
    /// default project does not take it (<c>EPS.0015</c>); another action is <c>EPS.0013</c>.
    /// </summary>
    private static async Task<IResult> Act(string enterprise_project_id, HttpContext http, Caller caller, Database db,
        EnterpriseProjectStore store, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (body, error) = await JsonBody.ReadAsync<ActionRequest>(http, ServiceKind.Eps);
        if (error is not null) return error;
        await using var write = await db.BeginWriteAsync(ct);
        var project = await store.GetAsync(write, caller.Domain.Id, enterprise_project_id, ct);
        if (project is null) return NotFound(enterprise_project_id);
        if (body!.Action is not ("enable" or "disable")) return Error("EPS.0013", "Invalid action: enable or disable.");
        if (project.Id == EnterpriseProjectStore.DefaultId)
            return Error("EPS.0015", "The default enterprise project does not support the operation.");
        var status = body.Action == "enable" ? EnterpriseProjectStore.Enabled : EnterpriseProjectStore.Disabled;
        await store.SetStatusAsync(write, project.DomainId, project.Id, status, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
        await write.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// Name: 1-64 of letters, digits, <c>_</c>, <c>-</c> and Chinese characters, and not <c>default</c> in any case
    /// (<c>EPS.0007</c>); description up to 512 characters (<c>EPS.0008</c>); type <c>prod</c> or <c>poc</c>.
    /// </summary>
    private static ApiError? Invalid(ProjectRequest body, bool requireName)
    {
        if (body.Name is null && requireName) return Error("EPS.0007", "Invalid enterprise project name: name is required.");
        if (body.Name is { } name && (!NameChars().IsMatch(name) || name.Equals(EnterpriseProjectStore.DefaultName, StringComparison.OrdinalIgnoreCase)))
            return Error("EPS.0007", "Invalid enterprise project name: 1-64 letters, digits, _, - or Chinese characters, and not default.");
        if (body.Description is { } description && description.EnumerateRunes().Count() > MaxDescription)
            return Error("EPS.0008", $"Invalid enterprise project description: at most {MaxDescription} characters.");
        if (body.Type is not (null or EnterpriseProjectStore.Prod or EnterpriseProjectStore.Poc))
            return Error("EPS.0002", "type is prod or poc.");
        return null;
    }

    private static JsonWriterResult One(EnterpriseProjectRow project) => new(w =>
    {
        w.WriteStartObject();
        w.WritePropertyName("enterprise_project");
        Write(w, project);
        w.WriteEndObject();
    });

    /// <summary>EPS's EpDetail; times in seconds with Z (EPS: "2018-05-18T06:49:06Z"), <c>status</c> a number.</summary>
    private static void Write(Utf8JsonWriter w, EnterpriseProjectRow project)
    {
        w.WriteStartObject();
        w.WriteString("id", project.Id);
        w.WriteString("name", project.Name);
        w.WriteString("description", project.Description);
        w.WriteNumber("status", project.Status);
        w.WriteString("created_at", WireTime.Seconds(project.CreatedAt));
        w.WriteString("updated_at", WireTime.Seconds(project.UpdatedAt));
        w.WriteString("type", project.Type);
        w.WriteBoolean("delete_flag", false);
        w.WriteEndObject();
    }

    private static ApiError Error(string code, string message) => new(ServiceKind.Eps, StatusCodes.Status400BadRequest, code, message);

    private static ApiError NotFound(string id) => ApiError.NotFound(ServiceKind.Eps, $"Requested resources not found: no enterprise project {id}.");

    private static ApiError NameTaken(string name) =>
        new(ServiceKind.Eps, StatusCodes.Status409Conflict, "EPS.0010", $"The enterprise project name already exists: {name}.");

    [GeneratedRegex(@"^[\p{IsCJKUnifiedIdeographs}A-Za-z0-9_-]{1,64}$")]
    private static partial Regex NameChars();

    private sealed record ProjectRequest
    {
        [JsonPropertyName("name")] public string? Name { get; init; }
        [JsonPropertyName("description")] public string? Description { get; init; }
        [JsonPropertyName("type")] public string? Type { get; init; }
    }

    private sealed record ActionRequest
    {
        [JsonPropertyName("action")] public string? Action { get; init; }
    }
}
