using System.Text.Json;
using Dapper;
using Ims.Service.Auth;
using Ims.Service.Backups;
using Ims.Service.Http;
using Ims.Service.Storage;

namespace Ims.Service.Cbr;

/// <summary>
/// CBR vaults: CRUD, associating servers (or disks) with a vault, vault tags, and the (always empty) policy list.
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
        group.MapGet("/policies", ListPolicies);
        group.MapPost("/vault/{vault_id}/tags/action", TagAction);
        group.MapGet("/vault/{vault_id}/tags", ListTags);
        group.MapPost("/vault/{vault_id}/tags", CreateTag);
        group.MapDelete("/vault/{vault_id}/tags/{key}", DeleteTag);
        return app;
    }

    private static async Task<IResult> CreateVault(HttpContext http, Caller caller, Database db, TimeProvider time)
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
        if (!string.IsNullOrEmpty(body.BackupPolicyId))
            return CbrErrors.ResourceNotFound("policy", body.BackupPolicyId);
        var enterpriseProjectId = string.IsNullOrEmpty(body.EnterpriseProjectId) ? "0" : body.EnterpriseProjectId;
        if (enterpriseProjectId.Length > 64) return CbrErrors.BadRequest("enterprise_project_id is invalid.");

        var vaultId = Ids.NewUuid();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var write = await db.BeginWriteAsync(ct);
        var (resources, resourceError) = await ValidateNewResourcesAsync(write, caller.ProjectId, vaultId, billing.ObjectType!,
            body.Resources ?? [], ct);
        if (resourceError is not null) return resourceError;
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO vaults (id, project_id, name, description, object_type, protect_type, consistent_level, size_gb,
                                is_multi_az, auto_bind, auto_expand, locked, status, enterprise_project_id,
                                backup_name_prefix, tags, created_at, updated_at)
            VALUES (@vaultId, @projectId, @name, @description, @objectType, @protectType, @consistentLevel, @size,
                    @isMultiAz, @autoBind, @autoExpand, @locked, 'available', @enterpriseProjectId,
                    @prefix, @tags, @now, @now)
            """,
            new
            {
                vaultId,
                projectId = caller.ProjectId,
                name = body.Name,
                description = body.Description ?? "",
                objectType = billing.ObjectType,
                protectType = billing.ProtectType,
                consistentLevel = billing.ConsistentLevel,
                size = billing.Size,
                isMultiAz = Flag(billing.IsMultiAz),
                autoBind = Flag(body.AutoBind),
                autoExpand = Flag(body.AutoExpand),
                locked = Flag(body.Locked),
                enterpriseProjectId,
                prefix = body.BackupNamePrefix ?? "",
                tags = Vaults.SerializeTags(tags),
                now,
            },
            write.Transaction, cancellationToken: ct));
        if (await InsertResourcesAsync(write, db, vaultId, resources, now, ct) is { } conflict) return conflict;
        var vault = await RenderOneAsync(write, caller.ProjectId, vaultId, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { vault });
    }

    private static async Task<IResult> ShowVault(string vault_id, HttpContext http, Caller caller, Database db)
    {
        var ct = http.RequestAborted;
        await using var conn = await db.OpenAsync(ct);
        var vault = await Vaults.FindAsync(conn, null, caller.ProjectId, vault_id, ct);
        if (vault is null) return CbrErrors.VaultNotFound(vault_id);
        var rendered = await Vaults.RenderAsync(conn, null, [vault], ct);
        return TypedResults.Json(new { vault = rendered[0] });
    }

    private static async Task<IResult> ListVaults(HttpContext http, Caller caller, Database db)
    {
        var ct = http.RequestAborted;
        if (!QueryArgs.TryInt(http, "offset", ServiceKind.Cbr, out var offset, out var error)) return error!;
        if (!QueryArgs.TryInt(http, "limit", ServiceKind.Cbr, out var limit, out error, min: 1, max: 1000)) return error!;
        var resourceIds = QueryArgs.String(http, "resource_ids")?
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var filter = new VaultFilter(QueryArgs.String(http, "id"), QueryArgs.String(http, "name"),
            QueryArgs.String(http, "object_type"), QueryArgs.String(http, "protect_type"), QueryArgs.String(http, "status"),
            resourceIds);
        await using var conn = await db.OpenAsync(ct);
        var (page, count) = await Vaults.ListAsync(conn, caller.ProjectId, filter, offset ?? 0, limit ?? 1000, ct);
        var vaults = await Vaults.RenderAsync(conn, null, page, ct);
        return TypedResults.Json(new { vaults, count });
    }

    private static async Task<IResult> UpdateVault(string vault_id, HttpContext http, Caller caller, Database db, TimeProvider time)
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
        var vault = await Vaults.FindAsync(write.Connection, write.Transaction, caller.ProjectId, vault_id, ct);
        if (vault is null) return CbrErrors.VaultNotFound(vault_id);
        if (size is { } newSize)
        {
            var usedGb = await write.Connection.ExecuteScalarAsync<long>(new CommandDefinition(
                "SELECT COALESCE(SUM(resource_size), 0) FROM backups WHERE vault_id = @vault_id AND status <> 'error'",
                new { vault_id }, write.Transaction, cancellationToken: ct));
            if (newSize < usedGb)
                return new ApiError(ServiceKind.Cbr, StatusCodes.Status400BadRequest, "BackupService.6107",
                    $"The vault size cannot be smaller than the {usedGb} GB its backups use.");
        }
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE vaults SET name = COALESCE(@name, name), description = COALESCE(@description, description),
                size_gb = COALESCE(@size, size_gb), auto_bind = COALESCE(@autoBind, auto_bind),
                auto_expand = COALESCE(@autoExpand, auto_expand), locked = COALESCE(@locked, locked), updated_at = @now
            WHERE id = @vault_id AND project_id = @projectId
            """,
            new
            {
                vault_id,
                projectId = caller.ProjectId,
                name = body.Name,
                description = body.Description,
                size,
                autoBind = OptionalFlag(body.AutoBind),
                autoExpand = OptionalFlag(body.AutoExpand),
                locked = OptionalFlag(body.Locked),
                now = time.GetUtcNow().ToUnixTimeMilliseconds(),
            },
            write.Transaction, cancellationToken: ct));
        var rendered = await RenderOneAsync(write, caller.ProjectId, vault_id, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { vault = rendered });
    }

    /// <summary>Deletes the vault with all its backups (and so their checkpoints), unless one is still in use.</summary>
    private static async Task<IResult> DeleteVault(string vault_id, HttpContext http, Caller caller, Database db)
    {
        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        var vault = await Vaults.FindAsync(write.Connection, write.Transaction, caller.ProjectId, vault_id, ct);
        if (vault is null) return CbrErrors.VaultNotFound(vault_id);
        var backupIds = (await write.Connection.QueryAsync<string>(new CommandDefinition(
            "SELECT id FROM backups WHERE vault_id = @vault_id AND project_id = @projectId",
            new { vault_id, projectId = caller.ProjectId }, write.Transaction, cancellationToken: ct))).AsList();
        switch (await BackupRemoval.CheckAsync(write, backupIds, ct))
        {
            case RemovalProblem.Protecting:
                return CbrErrors.InUse($"Vault {vault_id} has a backup in progress; delete it when the backup has finished.");
            case RemovalProblem.UsedByImage:
                return CbrErrors.InUse($"A backup in vault {vault_id} was used to create an image; delete the image first.");
        }
        await BackupRemoval.DeleteAsync(write, caller.ProjectId, backupIds, ct);
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            DELETE FROM checkpoints WHERE vault_id = @vault_id AND project_id = @projectId
              AND NOT EXISTS (SELECT 1 FROM backups b WHERE b.checkpoint_id = checkpoints.id);
            DELETE FROM vault_resources WHERE vault_id = @vault_id;
            DELETE FROM vaults WHERE id = @vault_id AND project_id = @projectId;
            """,
            new { vault_id, projectId = caller.ProjectId }, write.Transaction, cancellationToken: ct));
        await write.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    private static async Task<IResult> AddResources(string vault_id, HttpContext http, Caller caller, Database db, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (request, error) = await JsonBody.ReadAsync<AddResourcesRequest>(http, ServiceKind.Cbr);
        if (error is not null) return error;
        if (request!.Resources is not { Count: > 0 } requested) return CbrErrors.BadRequest("resources must be a non-empty list.");

        await using var write = await db.BeginWriteAsync(ct);
        var vault = await Vaults.FindAsync(write.Connection, write.Transaction, caller.ProjectId, vault_id, ct);
        if (vault is null) return CbrErrors.VaultNotFound(vault_id);
        var (resources, resourceError) = await ValidateNewResourcesAsync(write, caller.ProjectId, vault_id, vault.ObjectType, requested, ct);
        if (resourceError is not null) return resourceError;
        if (await InsertResourcesAsync(write, db, vault_id, resources, time.GetUtcNow().ToUnixTimeMilliseconds(), ct) is { } conflict)
            return conflict;
        await write.CommitAsync(ct);
        return TypedResults.Json(new { add_resource_ids = resources.Select(r => r.Id).ToList() });
    }

    private static async Task<IResult> RemoveResources(string vault_id, HttpContext http, Caller caller, Database db)
    {
        var ct = http.RequestAborted;
        var (request, error) = await JsonBody.ReadAsync<RemoveResourcesRequest>(http, ServiceKind.Cbr);
        if (error is not null) return error;
        if (request!.ResourceIds is not { Count: > 0 } ids || ids.Any(string.IsNullOrEmpty))
            return CbrErrors.BadRequest("resource_ids must be a non-empty list of resource ids.");
        if (ids.Distinct(StringComparer.Ordinal).Count() != ids.Count)
            return CbrErrors.DuplicateResource(ids.GroupBy(i => i, StringComparer.Ordinal).First(g => g.Count() > 1).Key);

        await using var write = await db.BeginWriteAsync(ct);
        var vault = await Vaults.FindAsync(write.Connection, write.Transaction, caller.ProjectId, vault_id, ct);
        if (vault is null) return CbrErrors.VaultNotFound(vault_id);
        var present = (await write.Connection.QueryAsync<string>(new CommandDefinition(
            "SELECT resource_id FROM vault_resources WHERE vault_id = @vault_id AND resource_id IN @ids",
            new { vault_id, ids }, write.Transaction, cancellationToken: ct))).ToHashSet(StringComparer.Ordinal);
        if (ids.FirstOrDefault(id => !present.Contains(id)) is { } missing)
            return CbrErrors.ResourceNotFound("resource in this vault", missing);
        await write.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM vault_resources WHERE vault_id = @vault_id AND resource_id IN @ids",
            new { vault_id, ids }, write.Transaction, cancellationToken: ct));
        await write.CommitAsync(ct);
        return TypedResults.Json(new { remove_resource_ids = ids });
    }

    /// <summary>Backup policies are not supported: every vault has none, which clients treat as "no policy bound".</summary>
    private static IResult ListPolicies() => TypedResults.Json(new { policies = Array.Empty<object>() });

    private static async Task<IResult> TagAction(string vault_id, HttpContext http, Caller caller, Database db, TimeProvider time)
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
        return await ChangeTagsAsync(vault_id, caller, db, time, tags =>
        {
            var keys = changes.Select(c => c.Key).ToHashSet(StringComparer.Ordinal);
            var kept = tags.Where(t => !keys.Contains(t.Key));
            return request.Action == "create" ? [.. kept, .. changes] : [.. kept];
        }, ct);
    }

    private static async Task<IResult> ListTags(string vault_id, HttpContext http, Caller caller, Database db)
    {
        var ct = http.RequestAborted;
        await using var conn = await db.OpenAsync(ct);
        var vault = await Vaults.FindAsync(conn, null, caller.ProjectId, vault_id, ct);
        if (vault is null) return CbrErrors.VaultNotFound(vault_id);
        return TypedResults.Json(new { tags = Vaults.ParseTags(vault.Tags) });
    }

    private static async Task<IResult> CreateTag(string vault_id, HttpContext http, Caller caller, Database db, TimeProvider time)
    {
        var (request, error) = await JsonBody.ReadAsync<SingleTagRequest>(http, ServiceKind.Cbr);
        if (error is not null) return error;
        if (request!.Tag is null) return CbrErrors.BadRequest("tag is required.");
        if (ValidateTags([request.Tag], out var added) is { } tagError) return tagError;
        return await ChangeTagsAsync(vault_id, caller, db, time,
            tags => [.. tags.Where(t => t.Key != added[0].Key), added[0]], http.RequestAborted);
    }

    private static async Task<IResult> DeleteTag(string vault_id, string key, HttpContext http, Caller caller, Database db, TimeProvider time)
    {
        return await ChangeTagsAsync(vault_id, caller, db, time,
            tags => tags.Any(t => t.Key == key) ? [.. tags.Where(t => t.Key != key)] : null, http.RequestAborted,
            missingTag: key);
    }

    private static async Task<IResult> ChangeTagsAsync(string vaultId, Caller caller, Database db, TimeProvider time,
        Func<IReadOnlyList<TagWire>, List<TagWire>?> change, CancellationToken ct, string? missingTag = null)
    {
        await using var write = await db.BeginWriteAsync(ct);
        var vault = await Vaults.FindAsync(write.Connection, write.Transaction, caller.ProjectId, vaultId, ct);
        if (vault is null) return CbrErrors.VaultNotFound(vaultId);
        var tags = change(Vaults.ParseTags(vault.Tags));
        if (tags is null) return CbrErrors.ResourceNotFound("tag", missingTag ?? "");
        if (tags.Count > 10) return CbrErrors.BadRequest("A vault can have at most 10 tags.");
        await write.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE vaults SET tags = @tags, updated_at = @now WHERE id = @vaultId AND project_id = @projectId",
            new { vaultId, projectId = caller.ProjectId, tags = Vaults.SerializeTags(tags), now = time.GetUtcNow().ToUnixTimeMilliseconds() },
            write.Transaction, cancellationToken: ct));
        await write.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    // ----- validation ---------------------------------------------------------------------------------------------

    private sealed record NewResource(string Id, string Type, string Name, string ExcludeVolumes, string IncludeVolumes);

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
    private static async Task<(List<NewResource> Resources, ApiError? Error)> ValidateNewResourcesAsync(WriteScope write,
        string projectId, string vaultId, string objectType, List<ResourceBody> requested, CancellationToken ct)
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
        var names = (await write.Connection.QueryAsync<(string Id, string Name)>(new CommandDefinition(
            expectedType == Vaults.ServerType
                ? "SELECT id, name FROM servers WHERE id IN @ids AND project_id = @projectId AND status <> 'DELETED'"
                : expectedType == Vaults.VolumeType
                    ? "SELECT id, name FROM volumes WHERE id IN @ids AND project_id = @projectId AND status <> 'deleting'"
                    : "SELECT id, name FROM volumes WHERE 1 = 0",
            new { ids, projectId }, write.Transaction, cancellationToken: ct))).ToDictionary(r => r.Id, r => r.Name, StringComparer.Ordinal);
        if (ids.FirstOrDefault(id => !names.ContainsKey(id)) is { } missing)
            return ([], CbrErrors.ResourceNotFound("resource", missing));

        var owners = (await write.Connection.QueryAsync<(string ResourceId, string VaultId)>(new CommandDefinition(
            "SELECT resource_id, vault_id FROM vault_resources WHERE resource_id IN @ids",
            new { ids }, write.Transaction, cancellationToken: ct))).AsList();
        if (owners.Count > 0)
        {
            var (resourceId, ownerVault) = owners[0];
            return ([], ownerVault == vaultId ? CbrErrors.DuplicateResource(resourceId) : CbrErrors.AlreadyInOtherVault(resourceId));
        }

        var result = new List<NewResource>();
        foreach (var resource in requested)
        {
            var excluded = resource.ExtraInfo?.ExcludeVolumes ?? [];
            if (excluded.Count > 0)
            {
                var attached = (await write.Connection.QueryAsync<string>(new CommandDefinition(
                    "SELECT volume_id FROM volume_attachments WHERE server_id = @serverId",
                    new { serverId = resource.Id }, write.Transaction, cancellationToken: ct))).ToHashSet(StringComparer.Ordinal);
                if (excluded.FirstOrDefault(v => !attached.Contains(v)) is { } stray)
                    return ([], CbrErrors.BadRequest($"Volume {stray} is not attached to server {resource.Id}."));
            }
            var included = (resource.ExtraInfo?.IncludeVolumes ?? []).Select(v => new IncludeVolumeWire(v.Id!, v.OsVersion ?? ""));
            result.Add(new NewResource(resource.Id!, resource.Type!, names[resource.Id!],
                JsonSerializer.Serialize(excluded.Distinct(StringComparer.Ordinal)), JsonSerializer.Serialize(included)));
        }
        return (result, null);
    }

    /// <summary>Inserts associations; the unique index on resource_id settles a race with another vault.</summary>
    private static async Task<ApiError?> InsertResourcesAsync(WriteScope write, Database db, string vaultId,
        IReadOnlyList<NewResource> resources, long now, CancellationToken ct)
    {
        foreach (var resource in resources)
        {
            try
            {
                await write.Connection.ExecuteAsync(new CommandDefinition(
                    """
                    INSERT INTO vault_resources (vault_id, resource_id, resource_type, name, exclude_volumes, include_volumes, added_at)
                    VALUES (@vaultId, @Id, @Type, @Name, @ExcludeVolumes, @IncludeVolumes, @now)
                    """,
                    new { vaultId, resource.Id, resource.Type, resource.Name, resource.ExcludeVolumes, resource.IncludeVolumes, now },
                    write.Transaction, cancellationToken: ct));
            }
            catch (Exception ex) when (db.IsUniqueViolation(ex))
            {
                return CbrErrors.AlreadyInOtherVault(resource.Id);
            }
        }
        return null;
    }

    private static async Task<VaultWire> RenderOneAsync(WriteScope write, string projectId, string vaultId, CancellationToken ct)
    {
        var row = await Vaults.FindAsync(write.Connection, write.Transaction, projectId, vaultId, ct)
            ?? throw new InvalidOperationException($"Vault {vaultId} vanished inside its own transaction.");
        return (await Vaults.RenderAsync(write.Connection, write.Transaction, [row], ct))[0];
    }

    private static int Flag(bool? value) => value == true ? 1 : 0;

    private static int? OptionalFlag(bool? value) => value is null ? null : value.Value ? 1 : 0;
}
