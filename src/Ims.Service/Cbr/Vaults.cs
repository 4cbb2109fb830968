using System.Data.Common;
using System.Text.Json;
using Dapper;
using Ims.Service.Http;

namespace Ims.Service.Cbr;

public sealed record VaultRow
{
    public string Id { get; init; } = "";
    public string ProjectId { get; init; } = "";
    public string Name { get; init; } = "";
    public string Description { get; init; } = "";
    public string ObjectType { get; init; } = "";
    public string ProtectType { get; init; } = "";
    public string ConsistentLevel { get; init; } = "";
    public long SizeGb { get; init; }
    public long IsMultiAz { get; init; }
    public long AutoBind { get; init; }
    public long AutoExpand { get; init; }
    public long Locked { get; init; }
    public string Status { get; init; } = "";
    public string EnterpriseProjectId { get; init; } = "0";
    public string BackupNamePrefix { get; init; } = "";
    public string Tags { get; init; } = "[]";
    public long CreatedAt { get; init; }
    public long UpdatedAt { get; init; }
}

public sealed record VaultResourceRow
{
    public string VaultId { get; init; } = "";
    public string ResourceId { get; init; } = "";
    public string ResourceType { get; init; } = "";
    public string Name { get; init; } = "";
    public string ExcludeVolumes { get; init; } = "[]";
    public string IncludeVolumes { get; init; } = "[]";
    /// <summary>GB: the sum of a server's attached disks, or a volume's size.</summary>
    public long Size { get; init; }
}

/// <summary>Vault reads: rows, their resources, their backup usage, and the wire view of all that.</summary>
public static class Vaults
{
    public const string ServerType = "OS::Nova::Server";
    public const string VolumeType = "OS::Cinder::Volume";
    public const string TurboType = "OS::Sfs::Turbo";

    private const string Columns =
        "id, project_id AS ProjectId, name, description, object_type AS ObjectType, protect_type AS ProtectType, " +
        "consistent_level AS ConsistentLevel, size_gb AS SizeGb, is_multi_az AS IsMultiAz, auto_bind AS AutoBind, " +
        "auto_expand AS AutoExpand, locked, status, enterprise_project_id AS EnterpriseProjectId, " +
        "backup_name_prefix AS BackupNamePrefix, tags, created_at AS CreatedAt, updated_at AS UpdatedAt";

    /// <summary>The resource type a vault of each <c>object_type</c> protects.</summary>
    public static string ResourceTypeOf(string objectType) => objectType switch
    {
        "server" => ServerType,
        "disk" => VolumeType,
        _ => TurboType,
    };

    /// <summary>CBR's provider ids, one per kind of protected resource (the same constants the real service returns).</summary>
    public static string ProviderIdOf(string objectType) => objectType switch
    {
        "server" => "0daac4c5-6707-4851-97ba-169e36266b66",
        "disk" => "d1603440-187d-4516-af25-121250c7cc97",
        _ => "3f3c3220-245c-4805-b811-758870015881",
    };

    public static async Task<VaultRow?> FindAsync(DbConnection conn, DbTransaction? tx, string projectId, string vaultId, CancellationToken ct) =>
        await conn.QuerySingleOrDefaultAsync<VaultRow>(new CommandDefinition(
            $"SELECT {Columns} FROM vaults WHERE id = @vaultId AND project_id = @projectId",
            new { vaultId, projectId }, tx, cancellationToken: ct));

    public static async Task<(IReadOnlyList<VaultRow> Page, long Count)> ListAsync(DbConnection conn, string projectId,
        VaultFilter filter, int offset, int limit, CancellationToken ct)
    {
        var where = new List<string> { "project_id = @projectId" };
        var args = new DynamicParameters(new { projectId, offset, limit });
        void Add(string? value, string column)
        {
            if (string.IsNullOrEmpty(value)) return;
            where.Add($"{column} = @{column}");
            args.Add(column, value);
        }
        Add(filter.Id, "id");
        Add(filter.Name, "name");
        Add(filter.ObjectType, "object_type");
        Add(filter.ProtectType, "protect_type");
        Add(filter.Status, "status");
        if (filter.ResourceIds is { Count: > 0 } resourceIds)
        {
            where.Add("id IN (SELECT vault_id FROM vault_resources WHERE resource_id IN @resourceIds)");
            args.Add("resourceIds", resourceIds);
        }
        var clause = string.Join(" AND ", where);
        var count = await conn.ExecuteScalarAsync<long>(new CommandDefinition(
            $"SELECT COUNT(*) FROM vaults WHERE {clause}", args, cancellationToken: ct));
        var page = await conn.QueryAsync<VaultRow>(new CommandDefinition(
            $"SELECT {Columns} FROM vaults WHERE {clause} ORDER BY created_at DESC, id DESC LIMIT @limit OFFSET @offset",
            args, cancellationToken: ct));
        return (page.AsList(), count);
    }

