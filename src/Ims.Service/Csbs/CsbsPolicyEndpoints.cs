using System.Globalization;
using System.Text.Json;
using Ims.Service.Auth;
using Ims.Service.Ecs;
using Ims.Service.Http;
using Ims.Service.Policies;
using Ims.Service.Storage;

namespace Ims.Service.Csbs;

/// <summary>
/// CSBS v1 backup policies: one scheduled backup operation over the servers the policy names, run and retained by the
/// same scheduler as CBR's (<see cref="PolicyScheduler"/>), its backups being CSBS checkpoints.
/// </summary>
public static class CsbsPolicyEndpoints
{
    private const string ServerType = "OS::Nova::Server";

    public static IEndpointRouteBuilder MapCsbsPolicies(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/{project_id}").ForService(ServiceKind.Csbs);
        group.MapPost("/policies", CreatePolicy);
        group.MapGet("/policies", ListPolicies);
        group.MapGet("/policies/{policy_id}", ShowPolicy);
        group.MapPut("/policies/{policy_id}", UpdatePolicy);
        group.MapDelete("/policies/{policy_id}", DeletePolicy);
        return app;
    }

    private static async Task<IResult> CreatePolicy(HttpContext http, Caller caller, Database db, PolicyStore policies, ServerStore servers,
        PolicyScheduler scheduler, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (request, error) = await JsonBody.ReadAsync<CsbsPolicyRequest>(http, ServiceKind.Csbs);
        if (error is not null) return error;
        if (request!.Policy is not { } body) return Bad("policy is required.");
        if (PolicyRules.CheckName(body.Name) is { } nameError) return Bad(nameError);
        if (body.Description is { Length: > 255 }) return Bad("description must be at most 255 characters.");
        if (body.ProviderId != CsbsEndpoints.ProviderId) return Bad($"provider_id must be {CsbsEndpoints.ProviderId}.");
        if (body.ScheduledOperations is not [{ } operation]) return Bad("scheduled_operations must hold exactly one operation.");
        var now = time.GetUtcNow();
        var (scheduled, operationError) = CheckOperation(operation, now);
        if (operationError is not null) return operationError;
        var tags = new List<CsbsTagWire>();
        foreach (var tag in body.Tags ?? [])
        {
            if (tag is null || string.IsNullOrEmpty(tag.Key)) return Bad("Each tag needs a key.");
            tags.Add(new CsbsTagWire(tag.Key, tag.Value ?? ""));
        }

        await using var write = await db.BeginWriteAsync(ct);
        var (resources, resourceError) = await CheckResourcesAsync(write, servers, caller.ProjectId, body.Resources, ct);
        if (resourceError is not null) return resourceError;
        var policy = new PolicyRow
        {
            Id = Ids.NewUuid(),
            ProjectId = caller.ProjectId,
            Service = PolicyServices.Csbs,
            Name = body.Name!,
            Description = body.Description ?? "",
            OperationType = PolicyOperation.Backup,
            Enabled = scheduled.Enabled ? 1 : 0,
            Definition = JsonSerializer.Serialize(scheduled.Definition),
            Patterns = JsonSerializer.Serialize(new[] { scheduled.Pattern }),
            TriggerId = Ids.NewUuid(),
            OperationId = Ids.NewUuid(),
            OperationName = scheduled.Name ?? "",
            OperationDescription = scheduled.Description ?? "",
            Tags = JsonSerializer.Serialize(tags),
            CreatedAt = now.ToUnixTimeMilliseconds(),
            UpdatedAt = now.ToUnixTimeMilliseconds(),
        };
        if (!await policies.TryInsertAsync(write, policy, PolicyRules.MaxPoliciesPerType, ct)) return CsbsErrors.PolicyLimit();
        await policies.SetResourcesAsync(write, policy.Id, resources, now.ToUnixTimeMilliseconds(), ct);
        await scheduler.RescheduleAsync(write, policy, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { policy = Render(policy, resources) });
    }

    private static async Task<IResult> ListPolicies(HttpContext http, Caller caller, PolicyStore policies)
    {
        var ct = http.RequestAborted;
        if (!QueryArgs.TryInt(http, "offset", ServiceKind.Csbs, out var offset, out var error)) return error!;
        if (!QueryArgs.TryInt(http, "limit", ServiceKind.Csbs, out var limit, out error, min: 1, max: 1000)) return error!;
        var name = QueryArgs.String(http, "name");
        var all = await policies.ListAsync(caller.ProjectId, PolicyServices.Csbs, null, null, ct);
        var page = all.Where(p => string.IsNullOrEmpty(name) || p.Name == name).Skip(offset ?? 0).Take(limit ?? 1000).ToList();
        var resources = (await policies.GetResourcesAsync([.. page.Select(p => p.Id)], ct)).ToLookup(r => r.PolicyId);
        return TypedResults.Json(new
        {
            policies = page.Select(p => Render(p, resources[p.Id])).ToList(),
            policies_links = Array.Empty<object>(),
        });
    }

