using System.Text.Json;
using Ims.Service.Auth;
using Ims.Service.Backups;
using Ims.Service.Ecs;
using Ims.Service.Evs;
using Ims.Service.Http;
using Ims.Service.Policies;
using Ims.Service.Storage;

namespace Ims.Service.Cbr;

/// <summary>
/// CBR vaults: CRUD, associating servers (or disks) with a vault, and vault tags (policies: <see cref="CbrPolicyEndpoints"/>).
/// A resource belongs to at most one vault; only existing resources of the caller's project can be associated.
/// </summary>
public static class VaultEndpoints
{
    private const int MaxVaultSizeGb = 10_485_760;

    public static IEndpointRouteBuilder MapCbrVaults(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v3/{project_id}").ForService(ServiceKind.Cbr);
        group.MapPost("/vaults", CreateVault);
        group.MapGet("/vaults", ListVaults);
        group.MapGet("/vaults/{vault_id}", ShowVault);
        group.MapPut("/vaults/{vault_id}", UpdateVault);
        group.MapDelete("/vaults/{vault_id}", DeleteVault);
        group.MapPost("/vaults/{vault_id}/addresources", AddResources);
        group.MapPost("/vaults/{vault_id}/removeresources", RemoveResources);
        group.MapPost("/vault/{vault_id}/tags/action", TagAction);
        group.MapGet("/vault/{vault_id}/tags", ListTags);
        group.MapPost("/vault/{vault_id}/tags", CreateTag);
        group.MapDelete("/vault/{vault_id}/tags/{key}", DeleteTag);
        return app;
    }

    private static async Task<IResult> CreateVault(HttpContext http, Caller caller, Database db, VaultStore vaults, BackupStore backups,
        ServerStore servers, VolumeStore volumes, PolicyStore policies, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (request, error) = await JsonBody.ReadAsync<VaultCreateRequest>(http, ServiceKind.Cbr);
        if (error is not null) return error;
        var body = request!.Vault;
        if (body is null) return CbrErrors.BadRequest("vault is required.");
        if (ValidateName(body.Name) is { } nameError) return nameError;
        if (body.Description is { Length: > 255 }) return CbrErrors.BadRequest("description must be at most 255 characters.");
        if (body.BackupNamePrefix is { Length: > 32 }) return CbrErrors.BadRequest("backup_name_prefix must be at most 32 characters.");
        if (ValidateBilling(body.Billing) is { } billingError) return billingError;
        var billing = body.Billing!;
        if (ValidateTags(body.Tags, out var tags) is { } tagError) return tagError;
        var enterpriseProjectId = string.IsNullOrEmpty(body.EnterpriseProjectId) ? "0" : body.EnterpriseProjectId;
        if (enterpriseProjectId.Length > 64) return CbrErrors.BadRequest("enterprise_project_id is invalid.");

        var vaultId = Ids.NewUuid();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var write = await db.BeginWriteAsync(ct);
        var (resources, resourceError) = await ValidateNewResourcesAsync(write, vaults, servers, volumes, caller.ProjectId, vaultId, billing.ObjectType!,
            body.Resources ?? [], ct);
        if (resourceError is not null) return resourceError;
        await vaults.InsertAsync(write, new VaultRow
        {
            Id = vaultId,
            ProjectId = caller.ProjectId,
            Name = body.Name!,
            Description = body.Description ?? "",
            ObjectType = billing.ObjectType!,
            ProtectType = billing.ProtectType!,
            ConsistentLevel = billing.ConsistentLevel!,
            SizeGb = billing.Size!.Value,
            IsMultiAz = Flag(billing.IsMultiAz),
            AutoBind = Flag(body.AutoBind),
            AutoExpand = Flag(body.AutoExpand),
            Locked = Flag(body.Locked),
            Status = "available",
            EnterpriseProjectId = enterpriseProjectId,
            BackupNamePrefix = body.BackupNamePrefix ?? "",
            Tags = Vaults.SerializeTags(tags),
            CreatedAt = now,
            UpdatedAt = now,
        }, ct);
        if (await vaults.AddResourcesAsync(write, vaultId, resources, now, ct) is { } taken) return CbrErrors.AlreadyInOtherVault(taken);
        if (!string.IsNullOrEmpty(body.BackupPolicyId))
        {
            // The deprecated way to apply a backup policy at creation (terraform's policy_id).
            var policy = await policies.GetAsync(write, caller.ProjectId, PolicyServices.Cbr, body.BackupPolicyId, ct);
            if (policy is null) return CbrErrors.PolicyNotFound(body.BackupPolicyId);
            if (policy.OperationType != PolicyOperation.Backup)
                return CbrErrors.PolicyNotApplicable($"Policy {policy.Id} is not a backup policy.");
            var row = (await vaults.GetAsync(write, caller.ProjectId, vaultId, ct))!;
            if (await CbrPolicyEndpoints.ApplyAsync(write, policies, row, policy, null, time, ct) is { } refused) return refused;
        }
        var vault = await RenderOneAsync(write, vaults, backups, caller.ProjectId, vaultId, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { vault });
    }

