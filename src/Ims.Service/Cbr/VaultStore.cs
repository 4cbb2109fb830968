using Ims.Service.Storage;

namespace Ims.Service.Cbr;

/// <summary>The vaults aggregate: <c>vaults</c> and <c>vault_resources</c>. The only code that touches those tables.</summary>
public sealed class VaultStore(Database db)
{
    private const string Columns =
        "id, project_id AS ProjectId, name, description, object_type AS ObjectType, protect_type AS ProtectType, " +
        "consistent_level AS ConsistentLevel, size_gb AS SizeGb, is_multi_az AS IsMultiAz, auto_bind AS AutoBind, " +
        "auto_expand AS AutoExpand, locked, status, enterprise_project_id AS EnterpriseProjectId, " +
        "backup_name_prefix AS BackupNamePrefix, tags, created_at AS CreatedAt, updated_at AS UpdatedAt";

    private const string SelectOne = $"SELECT {Columns} FROM vaults WHERE id = @vaultId AND project_id = @projectId";

    public Task<VaultRow?> GetAsync(string projectId, string vaultId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<VaultRow>(SelectOne, new { vaultId, projectId }, ct);

    public Task<VaultRow?> GetAsync(WriteScope tx, string projectId, string vaultId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<VaultRow>(SelectOne, new { vaultId, projectId }, ct);

    public async Task<(IReadOnlyList<VaultRow> Page, long Count)> ListAsync(string projectId, VaultFilter filter, int offset, int limit,
        CancellationToken ct)
    {
        var where = new SqlConditions("project_id = @projectId", new { projectId, offset, limit });
        where.Equal("id", filter.Id);
        where.Equal("name", filter.Name);
        where.Equal("object_type", filter.ObjectType);
        where.Equal("protect_type", filter.ProtectType);
        where.Equal("status", filter.Status);
        if (filter.ResourceIds is { Count: > 0 } resourceIds)
            where.Add("id IN (SELECT vault_id FROM vault_resources WHERE resource_id IN @resourceIds)", "resourceIds", resourceIds);
        var clause = where.ToString();
        var args = where.Args;
        var count = await db.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM vaults WHERE {clause}", args, ct);
        var page = await db.QueryAsync<VaultRow>(
            $"SELECT {Columns} FROM vaults WHERE {clause} ORDER BY created_at DESC, id DESC LIMIT @limit OFFSET @offset", args, ct);
        return (page, count);
    }

    /// <summary>
    /// The resources of the vaults, oldest association first, named and sized as they are now (a server's name and the
    /// sum of its attached disks, or a disk's name and size; the name recorded at association once the resource is gone).
    /// </summary>
    public async Task<IReadOnlyList<VaultResourceRow>> GetResourcesAsync(IReadOnlyCollection<string> vaultIds, CancellationToken ct) =>
        vaultIds.Count == 0 ? [] : await db.QueryAsync<VaultResourceRow>(SelectResources, new { vaultIds }, ct);

    public async Task<IReadOnlyList<VaultResourceRow>> GetResourcesAsync(WriteScope tx, IReadOnlyCollection<string> vaultIds, CancellationToken ct) =>
        vaultIds.Count == 0 ? [] : await tx.QueryAsync<VaultResourceRow>(SelectResources, new { vaultIds }, ct);

    // A read-only view across aggregates: names and sizes are the servers' and volumes' own, never copied.
    private const string SelectResources =
        """
        SELECT r.vault_id AS VaultId, r.resource_id AS ResourceId, r.resource_type AS ResourceType,
               COALESCE((SELECT s.name FROM servers s WHERE s.id = r.resource_id),
                        (SELECT v.name FROM volumes v WHERE v.id = r.resource_id), r.name) AS Name,
               r.exclude_volumes AS ExcludeVolumes, r.include_volumes AS IncludeVolumes,
               COALESCE((SELECT SUM(v.size_gb) FROM volume_attachments a JOIN volumes v ON v.id = a.volume_id
                          WHERE a.server_id = r.resource_id),
                        (SELECT v.size_gb FROM volumes v WHERE v.id = r.resource_id), 0) AS Size
        FROM vault_resources r
        WHERE r.vault_id IN @vaultIds
        ORDER BY r.added_at, r.resource_id
        """;

    /// <summary>The vault each of the resources is associated with, as (resource, vault).</summary>
    public async Task<IReadOnlyList<(string ResourceId, string VaultId)>> GetVaultsOfResourcesAsync(WriteScope tx,
        IReadOnlyCollection<string> resourceIds, CancellationToken ct) =>
        await tx.QueryAsync<(string ResourceId, string VaultId)>(
            "SELECT resource_id, vault_id FROM vault_resources WHERE resource_id IN @resourceIds", new { resourceIds }, ct);

    public async Task InsertAsync(WriteScope tx, VaultRow vault, CancellationToken ct) =>
        await tx.ExecuteAsync(
            """
            INSERT INTO vaults (id, project_id, name, description, object_type, protect_type, consistent_level, size_gb,
                                is_multi_az, auto_bind, auto_expand, locked, status, enterprise_project_id,
                                backup_name_prefix, tags, created_at, updated_at)
            VALUES (@Id, @ProjectId, @Name, @Description, @ObjectType, @ProtectType, @ConsistentLevel, @SizeGb,
                    @IsMultiAz, @AutoBind, @AutoExpand, @Locked, @Status, @EnterpriseProjectId,
                    @BackupNamePrefix, @Tags, @CreatedAt, @UpdatedAt)
            """, vault, ct);

    /// <summary>Changes the given attributes (null: unchanged).</summary>
    public Task UpdateAsync(WriteScope tx, string projectId, string vaultId, VaultChange change, long now, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            UPDATE vaults SET name = COALESCE(@Name, name), description = COALESCE(@Description, description),
                size_gb = COALESCE(@SizeGb, size_gb), auto_bind = COALESCE(@AutoBind, auto_bind),
                auto_expand = COALESCE(@AutoExpand, auto_expand), locked = COALESCE(@Locked, locked), updated_at = @now
            WHERE id = @vaultId AND project_id = @projectId
            """,
            new { change.Name, change.Description, change.SizeGb, change.AutoBind, change.AutoExpand, change.Locked, now, vaultId, projectId }, ct);

    public Task SetTagsAsync(WriteScope tx, string projectId, string vaultId, string tags, long now, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE vaults SET tags = @tags, updated_at = @now WHERE id = @vaultId AND project_id = @projectId",
            new { vaultId, projectId, tags, now }, ct);

    /// <summary>Deletes the vault and its associations (its backups go first, through the backup store).</summary>
    public async Task DeleteAsync(WriteScope tx, string projectId, string vaultId, CancellationToken ct)
    {
        await tx.ExecuteAsync("DELETE FROM vault_resources WHERE vault_id = @vaultId", new { vaultId }, ct);
        await tx.ExecuteAsync("DELETE FROM vaults WHERE id = @vaultId AND project_id = @projectId", new { vaultId, projectId }, ct);
    }

    /// <summary>Which of <paramref name="resourceIds"/> the vault holds.</summary>
    public async Task<IReadOnlySet<string>> GetResourceIdsInAsync(WriteScope tx, string vaultId, IReadOnlyCollection<string> resourceIds,
        CancellationToken ct) =>
        (await tx.QueryAsync<string>("SELECT resource_id FROM vault_resources WHERE vault_id = @vaultId AND resource_id IN @resourceIds",
            new { vaultId, resourceIds }, ct)).ToHashSet(StringComparer.Ordinal);

    public Task RemoveResourcesAsync(WriteScope tx, string vaultId, IReadOnlyCollection<string> resourceIds, CancellationToken ct) =>
        tx.ExecuteAsync("DELETE FROM vault_resources WHERE vault_id = @vaultId AND resource_id IN @resourceIds", new { vaultId, resourceIds }, ct);

    /// <summary>The vault a resource (server or disk) is associated with, or null.</summary>
    public Task<string?> GetVaultOfResourceAsync(WriteScope tx, string resourceId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<string>("SELECT vault_id FROM vault_resources WHERE resource_id = @resourceId", new { resourceId }, ct);

    /// <summary>
    /// Associates resources with a vault. A resource belongs to at most one vault, and the unique index on
    /// <c>resource_id</c> settles a race with another request: the first resource that another vault took meanwhile is
    /// returned (nothing more is written, and on PostgreSQL the transaction can only be rolled back); null when all were added.
    /// </summary>
    public async Task<string?> AddResourcesAsync(WriteScope tx, string vaultId, IReadOnlyList<NewVaultResource> resources, long now,
        CancellationToken ct)
    {
        foreach (var resource in resources)
        {
            try
            {
                await tx.ExecuteAsync(
                    """
                    INSERT INTO vault_resources (vault_id, resource_id, resource_type, name, exclude_volumes, include_volumes, added_at)
                    VALUES (@vaultId, @Id, @Type, @Name, @ExcludeVolumes, @IncludeVolumes, @now)
                    """,
                    new { vaultId, resource.Id, resource.Type, resource.Name, resource.ExcludeVolumes, resource.IncludeVolumes, now }, ct);
            }
            catch (Exception ex) when (db.IsUniqueViolation(ex))
            {
                return resource.Id;
            }
        }
        return null;
    }
}

/// <summary>A resource to associate with a vault; the volume lists are JSON arrays.</summary>
public sealed record NewVaultResource(string Id, string Type, string Name, string ExcludeVolumes = "[]", string IncludeVolumes = "[]");

/// <summary>The attributes a vault update changes; null leaves one as it is. Flags are 0 or 1.</summary>
public sealed record VaultChange(string? Name, string? Description, long? SizeGb, int? AutoBind, int? AutoExpand, int? Locked);
