using System.Globalization;
using System.Text.Json;
using Ims.Service.Auth;
using Ims.Service.Http;
using Ims.Service.Policies;
using Ims.Service.Storage;

namespace Ims.Service.Cbr;

/// <summary>
/// CBR backup and replication policies, and applying them to vaults. A backup policy applied to a server or disk vault runs
/// on its schedule (<see cref="PolicyScheduler"/>); a replication policy is kept and shown but never runs (there is no
/// replication between regions here).
/// </summary>
public static class CbrPolicyEndpoints
{
    public static IEndpointRouteBuilder MapCbrPolicies(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v3/{project_id}").ForService(ServiceKind.Cbr);
        group.MapPost("/policies", CreatePolicy);
        group.MapGet("/policies", ListPolicies);
        group.MapGet("/policies/{policy_id}", ShowPolicy);
        group.MapPut("/policies/{policy_id}", UpdatePolicy);
        group.MapDelete("/policies/{policy_id}", DeletePolicy);
        group.MapPost("/vaults/{vault_id}/associatepolicy", AssociatePolicy);
        group.MapPost("/vaults/{vault_id}/dissociatepolicy", DissociatePolicy);
        return app;
    }

    private static async Task<IResult> CreatePolicy(HttpContext http, Caller caller, Database db, PolicyStore policies,
        PolicyScheduler scheduler, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (request, error) = await JsonBody.ReadAsync<CbrPolicyRequest>(http, ServiceKind.Cbr);
        if (error is not null) return error;
        if (request!.Policy is not { } body) return CbrErrors.BadRequest("policy is required.");
        if (PolicyRules.CheckName(body.Name) is { } nameError) return CbrErrors.InvalidParameter(nameError);
        if (body.OperationType is not (PolicyOperation.Backup or PolicyOperation.Replication))
            return CbrErrors.UnknownPolicyType(body.OperationType);
        var (definition, definitionError) = PolicyRules.CheckDefinition(body.OperationDefinition, body.OperationType);
        if (definitionError is not null) return CbrErrors.InvalidParameter(definitionError);
        var now = time.GetUtcNow();
        var (patterns, patternError) = CheckPatterns(body.Trigger, now);
        if (patternError is not null) return patternError;

        var policy = new PolicyRow
        {
            Id = Ids.NewUuid(),
            ProjectId = caller.ProjectId,
            Service = PolicyServices.Cbr,
            Name = body.Name!,
            OperationType = body.OperationType,
            Enabled = body.Enabled == false ? 0 : 1,
            Definition = JsonSerializer.Serialize(definition),
            Patterns = JsonSerializer.Serialize(patterns),
            TriggerId = Ids.NewUuid(),
            OperationId = Ids.NewUuid(),
            CreatedAt = now.ToUnixTimeMilliseconds(),
            UpdatedAt = now.ToUnixTimeMilliseconds(),
        };
        await using var write = await db.BeginWriteAsync(ct);
        if (!await policies.TryInsertAsync(write, policy, PolicyRules.MaxPoliciesPerType, ct)) return CbrErrors.PolicyLimit(policy.OperationType);
        await scheduler.RescheduleAsync(write, policy, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { policy = Render(policy, []) });
    }

    private static async Task<IResult> ListPolicies(HttpContext http, Caller caller, PolicyStore policies)
    {
        var ct = http.RequestAborted;
        var page = await policies.ListAsync(caller.ProjectId, PolicyServices.Cbr, QueryArgs.String(http, "operation_type"),
            QueryArgs.String(http, "vault_id"), ct);
        var vaults = (await policies.GetVaultsAsync([.. page.Select(p => p.Id)], ct)).ToLookup(v => v.PolicyId);
        return TypedResults.Json(new { policies = page.Select(p => Render(p, vaults[p.Id])).ToList(), count = page.Count });
    }

    private static async Task<IResult> ShowPolicy(string policy_id, HttpContext http, Caller caller, PolicyStore policies)
    {
        var ct = http.RequestAborted;
        var policy = await policies.GetAsync(caller.ProjectId, PolicyServices.Cbr, policy_id, ct);
        if (policy is null) return CbrErrors.PolicyNotFound(policy_id);
        return TypedResults.Json(new { policy = Render(policy, await policies.GetVaultsAsync([policy.Id], ct)) });
    }

