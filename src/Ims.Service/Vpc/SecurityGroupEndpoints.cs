using System.Text.Json.Serialization;
using Ims.Service.Auth;
using Ims.Service.Http;
using Ims.Service.Storage;

namespace Ims.Service.Vpc;

/// <summary>A row of the security_groups table; its rules live in the JSON column <c>rules</c>.</summary>
public sealed record SecurityGroupRow
{
    public const string Columns = "id, project_id AS ProjectId, name, description, " +
        "enterprise_project_id AS EnterpriseProjectId, rules, created_at AS CreatedAt, updated_at AS UpdatedAt";

    public required string Id { get; init; }
    public required string ProjectId { get; init; }
    public required string Name { get; init; }
    public required string Description { get; init; }
    public required string EnterpriseProjectId { get; init; }
    public string Rules { get; init; } = "[]";
    public long CreatedAt { get; init; }
    public long UpdatedAt { get; init; }

    public List<SecurityGroupRule> RuleList => VpcWire.ReadList<SecurityGroupRule>(Rules);
}

/// <summary>One rule as stored; rendered in the v3 shape (multiport, action, priority) or the v1 Neutron shape.</summary>
public sealed record SecurityGroupRule
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("direction")] public required string Direction { get; init; }
    [JsonPropertyName("ethertype")] public required string Ethertype { get; init; }
    [JsonPropertyName("protocol")] public string? Protocol { get; init; }
    [JsonPropertyName("multiport")] public string? Multiport { get; init; }
    [JsonPropertyName("remote_ip_prefix")] public string? RemoteIpPrefix { get; init; }
    [JsonPropertyName("remote_group_id")] public string? RemoteGroupId { get; init; }
    [JsonPropertyName("description")] public string Description { get; init; } = "";
    [JsonPropertyName("action")] public string Action { get; init; } = "allow";
    [JsonPropertyName("priority")] public int Priority { get; init; } = 1;
    [JsonPropertyName("created_at")] public long CreatedAt { get; init; }
    [JsonPropertyName("updated_at")] public long UpdatedAt { get; init; }
}

/// <summary>
/// Security groups as <c>huaweicloud_networking_secgroup</c> drives them: created and described through v3 (with
/// the default rules, which <c>delete_default_rules</c> removes one by one through v3), read and deleted through v1.
/// The v1 create is the provider's fallback where v3 is missing. A group a port still uses cannot be deleted.
/// </summary>
public static class SecurityGroupEndpoints
{
    public static IEndpointRouteBuilder MapSecurityGroups(this IEndpointRouteBuilder app)
    {
        var v3 = app.MapGroup("/v3/{project_id}/vpc").ForService(ServiceKind.VpcV3);
        v3.MapPost("/security-groups", CreateV3);
        v3.MapGet("/security-groups", ListV3);
        v3.MapGet("/security-groups/{security_group_id}", GetV3);
        v3.MapPut("/security-groups/{security_group_id}", UpdateV3);
        v3.MapDelete("/security-groups/{security_group_id}", (string security_group_id, HttpContext http, Caller caller, Database db, VpcStore vpcs) =>
            DeleteAsync(ServiceKind.VpcV3, security_group_id, http, caller, db, vpcs));
        v3.MapDelete("/security-group-rules/{rule_id}", (string rule_id, HttpContext http, Caller caller, Database db, VpcStore vpcs, TimeProvider time) =>
            DeleteRuleAsync(ServiceKind.VpcV3, rule_id, http, caller, db, vpcs, time));

        var v1 = app.MapGroup("/v1/{project_id}").ForService(ServiceKind.Vpc);
        v1.MapPost("/security-groups", CreateV1);
        v1.MapGet("/security-groups/{security_group_id}", GetV1);
        v1.MapDelete("/security-groups/{security_group_id}", (string security_group_id, HttpContext http, Caller caller, Database db, VpcStore vpcs) =>
            DeleteAsync(ServiceKind.Vpc, security_group_id, http, caller, db, vpcs));
        v1.MapDelete("/security-group-rules/{rule_id}", (string rule_id, HttpContext http, Caller caller, Database db, VpcStore vpcs, TimeProvider time) =>
            DeleteRuleAsync(ServiceKind.Vpc, rule_id, http, caller, db, vpcs, time));
        return app;
    }

