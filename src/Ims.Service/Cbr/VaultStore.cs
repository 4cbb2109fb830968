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