    public static async Task<IReadOnlyList<VaultResourceRow>> ResourcesAsync(DbConnection conn, DbTransaction? tx,
        IReadOnlyCollection<string> vaultIds, CancellationToken ct)
    {
        if (vaultIds.Count == 0) return [];
        var rows = await conn.QueryAsync<VaultResourceRow>(new CommandDefinition(
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
            """,
            new { vaultIds }, tx, cancellationToken: ct));
        return rows.AsList();
    }

    /// <summary>The wire view of vaults, with their resources and backup usage loaded in a few set-based reads.</summary>
    public static async Task<IReadOnlyList<VaultWire>> RenderAsync(DbConnection conn, DbTransaction? tx, IReadOnlyList<VaultRow> vaults,
        CancellationToken ct)
    {
        var ids = vaults.Select(v => v.Id).ToArray();
        var resources = (await ResourcesAsync(conn, tx, ids, ct)).ToLookup(r => r.VaultId);
        var usage = (await conn.QueryAsync<(string VaultId, string ResourceId, long Count, long SizeGb)>(new CommandDefinition(
            """
            SELECT vault_id, resource_id, COUNT(*), COALESCE(SUM(resource_size), 0)
            FROM backups
            WHERE vault_id IN @ids AND service = 'CBR' AND status = 'available'
            GROUP BY vault_id, resource_id
            """,
            new { ids }, tx, cancellationToken: ct))).AsList();
        return vaults.Select(vault =>
        {
            var own = usage.Where(u => u.VaultId == vault.Id).ToDictionary(u => u.ResourceId, StringComparer.Ordinal);
            var vaultResources = resources[vault.Id].ToList();
            return new VaultWire
            {
                Id = vault.Id,
                Name = vault.Name,
                Description = vault.Description,
                ProjectId = vault.ProjectId,
                ProviderId = ProviderIdOf(vault.ObjectType),
                CreatedAt = WireTime.MicrosNoZone(vault.CreatedAt),
                EnterpriseProjectId = vault.EnterpriseProjectId,
                AutoBind = vault.AutoBind != 0,
                AutoExpand = vault.AutoExpand != 0,
                Locked = vault.Locked != 0,
                BackupNamePrefix = vault.BackupNamePrefix,
                BindRules = new BindRulesWire([]),
                Tags = ParseTags(vault.Tags),
                Resources = vaultResources.Select(r => new VaultResourceWire
                {
                    Id = r.ResourceId,
                    Type = r.ResourceType,
                    Name = r.Name,
                    Size = r.Size,
                    BackupCount = own.TryGetValue(r.ResourceId, out var u) ? u.Count : 0,
                    BackupSize = own.TryGetValue(r.ResourceId, out var s) ? s.SizeGb * 1024 : 0,
                    ExtraInfo = new ResourceExtraInfoWire(
                        JsonSerializer.Deserialize<List<string>>(r.ExcludeVolumes) ?? [],
                        JsonSerializer.Deserialize<List<IncludeVolumeWire>>(r.IncludeVolumes) ?? []),
                }).ToList(),
                Billing = new BillingWire
                {
                    Allocated = vaultResources.Sum(r => r.Size) * 1024,
                    ConsistentLevel = vault.ConsistentLevel,
                    ObjectType = vault.ObjectType,
                    ProtectType = vault.ProtectType,
                    Size = vault.SizeGb,
                    SpecCode = $"vault.{vault.ProtectType}.{(vault.ObjectType == "disk" ? "volume" : vault.ObjectType)}.normal",
                    Status = vault.Status,
                    Used = own.Values.Sum(u => u.SizeGb) * 1024,
                    IsMultiAz = vault.IsMultiAz != 0,
                },
            };
        }).ToList();
    }

    public static IReadOnlyList<TagWire> ParseTags(string json) => JsonSerializer.Deserialize<List<TagWire>>(json) ?? [];

    public static string SerializeTags(IEnumerable<TagWire> tags) => JsonSerializer.Serialize(tags);
}

/// <summary>The list filters CBR clients send (<c>GET /v3/{project_id}/vaults</c>).</summary>
public sealed record VaultFilter(string? Id, string? Name, string? ObjectType, string? ProtectType, string? Status,
    IReadOnlyList<string>? ResourceIds);
