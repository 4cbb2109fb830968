using System.Text.Json;
using Ims.Service.Backups;
using Ims.Service.Http;
using Ims.Service.Storage;

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

/// <summary>What vaults are on the wire: resource types, provider ids, tags, and the view of a vault with its resources and usage.</summary>
public static class Vaults
{
    public const string ServerType = "OS::Nova::Server";
    public const string VolumeType = "OS::Cinder::Volume";
    public const string TurboType = "OS::Sfs::Turbo";

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

    /// <summary>
    /// The one capacity rule for every path that puts backups into a vault (CBR checkpoints of server and disk vaults,
    /// policy runs, whole images taken into a vault, cross-region replicas): what the vault's backups occupy
    /// (<see cref="BackupStore.UsedGbAsync"/>, those being captured included) plus <paramref name="moreGb"/>, the sizes of
    /// the resources about to be backed up, must fit its size. Call it in the transaction that writes the new backups:
    /// the vault's capacity lock it takes keeps a concurrent writer out until that commits.
    /// </summary>
    public static async Task<VaultRoom> CheckRoomAsync(WriteScope tx, BackupStore backups, VaultRow vault, long moreGb, CancellationToken ct) =>
        new(vault.Id, await backups.UsedGbAsync(tx, vault.Id, ct), moreGb, vault.SizeGb);

    /// <summary><see cref="CheckRoomAsync"/> when only the answer matters (IMS answers its own code).</summary>
    public static async Task<bool> HasRoomAsync(WriteScope tx, BackupStore backups, VaultRow vault, long moreGb, CancellationToken ct) =>
        (await CheckRoomAsync(tx, backups, vault, moreGb, ct)).Fits;

    /// <summary>The wire view of vaults, with their resources and backup usage loaded in a few set-based reads.</summary>
    public static async Task<IReadOnlyList<VaultWire>> RenderAsync(VaultStore store, BackupStore backups, IReadOnlyList<VaultRow> vaults,
        CancellationToken ct)
    {
        var ids = vaults.Select(v => v.Id).ToArray();
        return Render(vaults, await store.GetResourcesAsync(ids, ct), await backups.UsageByResourceAsync(ids, ct));
    }

    /// <summary><see cref="RenderAsync(VaultStore, BackupStore, IReadOnlyList{VaultRow}, CancellationToken)"/> inside a transaction.</summary>
    public static async Task<IReadOnlyList<VaultWire>> RenderAsync(WriteScope tx, VaultStore store, BackupStore backups,
        IReadOnlyList<VaultRow> vaults, CancellationToken ct)
    {
        var ids = vaults.Select(v => v.Id).ToArray();
        return Render(vaults, await store.GetResourcesAsync(tx, ids, ct), await backups.UsageByResourceAsync(tx, ids, ct));
    }

    private static List<VaultWire> Render(IReadOnlyList<VaultRow> vaults, IReadOnlyList<VaultResourceRow> resourceRows,
        IReadOnlyList<VaultUsage> usage)
    {
        var resources = resourceRows.ToLookup(r => r.VaultId);
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

/// <summary>What a vault holds and would hold with <see cref="MoreGb"/> more (GB), against its size.</summary>
public sealed record VaultRoom(string VaultId, long UsedGb, long MoreGb, long SizeGb)
{
    public bool Fits => UsedGb + MoreGb <= SizeGb;

    /// <summary>CBR's refusal (<c>BackupService.6114</c>) for backups that do not fit.</summary>
    public ApiError Refusal => CbrErrors.VaultFull(VaultId, UsedGb, MoreGb, SizeGb);
}

/// <summary>The list filters CBR clients send (<c>GET /v3/{project_id}/vaults</c>).</summary>
public sealed record VaultFilter(string? Id, string? Name, string? ObjectType, string? ProtectType, string? Status,
    IReadOnlyList<string>? ResourceIds);