    private static async Task<IResult> ShowPolicy(string policy_id, HttpContext http, Caller caller, PolicyStore policies)
    {
        var ct = http.RequestAborted;
        var policy = await policies.GetAsync(caller.ProjectId, PolicyServices.Csbs, policy_id, ct);
        if (policy is null) return NotFound(policy_id);
        return TypedResults.Json(new { policy = Render(policy, await policies.GetResourcesAsync([policy.Id], ct)) });
    }

    /// <summary>Changes what is given: name, description, the servers (replaced whole), the scheduled operation (named by its id).</summary>
    private static async Task<IResult> UpdatePolicy(string policy_id, HttpContext http, Caller caller, Database db, PolicyStore policies,
        ServerStore servers, PolicyScheduler scheduler, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (request, error) = await JsonBody.ReadAsync<CsbsPolicyRequest>(http, ServiceKind.Csbs);
        if (error is not null) return error;
        if (request!.Policy is not { } body) return Bad("policy is required.");
        if (body.Name is not null && PolicyRules.CheckName(body.Name) is { } nameError) return Bad(nameError);
        if (body.Description is { Length: > 255 }) return Bad("description must be at most 255 characters.");
        if (body.ScheduledOperations is { Count: > 1 }) return Bad("scheduled_operations must hold exactly one operation.");

        await using var write = await db.BeginWriteAsync(ct);
        var policy = await policies.GetAsync(write, caller.ProjectId, PolicyServices.Csbs, policy_id, ct);
        if (policy is null) return NotFound(policy_id);
        var now = time.GetUtcNow();
        var changed = policy with
        {
            Name = body.Name ?? policy.Name,
            Description = body.Description ?? policy.Description,
            UpdatedAt = now.ToUnixTimeMilliseconds(),
        };
        if (body.ScheduledOperations is [{ } operation])
        {
            if (!string.IsNullOrEmpty(operation.Id) && operation.Id != policy.OperationId)
                return Bad($"Scheduled operation {operation.Id} is not an operation of policy {policy.Id}.");
            var (scheduled, operationError) = CheckOperation(operation with { OperationType = operation.OperationType ?? PolicyOperation.Backup },
                DateTimeOffset.FromUnixTimeMilliseconds(policy.CreatedAt));
            if (operationError is not null) return operationError;
            changed = changed with
            {
                Enabled = scheduled.Enabled ? 1 : 0,
                Definition = JsonSerializer.Serialize(scheduled.Definition),
                Patterns = JsonSerializer.Serialize(new[] { scheduled.Pattern }),
                OperationName = scheduled.Name ?? policy.OperationName,
                OperationDescription = scheduled.Description ?? policy.OperationDescription,
            };
        }
        if (body.Resources is not null)
        {
            var (resources, resourceError) = await CheckResourcesAsync(write, servers, caller.ProjectId, body.Resources, ct);
            if (resourceError is not null) return resourceError;
            await policies.SetResourcesAsync(write, policy.Id, resources, now.ToUnixTimeMilliseconds(), ct);
        }
        await policies.UpdateAsync(write, changed, ct);
        await scheduler.RescheduleAsync(write, changed, ct);
        var current = await policies.GetResourcesAsync(write, [policy.Id], ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { policy = Render(changed, current) });
    }

    /// <summary>Deletes the policy (200, as the OTC SDK expects); the backups it made stay.</summary>
    private static async Task<IResult> DeletePolicy(string policy_id, HttpContext http, Caller caller, Database db, PolicyStore policies)
    {
        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        var policy = await policies.GetAsync(write, caller.ProjectId, PolicyServices.Csbs, policy_id, ct);
        if (policy is null) return NotFound(policy_id);
        await policies.LockAsync(write, policy.Id, ct);
        await policies.DeleteAsync(write, policy.Id, ct);
        await write.CommitAsync(ct);
        return TypedResults.Ok();
    }

    // ----- rules and rendering --------------------------------------------------------------------------------------

    private sealed record ScheduledOperation(bool Enabled, string Pattern, PolicyDefinition Definition, string? Name, string? Description);