    private static async Task<IResult> ShowVault(string vault_id, HttpContext http, Caller caller, VaultStore vaults, BackupStore backups)
    {
        var ct = http.RequestAborted;
        var vault = await vaults.GetAsync(caller.ProjectId, vault_id, ct);
        if (vault is null) return CbrErrors.VaultNotFound(vault_id);
        var rendered = await Vaults.RenderAsync(vaults, backups, [vault], ct);
        return TypedResults.Json(new { vault = rendered[0] });
    }

    private static async Task<IResult> ListVaults(HttpContext http, Caller caller, VaultStore store, BackupStore backups)
    {
        var ct = http.RequestAborted;
        if (!QueryArgs.TryInt(http, "offset", ServiceKind.Cbr, out var offset, out var error)) return error!;
        if (!QueryArgs.TryInt(http, "limit", ServiceKind.Cbr, out var limit, out error, min: 1, max: 1000)) return error!;
        var resourceIds = QueryArgs.String(http, "resource_ids")?
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var filter = new VaultFilter(QueryArgs.String(http, "id"), QueryArgs.String(http, "name"),
            QueryArgs.String(http, "object_type"), QueryArgs.String(http, "protect_type"), QueryArgs.String(http, "status"),
            resourceIds);
        var (page, count) = await store.ListAsync(caller.ProjectId, filter, offset ?? 0, limit ?? 1000, ct);
        var vaults = await Vaults.RenderAsync(store, backups, page, ct);
        return TypedResults.Json(new { vaults, count });
    }