    /// <summary>
    /// Changes the given attributes; an <c>operation_definition</c> replaces the stored one whole (clients send it whole).
    /// Any change reschedules: runs not yet started are withdrawn and the next slot comes from the new schedule.
    /// </summary>
    private static async Task<IResult> UpdatePolicy(string policy_id, HttpContext http, Caller caller, Database db, PolicyStore policies,
        PolicyScheduler scheduler, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (request, error) = await JsonBody.ReadAsync<CbrPolicyRequest>(http, ServiceKind.Cbr);
        if (error is not null) return error;
        if (request!.Policy is not { } body) return CbrErrors.BadRequest("policy is required.");
        if (body.Name is not null && PolicyRules.CheckName(body.Name) is { } nameError) return CbrErrors.InvalidParameter(nameError);

        await using var write = await db.BeginWriteAsync(ct);
        var policy = await policies.GetAsync(write, caller.ProjectId, PolicyServices.Cbr, policy_id, ct);
        if (policy is null) return CbrErrors.PolicyNotFound(policy_id);
        if (body.OperationType is not null && body.OperationType != policy.OperationType)
            return CbrErrors.InvalidParameter("operation_type cannot be changed.");
        var definition = policy.Definition;
        if (body.OperationDefinition is not null)
        {
            var (checkedDefinition, definitionError) = PolicyRules.CheckDefinition(body.OperationDefinition, policy.OperationType);
            if (definitionError is not null) return CbrErrors.InvalidParameter(definitionError);
            definition = JsonSerializer.Serialize(checkedDefinition);
        }
        var patterns = policy.Patterns;
        if (body.Trigger is not null)
        {
            var (checkedPatterns, patternError) = CheckPatterns(body.Trigger, DateTimeOffset.FromUnixTimeMilliseconds(policy.CreatedAt));
            if (patternError is not null) return patternError;
            patterns = JsonSerializer.Serialize(checkedPatterns);
        }
        var changed = policy with
        {
            Name = body.Name ?? policy.Name,
            Enabled = body.Enabled is { } enabled ? (enabled ? 1 : 0) : policy.Enabled,
            Definition = definition,
            Patterns = patterns,
            UpdatedAt = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };
        await policies.UpdateAsync(write, changed, ct);
        await scheduler.RescheduleAsync(write, changed, ct);
        var vaults = await policies.GetVaultsAsync(write, [policy.Id], ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { policy = Render(changed, vaults) });
    }