    private static async Task<IResult> CreateV3(HttpContext http, Caller caller, Database db, VpcStore vpcs, TimeProvider time)
    {
        var (body, error) = await VpcRules.ReadBodyAsync<CreateRequest>(http, ServiceKind.VpcV3, "VPC.0606");
        if (error is not null) return error;
        var (group, invalid) = Validate(ServiceKind.VpcV3, body!.SecurityGroup, caller, time);
        if (group is null) return invalid!;
        // A dry run checks the request and answers 202 without creating anything.
        if (body.DryRun == true) return TypedResults.Json(new { request_id = RequestIds.Of(http) }, statusCode: StatusCodes.Status202Accepted);
        await InsertAsync(db, vpcs, group, http.RequestAborted);
        return TypedResults.Json(new { request_id = RequestIds.Of(http), security_group = V3(group) }, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> CreateV1(HttpContext http, Caller caller, Database db, VpcStore vpcs, TimeProvider time)
    {
        var (body, error) = await VpcRules.ReadBodyAsync<CreateRequest>(http, ServiceKind.Vpc, "VPC.0606");
        if (error is not null) return error;
        var (group, invalid) = Validate(ServiceKind.Vpc, body!.SecurityGroup, caller, time);
        if (group is null) return invalid!;
        await InsertAsync(db, vpcs, group, http.RequestAborted);
        return TypedResults.Json(new { security_group = V1(group) });
    }

    private static async Task<IResult> GetV3(string security_group_id, HttpContext http, Caller caller, VpcStore vpcs)
    {
        var group = await vpcs.GetSecurityGroupAsync(caller.ProjectId, security_group_id, http.RequestAborted);
        return group is null
            ? VpcErrors.SecurityGroupNotFound(ServiceKind.VpcV3, security_group_id)
            : TypedResults.Json(new { request_id = RequestIds.Of(http), security_group = V3(group) });
    }

    private static async Task<IResult> GetV1(string security_group_id, HttpContext http, Caller caller, VpcStore vpcs)
    {
        var group = await vpcs.GetSecurityGroupAsync(caller.ProjectId, security_group_id, http.RequestAborted);
        return group is null
            ? VpcErrors.SecurityGroupNotFound(ServiceKind.Vpc, security_group_id)
            : TypedResults.Json(new { security_group = V1(group) });
    }

    private static async Task<IResult> ListV3(HttpContext http, Caller caller, VpcStore vpcs)
    {
        var ct = http.RequestAborted;
        if (!VpcRules.TryPaging(http, ServiceKind.VpcV3, "VPC.0606", out var limit, out var marker, out var error)) return error!;
        var ids = http.Request.Query["id"].Where(v => !string.IsNullOrEmpty(v)).ToList();
        var names = http.Request.Query["name"].Where(v => !string.IsNullOrEmpty(v)).ToList();
        var eps = QueryArgs.String(http, "enterprise_project_id");
        if (eps is "all_granted_eps" or "") eps = null;

        var rows = await vpcs.ListSecurityGroupsAsync(caller.ProjectId, eps, marker, ct);
        var page = rows
            .Where(g => (ids.Count == 0 || ids.Contains(g.Id)) && (names.Count == 0 || names.Contains(g.Name)))
            .Take(limit)
            .Select(V3);
        return TypedResults.Json(new { request_id = RequestIds.Of(http), security_groups = page, page_info = new { } });
    }

    private static async Task<IResult> UpdateV3(string security_group_id, HttpContext http, Caller caller, Database db, VpcStore vpcs,
        TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (body, error) = await VpcRules.ReadBodyAsync<CreateRequest>(http, ServiceKind.VpcV3, "VPC.0606");
        if (error is not null) return error;
        if (body!.SecurityGroup is not { } option) return VpcErrors.SecurityGroupParam(ServiceKind.VpcV3, "The security_group object is required.");
        if (option.Name is { } name && !VpcRules.IsValidName(name, 1, 64))
            return VpcErrors.SecurityGroupParam(ServiceKind.VpcV3, "Security group name is invalid.");
        if (!VpcRules.IsValidDescription(option.Description))
            return VpcErrors.SecurityGroupParam(ServiceKind.VpcV3, "Security group description is invalid.");

        await using var write = await db.BeginWriteAsync(ct);
        var group = await vpcs.GetSecurityGroupAsync(write, caller.ProjectId, security_group_id, ct);
        if (group is null) return VpcErrors.SecurityGroupNotFound(ServiceKind.VpcV3, security_group_id);
        var updated = group with
        {
            Name = option.Name ?? group.Name,
            Description = option.Description ?? group.Description,
            UpdatedAt = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };
        await vpcs.UpdateSecurityGroupAsync(write, updated, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { request_id = RequestIds.Of(http), security_group = V3(updated) });
    }

    private static async Task<IResult> DeleteAsync(ServiceKind service, string id, HttpContext http, Caller caller, Database db, VpcStore vpcs)
    {
        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        var group = await vpcs.GetSecurityGroupAsync(write, caller.ProjectId, id, ct);
        if (group is null) return VpcErrors.SecurityGroupNotFound(service, id);
        if (await vpcs.IsSecurityGroupInUseAsync(write, caller.ProjectId, id, ct)) return VpcErrors.SecurityGroupInUse(service, id);
        await vpcs.DeleteSecurityGroupAsync(write, id, ct);
        await write.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    private static async Task<IResult> DeleteRuleAsync(ServiceKind service, string ruleId, HttpContext http, Caller caller, Database db,
        VpcStore vpcs, TimeProvider time)
    {
        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        var candidates = await vpcs.GetGroupsMentioningRuleAsync(write, caller.ProjectId, ruleId, ct);
        foreach (var group in candidates)
        {
            var rules = group.RuleList;
            if (rules.RemoveAll(r => r.Id == ruleId) == 0) continue;
            await vpcs.SetRulesAsync(write, group.Id, VpcWire.WriteList(rules), time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            await write.CommitAsync(ct);
            return TypedResults.NoContent();
        }
        return VpcErrors.SecurityGroupRuleNotFound(service, ruleId);
    }

    private static (SecurityGroupRow? Group, ApiError? Error) Validate(ServiceKind service, GroupOption? option, Caller caller, TimeProvider time)
    {
        if (option is null) return (null, VpcErrors.SecurityGroupParam(service, "The security_group object is required."));
        if (option.Name is null || !VpcRules.IsValidName(option.Name, 1, 64))
            return (null, VpcErrors.SecurityGroupParam(service, "Security group name is invalid."));
        if (!VpcRules.IsValidDescription(option.Description))
            return (null, VpcErrors.SecurityGroupParam(service, "Security group description is invalid."));
        var eps = string.IsNullOrEmpty(option.EnterpriseProjectId) ? "0" : option.EnterpriseProjectId;
        if (!VpcRules.IsValidEnterpriseProject(eps))
            return (null, VpcErrors.SecurityGroupParam(service, "enterprise_project_id is invalid."));

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var id = Ids.NewUuid();
        return (new SecurityGroupRow
        {
            Id = id,
            ProjectId = caller.ProjectId,
            Name = option.Name,
            Description = option.Description ?? "",
            EnterpriseProjectId = eps,
            Rules = VpcWire.WriteList(DefaultRules(id, now)),
            CreatedAt = now,
            UpdatedAt = now,
        }, null);
    }

    /// <summary>
    /// The rules a new group starts with: all traffic out, and in only from members of the same group, for IPv4 and
    /// IPv6 alike.
    /// </summary>
    private static IEnumerable<SecurityGroupRule> DefaultRules(string groupId, long now)
    {
        foreach (var ethertype in new[] { "IPv4", "IPv6" })
        {
            yield return new SecurityGroupRule
            {
                Id = Ids.NewUuid(),
                Direction = "egress",
                Ethertype = ethertype,
                RemoteIpPrefix = ethertype == "IPv4" ? "0.0.0.0/0" : "::/0",
                CreatedAt = now,
                UpdatedAt = now,
            };
            yield return new SecurityGroupRule
            {
                Id = Ids.NewUuid(),
                Direction = "ingress",
                Ethertype = ethertype,
                RemoteGroupId = groupId,
                CreatedAt = now,
                UpdatedAt = now,
            };
        }
    }

    private static async Task InsertAsync(Database db, VpcStore vpcs, SecurityGroupRow group, CancellationToken ct)
    {
        await using var write = await db.BeginWriteAsync(ct);
        await vpcs.InsertSecurityGroupAsync(write, group, ct);
        await write.CommitAsync(ct);
    }

    /// <summary>The v3 shape (golangsdk networking/v3/security/groups; <c>priority</c> is a number).</summary>
    private static object V3(SecurityGroupRow group) => new
    {
        id = group.Id,
        name = group.Name,
        description = group.Description,
        project_id = group.ProjectId,
        created_at = WireTime.Seconds(group.CreatedAt),
        updated_at = WireTime.Seconds(group.UpdatedAt),
        enterprise_project_id = group.EnterpriseProjectId,
        security_group_rules = group.RuleList.Select(r => new
        {
            id = r.Id,
            description = r.Description,
            security_group_id = group.Id,
            direction = r.Direction,
            protocol = r.Protocol ?? "",
            ethertype = r.Ethertype,
            multiport = r.Multiport,
            action = r.Action,
            priority = r.Priority,
            remote_group_id = r.RemoteGroupId ?? "",
            remote_ip_prefix = r.RemoteIpPrefix ?? "",
            remote_address_group_id = "",
            created_at = WireTime.Seconds(r.CreatedAt),
            updated_at = WireTime.Seconds(r.UpdatedAt),
            project_id = group.ProjectId,
        }),
        tags = Array.Empty<object>(),
    };

    /// <summary>The v1 (Neutron-style) shape: unset rule fields are null, port ranges are numbers or null.</summary>
    private static object V1(SecurityGroupRow group) => new
    {
        id = group.Id,
        name = group.Name,
        description = group.Description,
        vpc_id = "",
        enterprise_project_id = group.EnterpriseProjectId,
        security_group_rules = group.RuleList.Select(r => new
        {
            id = r.Id,
            description = r.Description,
            security_group_id = group.Id,
            direction = r.Direction,
            ethertype = r.Ethertype,
            protocol = r.Protocol,
            port_range_min = (int?)null,
            port_range_max = (int?)null,
            remote_ip_prefix = r.RemoteIpPrefix,
            remote_group_id = r.RemoteGroupId,
            tenant_id = group.ProjectId,
        }),
    };

    private sealed record CreateRequest(
        [property: JsonPropertyName("security_group")] GroupOption? SecurityGroup,
        [property: JsonPropertyName("dry_run")] bool? DryRun);

    private sealed record GroupOption(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("description")] string? Description,
        [property: JsonPropertyName("enterprise_project_id")] string? EnterpriseProjectId,
        [property: JsonPropertyName("vpc_id")] string? VpcId);
}