    private static async Task<IResult> UpdateVault(string vault_id, HttpContext http, Caller caller, Database db, VaultStore vaults,
        BackupStore backups, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (request, error) = await JsonBody.ReadAsync<VaultUpdateRequest>(http, ServiceKind.Cbr);
        if (error is not null) return error;
        var body = request!.Vault;
        if (body is null) return CbrErrors.BadRequest("vault is required.");
        if (body.Name is not null && ValidateName(body.Name) is { } nameError) return nameError;
        if (body.Description is { Length: > 255 }) return CbrErrors.BadRequest("description must be at most 255 characters.");
        var size = body.Billing?.Size;
        if (size is < 1 or > MaxVaultSizeGb) return CbrErrors.InvalidSize($"billing.size must be between 1 and {MaxVaultSizeGb} GB.");

        await using var write = await db.BeginWriteAsync(ct);
        var vault = await vaults.GetAsync(write, caller.ProjectId, vault_id, ct);
        if (vault is null) return CbrErrors.VaultNotFound(vault_id);
        if (size is { } newSize)
        {
            // Under the vault's capacity lock (taken by UsedGbAsync): no checkpoint can start between this check and the commit.
            var usedGb = await backups.UsedGbAsync(write, vault_id, ct);
            if (newSize < usedGb)
                return new ApiError(ServiceKind.Cbr, StatusCodes.Status400BadRequest, "BackupService.6107",
                    $"The vault size cannot be smaller than the {usedGb} GB its backups use.");
        }
        await vaults.UpdateAsync(write, caller.ProjectId, vault_id, new VaultChange(body.Name, body.Description, size,
            OptionalFlag(body.AutoBind), OptionalFlag(body.AutoExpand), OptionalFlag(body.Locked)), time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
        var rendered = await RenderOneAsync(write, vaults, backups, caller.ProjectId, vault_id, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { vault = rendered });
    }

    /// <summary>Deletes the vault with all its backups (and so their checkpoints), unless one is still in use.</summary>
    private static async Task<IResult> DeleteVault(string vault_id, HttpContext http, Caller caller, Database db, VaultStore vaults,
        BackupStore backups, BackupRemoval removal, PolicyStore policies)
    {
        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        var vault = await vaults.GetAsync(write, caller.ProjectId, vault_id, ct);
        if (vault is null) return CbrErrors.VaultNotFound(vault_id);
        var backupIds = await backups.GetBackupIdsOfVaultAsync(write, caller.ProjectId, vault_id, ct);
        switch (await removal.CheckAsync(write, backupIds, ct))
        {
            case RemovalProblem.Protecting:
                return CbrErrors.InUse($"Vault {vault_id} has a backup in progress; delete it when the backup has finished.");
            case RemovalProblem.UsedByImage:
                return CbrErrors.InUse($"A backup in vault {vault_id} was used to create an image; delete the image first.");
        }
        await removal.DeleteAsync(write, caller.ProjectId, backupIds, ct);
        await backups.DeleteEmptyCheckpointsOfVaultAsync(write, caller.ProjectId, vault_id, ct);
        await policies.ForgetVaultAsync(write, vault_id, ct);
        await vaults.DeleteAsync(write, caller.ProjectId, vault_id, ct);
        await write.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    private static async Task<IResult> AddResources(string vault_id, HttpContext http, Caller caller, Database db, VaultStore vaults,
        ServerStore servers, VolumeStore volumes, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (request, error) = await JsonBody.ReadAsync<AddResourcesRequest>(http, ServiceKind.Cbr);
        if (error is not null) return error;
        if (request!.Resources is not { Count: > 0 } requested) return CbrErrors.BadRequest("resources must be a non-empty list.");

        await using var write = await db.BeginWriteAsync(ct);
        var vault = await vaults.GetAsync(write, caller.ProjectId, vault_id, ct);
        if (vault is null) return CbrErrors.VaultNotFound(vault_id);
        var (resources, resourceError) = await ValidateNewResourcesAsync(write, vaults, servers, volumes, caller.ProjectId, vault_id, vault.ObjectType, requested, ct);
        if (resourceError is not null) return resourceError;
        if (await vaults.AddResourcesAsync(write, vault_id, resources, time.GetUtcNow().ToUnixTimeMilliseconds(), ct) is { } taken)
            return CbrErrors.AlreadyInOtherVault(taken);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { add_resource_ids = resources.Select(r => r.Id).ToList() });
    }

    private static async Task<IResult> RemoveResources(string vault_id, HttpContext http, Caller caller, Database db, VaultStore vaults)
    {
        var ct = http.RequestAborted;
        var (request, error) = await JsonBody.ReadAsync<RemoveResourcesRequest>(http, ServiceKind.Cbr);
        if (error is not null) return error;
        if (request!.ResourceIds is not { Count: > 0 } ids || ids.Any(string.IsNullOrEmpty))
            return CbrErrors.BadRequest("resource_ids must be a non-empty list of resource ids.");
        if (ids.Distinct(StringComparer.Ordinal).Count() != ids.Count)
            return CbrErrors.DuplicateResource(ids.GroupBy(i => i, StringComparer.Ordinal).First(g => g.Count() > 1).Key);

        await using var write = await db.BeginWriteAsync(ct);
        var vault = await vaults.GetAsync(write, caller.ProjectId, vault_id, ct);
        if (vault is null) return CbrErrors.VaultNotFound(vault_id);
        var present = await vaults.GetResourceIdsInAsync(write, vault_id, ids, ct);
        if (ids.FirstOrDefault(id => !present.Contains(id)) is { } missing)
            return CbrErrors.ResourceNotFound("resource in this vault", missing);
        await vaults.RemoveResourcesAsync(write, vault_id, ids, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { remove_resource_ids = ids });
    }

    private static async Task<IResult> TagAction(string vault_id, HttpContext http, Caller caller, Database db, VaultStore vaults,
        TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (request, error) = await JsonBody.ReadAsync<TagActionRequest>(http, ServiceKind.Cbr);
        if (error is not null) return error;
        if (request!.Action is not ("create" or "delete")) return CbrErrors.BadRequest("action must be create or delete.");
        List<TagWire> changes;
        if (request.Action == "create")
        {
            if (request.Tags is not { Count: > 0 }) return CbrErrors.BadRequest("tags must be a non-empty list.");
            if (ValidateTags(request.Tags, out changes) is { } tagError) return tagError;
        }
        else
        {
            if (request.Tags is not { Count: > 0 } || request.Tags.Any(t => string.IsNullOrEmpty(t?.Key)))
                return CbrErrors.BadRequest("tags must be a non-empty list of tags with a key.");
            changes = request.Tags.Select(t => new TagWire(t.Key!, t.Value ?? "")).ToList();
        }
        return await ChangeTagsAsync(vault_id, caller, db, vaults, time, tags =>
        {
            var keys = changes.Select(c => c.Key).ToHashSet(StringComparer.Ordinal);
            var kept = tags.Where(t => !keys.Contains(t.Key));
            return request.Action == "create" ? [.. kept, .. changes] : [.. kept];
        }, ct);
    }

    private static async Task<IResult> ListTags(string vault_id, HttpContext http, Caller caller, VaultStore vaults)
    {
        var vault = await vaults.GetAsync(caller.ProjectId, vault_id, http.RequestAborted);
        if (vault is null) return CbrErrors.VaultNotFound(vault_id);
        return TypedResults.Json(new { tags = Vaults.ParseTags(vault.Tags) });
    }

    private static async Task<IResult> CreateTag(string vault_id, HttpContext http, Caller caller, Database db, VaultStore vaults,
        TimeProvider time)
    {
        var (request, error) = await JsonBody.ReadAsync<SingleTagRequest>(http, ServiceKind.Cbr);
        if (error is not null) return error;
        if (request!.Tag is null) return CbrErrors.BadRequest("tag is required.");
        if (ValidateTags([request.Tag], out var added) is { } tagError) return tagError;
        return await ChangeTagsAsync(vault_id, caller, db, vaults, time,
            tags => [.. tags.Where(t => t.Key != added[0].Key), added[0]], http.RequestAborted);
    }

    private static async Task<IResult> DeleteTag(string vault_id, string key, HttpContext http, Caller caller, Database db, VaultStore vaults,
        TimeProvider time)
    {
        return await ChangeTagsAsync(vault_id, caller, db, vaults, time,
            tags => tags.Any(t => t.Key == key) ? [.. tags.Where(t => t.Key != key)] : null, http.RequestAborted,
            missingTag: key);
    }

    private static async Task<IResult> ChangeTagsAsync(string vaultId, Caller caller, Database db, VaultStore vaults, TimeProvider time,
        Func<IReadOnlyList<TagWire>, List<TagWire>?> change, CancellationToken ct, string? missingTag = null)
    {
        await using var write = await db.BeginWriteAsync(ct);
        var vault = await vaults.GetAsync(write, caller.ProjectId, vaultId, ct);
        if (vault is null) return CbrErrors.VaultNotFound(vaultId);
        var tags = change(Vaults.ParseTags(vault.Tags));
        if (tags is null) return CbrErrors.ResourceNotFound("tag", missingTag ?? "");
        if (tags.Count > 10) return CbrErrors.BadRequest("A vault can have at most 10 tags.");
        await vaults.SetTagsAsync(write, caller.ProjectId, vaultId, Vaults.SerializeTags(tags), time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
        await write.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    // ----- validation ---------------------------------------------------------------------------------------------

    private static ApiError? ValidateName(string? name) =>
        string.IsNullOrWhiteSpace(name) || name.Length > 64 || name.Any(c => char.IsControl(c) || c is '<' or '>')
            ? CbrErrors.BadRequest("name must be 1 to 64 characters without angle brackets.")
            : null;

    private static ApiError? ValidateBilling(BillingCreateBody? billing)
    {
        if (billing is null) return CbrErrors.BadRequest("billing is required.");
        if (billing.ObjectType is not ("server" or "disk" or "turbo"))
            return CbrErrors.BadRequest("billing.object_type must be server, disk or turbo.");
        if (billing.ProtectType is not ("backup" or "replication"))
            return CbrErrors.BadRequest("billing.protect_type must be backup or replication.");
        if (billing.ConsistentLevel is not ("crash_consistent" or "app_consistent"))
            return CbrErrors.BadRequest("billing.consistent_level must be crash_consistent or app_consistent.");
        if (billing.ConsistentLevel == "app_consistent" && billing.ObjectType != "server")
            return CbrErrors.BadRequest("app_consistent is only available for server vaults.");
        if (billing.Size is null) return CbrErrors.BadRequest("billing.size is required.");
        if (billing.Size is < 1 or > MaxVaultSizeGb) return CbrErrors.InvalidSize($"billing.size must be between 1 and {MaxVaultSizeGb} GB.");
        // Only pay-per-use public-cloud vaults exist here; accepting anything else would pretend to bill or order.
        if (billing.ChargingMode is not (null or "post_paid")) return CbrErrors.BadRequest("Only the post_paid charging_mode is supported.");
        if (billing.CloudType is not (null or "public")) return CbrErrors.BadRequest("Only the public cloud_type is supported.");
        return null;
    }

    private static ApiError? ValidateTags(List<TagBody>? tags, out List<TagWire> valid)
    {
        valid = [];
        foreach (var tag in tags ?? [])
        {
            if (tag is null || string.IsNullOrEmpty(tag.Key) || tag.Key.Length > 36)
                return CbrErrors.BadRequest("Each tag needs a key of 1 to 36 characters.");
            if (tag.Value is { Length: > 43 }) return CbrErrors.BadRequest("A tag value must be at most 43 characters.");
            if (valid.Any(v => v.Key == tag.Key)) return CbrErrors.BadRequest($"Duplicate tag key {tag.Key}.");
            valid.Add(new TagWire(tag.Key, tag.Value ?? ""));
        }
        return valid.Count > 10 ? CbrErrors.BadRequest("A vault can have at most 10 tags.") : null;
    }

    /// <summary>
    /// Checks resources to associate with a vault: the vault's resource type, no duplicates, existing resources of the
    /// caller's project only (anything else answers like a missing resource), not yet in any vault, and excluded disks
    /// really attached to the server.
    /// </summary>
    private static async Task<(List<NewVaultResource> Resources, ApiError? Error)> ValidateNewResourcesAsync(WriteScope write,
        VaultStore vaults, ServerStore servers, VolumeStore volumes, string projectId, string vaultId, string objectType, List<ResourceBody> requested, CancellationToken ct)
    {
        var expectedType = Vaults.ResourceTypeOf(objectType);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var resource in requested)
        {
            if (resource is null || string.IsNullOrEmpty(resource.Id) || string.IsNullOrEmpty(resource.Type))
                return ([], CbrErrors.BadRequest("Each resource needs an id and a type."));
            if (resource.Type != expectedType) return ([], CbrErrors.TypeMismatch(resource.Type, objectType));
            if (!seen.Add(resource.Id)) return ([], CbrErrors.DuplicateResource(resource.Id));
            if (resource.ExtraInfo?.ExcludeVolumes?.Any(string.IsNullOrEmpty) == true
                || resource.ExtraInfo?.IncludeVolumes?.Any(v => string.IsNullOrEmpty(v?.Id)) == true)
                return ([], CbrErrors.BadRequest("extra_info volume ids must be non-empty strings."));
        }
        var ids = seen.ToArray();
        var names = expectedType == Vaults.ServerType ? await servers.GetNamesAsync(write, projectId, ids, ct)
            : expectedType == Vaults.VolumeType ? await volumes.GetNamesAsync(write, projectId, ids, ct)
            : new Dictionary<string, string>();
        if (ids.FirstOrDefault(id => !names.ContainsKey(id)) is { } missing)
            return ([], CbrErrors.ResourceNotFound("resource", missing));

        var owners = await vaults.GetVaultsOfResourcesAsync(write, ids, ct);
        if (owners.Count > 0)
        {
            var (resourceId, ownerVault) = owners[0];
            return ([], ownerVault == vaultId ? CbrErrors.DuplicateResource(resourceId) : CbrErrors.AlreadyInOtherVault(resourceId));
        }

        var result = new List<NewVaultResource>();
        foreach (var resource in requested)
        {
            var excluded = resource.ExtraInfo?.ExcludeVolumes ?? [];
            if (excluded.Count > 0)
            {
                var attached = (await volumes.GetAttachmentsOfServersAsync(write, [resource.Id!], ct))
                    .Select(a => a.VolumeId).ToHashSet(StringComparer.Ordinal);
                if (excluded.FirstOrDefault(v => !attached.Contains(v)) is { } stray)
                    return ([], CbrErrors.BadRequest($"Volume {stray} is not attached to server {resource.Id}."));
            }
            var included = (resource.ExtraInfo?.IncludeVolumes ?? []).Select(v => new IncludeVolumeWire(v.Id!, v.OsVersion ?? ""));
            result.Add(new NewVaultResource(resource.Id!, resource.Type!, names[resource.Id!],
                JsonSerializer.Serialize(excluded.Distinct(StringComparer.Ordinal)), JsonSerializer.Serialize(included)));
        }
        return (result, null);
    }

    private static async Task<VaultWire> RenderOneAsync(WriteScope write, VaultStore vaults, BackupStore backups, string projectId,
        string vaultId, CancellationToken ct)
    {
        var row = await vaults.GetAsync(write, projectId, vaultId, ct)
            ?? throw new InvalidOperationException($"Vault {vaultId} vanished inside its own transaction.");
        return (await Vaults.RenderAsync(write, vaults, backups, [row], ct))[0];
    }

    private static int Flag(bool? value) => value == true ? 1 : 0;

    private static int? OptionalFlag(bool? value) => value is null ? null : value.Value ? 1 : 0;
}