    /// <summary>Deletes the policy and removes it from its vaults; backups it made stay.</summary>
    private static async Task<IResult> DeletePolicy(string policy_id, HttpContext http, Caller caller, Database db, PolicyStore policies)
    {
        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        var policy = await policies.GetAsync(write, caller.ProjectId, PolicyServices.Cbr, policy_id, ct);
        if (policy is null) return CbrErrors.PolicyNotFound(policy_id);
        await policies.LockAsync(write, policy.Id, ct);
        await policies.DeleteAsync(write, policy.Id, ct);
        await write.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    private static async Task<IResult> AssociatePolicy(string vault_id, HttpContext http, Caller caller, Database db, VaultStore vaults,
        PolicyStore policies, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (request, error) = await JsonBody.ReadAsync<VaultPolicyRequest>(http, ServiceKind.Cbr);
        if (error is not null) return error;
        if (string.IsNullOrEmpty(request!.PolicyId)) return CbrErrors.BadRequest("policy_id is required.");

        await using var write = await db.BeginWriteAsync(ct);
        var vault = await vaults.GetAsync(write, caller.ProjectId, vault_id, ct);
        if (vault is null) return CbrErrors.VaultNotFound(vault_id);
        var policy = await policies.GetAsync(write, caller.ProjectId, PolicyServices.Cbr, request.PolicyId, ct);
        if (policy is null) return CbrErrors.PolicyNotFound(request.PolicyId);
        if (await ApplyAsync(write, policies, vault, policy, request.DestinationVaultId, time, ct) is { } refused) return refused;
        await write.CommitAsync(ct);
        return TypedResults.Json(new { associate_policy = new VaultPolicyWire(vault.Id, policy.Id, NullIfEmpty(request.DestinationVaultId)) });
    }

    /// <summary>
    /// Applies a policy to a vault (replacing the vault's policy of the same type), or says why it cannot be: a backup
    /// policy needs a backup vault, a replication policy a destination vault of the caller.
    /// </summary>
    internal static async Task<ApiError?> ApplyAsync(WriteScope write, PolicyStore policies, VaultRow vault, PolicyRow policy, string? destinationVaultId, TimeProvider time, CancellationToken ct)
    {
        destinationVaultId = NullIfEmpty(destinationVaultId);
        if (policy.OperationType == PolicyOperation.Backup && vault.ProtectType != "backup")
            return CbrErrors.PolicyNotApplicable($"Backup policy {policy.Id} cannot be applied to {vault.ProtectType} vault {vault.Id}.");
        if (policy.OperationType == PolicyOperation.Replication)
        {
            if (destinationVaultId is null) return CbrErrors.InvalidParameter("destination_vault_id is required for a replication policy.");
            // The destination lives in another region; this deployment cannot look there, so only the id's form is checked.
        }
        else if (destinationVaultId is not null)
            return CbrErrors.InvalidParameter("destination_vault_id applies to replication policies only.");
        await policies.ApplyToVaultAsync(write, vault.Id, policy.OperationType, policy.Id, destinationVaultId,
            time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
        return null;
    }

    private static async Task<IResult> DissociatePolicy(string vault_id, HttpContext http, Caller caller, Database db, VaultStore vaults,
        PolicyStore policies)
    {
        var ct = http.RequestAborted;
        var (request, error) = await JsonBody.ReadAsync<VaultPolicyRequest>(http, ServiceKind.Cbr);
        if (error is not null) return error;
        if (string.IsNullOrEmpty(request!.PolicyId)) return CbrErrors.BadRequest("policy_id is required.");

        await using var write = await db.BeginWriteAsync(ct);
        var vault = await vaults.GetAsync(write, caller.ProjectId, vault_id, ct);
        if (vault is null) return CbrErrors.VaultNotFound(vault_id);
        var policy = await policies.GetAsync(write, caller.ProjectId, PolicyServices.Cbr, request.PolicyId, ct);
        if (policy is null) return CbrErrors.PolicyNotFound(request.PolicyId);
        if (!await policies.RemoveFromVaultAsync(write, vault.Id, policy.Id, ct)) return CbrErrors.PolicyNotApplied(policy.Id, vault.Id);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { dissociate_policy = new VaultPolicyWire(vault.Id, policy.Id, null) });
    }

    // ----- helpers ------------------------------------------------------------------------------------------------

    private static (List<string> Patterns, ApiError? Error) CheckPatterns(PolicyTriggerBody? trigger, DateTimeOffset anchor)
    {
        if (trigger?.Properties is not { } properties) return ([], CbrErrors.InvalidParameter("trigger.properties.pattern is required."));
        var (_, patternError) = PolicySchedule.Parse(properties.Pattern, anchor);
        return patternError is not null ? ([], CbrErrors.InvalidParameter(patternError)) : ([.. properties.Pattern!.Select(p => p!)], null);
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static CbrPolicyWire Render(PolicyRow policy, IEnumerable<PolicyVaultRow> vaults) => new()
    {
        Id = policy.Id,
        Name = policy.Name,
        Enabled = policy.Enabled != 0,
        OperationType = policy.OperationType,
        OperationDefinition = policy.ParsedDefinition,
        Trigger = new CbrTriggerWire
        {
            Id = policy.TriggerId,
            Properties = new CbrTriggerPropertiesWire(policy.ParsedPatterns,
                DateTimeOffset.FromUnixTimeMilliseconds(policy.CreatedAt).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)),
        },
        AssociatedVaults = [.. vaults.Select(v => new AssociatedVaultWire(v.VaultId, v.DestinationVaultId))],
    };
}
