using System.Text.Json;
using System.Text.Json.Serialization;
using Ims.Service.Auth;
using Ims.Service.Http;
using Ims.Service.Storage;
using Ims.Service.Vpc;

namespace Ims.Service.Ecs;

/// <summary>
/// The Nova server actions terraform's <c>huaweicloud_compute_instance</c> update sends when <c>security_groups</c>
/// change (and <c>openstack server add/remove security group</c> sends): <c>POST /v2.1/{project_id}/servers/{id}/action</c>
/// with <c>addSecurityGroup</c> or <c>removeSecurityGroup</c>, <c>{"name": id or name}</c>. As Nova over Neutron does, the
/// change applies to every port (NIC) of the server, which ECS's server detail shows as the server's
/// <c>security_groups</c>. Errors are Nova faults (<see cref="NovaFault"/>).
/// </summary>
public static class NovaServerEndpoints
{
    public static IEndpointRouteBuilder MapNovaServers(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/v2.1/{project_id}/servers/{server_id}").ForService(ServiceKind.Nova).MapPost("/action", ServerAction);
        return app;
    }

    private static async Task<IResult> ServerAction(string server_id, HttpContext http, Caller caller, Database db, ServerStore servers, VpcStore vpcs)
    {
        var (body, error) = await JsonBody.ReadAsync<NovaActionRequest>(http, ServiceKind.Nova);
        if (error is not null) return error;
        if (body!.AddSecurityGroup is null && body.RemoveSecurityGroup is null)
            return Fault(StatusCodes.Status400BadRequest, NovaFault.BadRequest,
                $"There is no such action: {string.Join(", ", body.Other?.Keys.AsEnumerable() ?? [])}. " +
                "This service serves addSecurityGroup and removeSecurityGroup.");
        if (body.AddSecurityGroup is not null && body.RemoveSecurityGroup is not null)
            return Fault(StatusCodes.Status400BadRequest, NovaFault.BadRequest, "Give one action per request.");
        var adding = body.AddSecurityGroup is not null;
        var name = (body.AddSecurityGroup ?? body.RemoveSecurityGroup)!.Name;
        var action = adding ? "addSecurityGroup" : "removeSecurityGroup";
        if (string.IsNullOrWhiteSpace(name) || name.Length > 255)
            return Fault(StatusCodes.Status400BadRequest, NovaFault.BadRequest,
                $"Invalid input for field/attribute {action}. 'name' is a required property: a security group id or name of 1 to 255 characters.");

        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        if (await servers.GetAsync(write, caller.ProjectId, server_id, ct) is null)
            return Fault(StatusCodes.Status404NotFound, NovaFault.NotFound, $"Instance {server_id} could not be found.");
        var matches = await vpcs.FindSecurityGroupsAsync(write, caller.ProjectId, name, ct);
        // An id wins over a name; a name must name one group.
        var byId = matches.FirstOrDefault(g => g.Id == name);
        if (byId is null && matches.Count > 1)
            return Fault(StatusCodes.Status409Conflict, NovaFault.Conflict,
                $"Multiple security_group matches found for name '{name}', use an ID to be more specific.");
        if ((byId ?? matches.FirstOrDefault()) is not { } group)
            return Fault(StatusCodes.Status404NotFound, NovaFault.NotFound, $"Security group {name} not found for project {caller.ProjectId}.");

        var ports = await vpcs.GetPortGroupsOfDeviceAsync(write, caller.ProjectId, server_id, ct);
        if (ports.Count == 0)
            return Fault(StatusCodes.Status409Conflict, NovaFault.Conflict,
                $"Instance {server_id} has no network port yet; try again when it is built.");
        var changed = ports.Select(p => (p.Id, Groups: JsonSerializer.Deserialize<List<string>>(p.SecurityGroupIds) ?? [])).ToList();
        if (!adding && !changed.Any(p => p.Groups.Contains(group.Id)))
            return Fault(StatusCodes.Status400BadRequest, NovaFault.BadRequest,
                $"Security group {group.Id} not associated with the instance {server_id}.");
        foreach (var (portId, groups) in changed)
        {
            // Adding a group a port already has leaves it as it is, as Neutron does.
            if (adding && !groups.Contains(group.Id)) groups.Add(group.Id);
            if (!adding) groups.Remove(group.Id);
            await vpcs.UpdatePortAsync(write, caller.ProjectId, portId, JsonSerializer.Serialize(groups), null, ct);
        }
        await write.CommitAsync(ct);
        return TypedResults.StatusCode(StatusCodes.Status202Accepted);
    }

    private static ApiError Fault(int status, string fault, string message) => new(ServiceKind.Nova, status, fault, message);
}

public sealed record NovaActionRequest
{
    [JsonPropertyName("addSecurityGroup")] public NovaSecurityGroupName? AddSecurityGroup { get; init; }
    [JsonPropertyName("removeSecurityGroup")] public NovaSecurityGroupName? RemoveSecurityGroup { get; init; }
    /// <summary>Any other action's key, named in the refusal.</summary>
    [JsonExtensionData] public Dictionary<string, JsonElement>? Other { get; init; }
}

public sealed record NovaSecurityGroupName([property: JsonPropertyName("name")] string? Name);