    private static (ScheduledOperation Operation, ApiError? Error) CheckOperation(CsbsScheduledOperationBody operation, DateTimeOffset anchor)
    {
        var none = new ScheduledOperation(false, "", new PolicyDefinition(), null, null);
        if (operation.OperationType != PolicyOperation.Backup) return (none, Bad("operation_type must be backup."));
        if (operation.Name is { Length: > 255 } || operation.Description is { Length: > 255 })
            return (none, Bad("The scheduled operation's name and description must be at most 255 characters."));
        var pattern = operation.Trigger?.Properties?.Pattern;
        var (_, patternError) = PolicySchedule.Parse([pattern], anchor);
        if (patternError is not null) return (none, Bad(patternError));
        var body = operation.OperationDefinition ?? new PolicyDefinitionBody();
        PolicyDefinition? definition;
        if (body.Permanent == true) definition = new PolicyDefinition { Permanent = true, Timezone = body.Timezone };
        else
        {
            var (checkedDefinition, definitionError) = PolicyRules.CheckDefinition(body, PolicyOperation.Backup);
            if (definitionError is not null) return (none, Bad(definitionError));
            definition = checkedDefinition! with { Permanent = false };
        }
        return (new ScheduledOperation(operation.Enabled ?? true, pattern!, definition, operation.Name, operation.Description), null);
    }

    private static async Task<(List<PolicyResourceRow> Resources, ApiError? Error)> CheckResourcesAsync(WriteScope write, ServerStore servers,
        string projectId, List<CsbsPolicyResourceBody?>? requested, CancellationToken ct)
    {
        if (requested is null) return ([], Bad("resources is required."));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var resource in requested)
        {
            if (resource is null || string.IsNullOrEmpty(resource.Id) || string.IsNullOrEmpty(resource.Type))
                return ([], Bad("Each resource needs an id and a type."));
            if (resource.Type != ServerType) return ([], CsbsErrors.TypeNotSupported(resource.Id, resource.Type));
            if (!seen.Add(resource.Id)) return ([], Bad($"Duplicate resource {resource.Id}."));
        }
        var names = await servers.GetNamesAsync(write, projectId, seen, ct);
        if (seen.FirstOrDefault(id => !names.ContainsKey(id)) is { } missing)
            return ([], new ApiError(ServiceKind.Csbs, StatusCodes.Status400BadRequest, "CSBS.6000", $"Server {missing} does not exist."));
        return ([.. requested.Select(r => new PolicyResourceRow("", r!.Id!, ServerType, string.IsNullOrEmpty(r.Name) ? names[r.Id!] : r.Name))], null);
    }

    private static ApiError Bad(string message) => ApiError.BadBody(ServiceKind.Csbs, message);

    private static ApiError NotFound(string policyId) => ApiError.NotFound(ServiceKind.Csbs, $"Policy {policyId} does not exist.");

    /// <summary>
    /// The policy as CSBS shows it. Its status is <c>suspended</c>, what the real service shows for a policy (terraform waits
    /// for exactly that after creating one); whether it runs is its operation's <c>enabled</c>.
    /// </summary>
    private static CsbsPolicyWire Render(PolicyRow policy, IEnumerable<PolicyResourceRow> resources)
    {
        var definition = policy.ParsedDefinition;
        return new CsbsPolicyWire
        {
            Id = policy.Id,
            Name = policy.Name,
            Description = policy.Description,
            Status = "suspended",
            ProviderId = CsbsEndpoints.ProviderId,
            ProjectId = policy.ProjectId,
            CreatedAt = WireTime.MicrosNoZone(policy.CreatedAt),
            Resources = [.. resources.Select(r => new CsbsPolicyResourceWire(r.ResourceId, r.ResourceType, r.Name))],
            Tags = JsonSerializer.Deserialize<List<CsbsTagWire>>(policy.Tags) ?? [],
            ScheduledOperations =
            [
                new CsbsScheduledOperationWire
                {
                    Id = policy.OperationId,
                    Name = policy.OperationName,
                    Description = policy.OperationDescription,
                    Enabled = policy.Enabled != 0,
                    TriggerId = policy.TriggerId,
                    Trigger = new CsbsTriggerWire
                    {
                        Id = policy.TriggerId,
                        Properties = new CsbsTriggerPropertiesWire(policy.ParsedPatterns.FirstOrDefault() ?? "",
                            DateTimeOffset.FromUnixTimeMilliseconds(policy.CreatedAt).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)),
                    },
                    OperationDefinition = new CsbsOperationDefinitionWire
                    {
                        MaxBackups = definition.MaxBackups > 0 ? definition.MaxBackups : null,
                        RetentionDurationDays = definition.RetentionDurationDays > 0 ? definition.RetentionDurationDays : null,
                        Permanent = definition.Permanent == true,
                        DayBackups = definition.DayBackups > 0 ? definition.DayBackups : null,
                        WeekBackups = definition.WeekBackups > 0 ? definition.WeekBackups : null,
                        MonthBackups = definition.MonthBackups > 0 ? definition.MonthBackups : null,
                        YearBackups = definition.YearBackups > 0 ? definition.YearBackups : null,
                        Timezone = definition.Timezone,
                        PlanId = policy.Id,
                        ProviderId = CsbsEndpoints.ProviderId,
                    },
                },
            ],
        };
    }
}
