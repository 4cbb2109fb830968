using System.Text.Json.Serialization;

namespace Ims.Service.Cbr;

// CBR v3 wire contract. Types follow what clients decode: GSDK/GTC and Huawei SDK v3 type billing.allocated/used,
// size, backup_size and backup_count of vault resources as integers, every field of a checkpoint resource as a
// string, and a backup's resource_size as an integer. Dates are "2020-02-05T10:38:34.209782" (no zone), as the
// CBR reference shows them.

// ----- requests -----------------------------------------------------------------------------------------------

public sealed record VaultCreateRequest
{
    [JsonPropertyName("vault")] public VaultCreateBody? Vault { get; init; }
}

public sealed record VaultCreateBody
{
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
    [JsonPropertyName("billing")] public BillingCreateBody? Billing { get; init; }
    [JsonPropertyName("resources")] public List<ResourceBody>? Resources { get; init; }
    [JsonPropertyName("tags")] public List<TagBody>? Tags { get; init; }
    [JsonPropertyName("enterprise_project_id")] public string? EnterpriseProjectId { get; init; }
    [JsonPropertyName("auto_bind")] public bool? AutoBind { get; init; }
    [JsonPropertyName("auto_expand")] public bool? AutoExpand { get; init; }
    [JsonPropertyName("locked")] public bool? Locked { get; init; }
    [JsonPropertyName("backup_policy_id")] public string? BackupPolicyId { get; init; }
    [JsonPropertyName("bind_rules")] public BindRulesBody? BindRules { get; init; }
    [JsonPropertyName("backup_name_prefix")] public string? BackupNamePrefix { get; init; }
}

public sealed record BillingCreateBody
{
    [JsonPropertyName("object_type")] public string? ObjectType { get; init; }
    [JsonPropertyName("consistent_level")] public string? ConsistentLevel { get; init; }
    [JsonPropertyName("protect_type")] public string? ProtectType { get; init; }
    [JsonPropertyName("size")] public int? Size { get; init; }
    [JsonPropertyName("charging_mode")] public string? ChargingMode { get; init; }
    [JsonPropertyName("cloud_type")] public string? CloudType { get; init; }
    [JsonPropertyName("is_multi_az")] public bool? IsMultiAz { get; init; }
}

public sealed record ResourceBody
{
    [JsonPropertyName("id")] public string? Id { get; init; }
    [JsonPropertyName("type")] public string? Type { get; init; }
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("extra_info")] public ResourceExtraInfoBody? ExtraInfo { get; init; }
}

public sealed record ResourceExtraInfoBody
{
    [JsonPropertyName("exclude_volumes")] public List<string>? ExcludeVolumes { get; init; }
    [JsonPropertyName("include_volumes")] public List<IncludeVolume>? IncludeVolumes { get; init; }
}

public sealed record IncludeVolume
{
    [JsonPropertyName("id")] public string? Id { get; init; }
    [JsonPropertyName("os_version")] public string? OsVersion { get; init; }
}

public sealed record TagBody
{
    [JsonPropertyName("key")] public string? Key { get; init; }
    [JsonPropertyName("value")] public string? Value { get; init; }
}

public sealed record BindRulesBody
{
    [JsonPropertyName("tags")] public List<TagBody>? Tags { get; init; }
}

public sealed record VaultUpdateRequest
{
    [JsonPropertyName("vault")] public VaultUpdateBody? Vault { get; init; }
}

public sealed record VaultUpdateBody
{
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
    [JsonPropertyName("billing")] public BillingUpdateBody? Billing { get; init; }
    [JsonPropertyName("auto_bind")] public bool? AutoBind { get; init; }
    [JsonPropertyName("auto_expand")] public bool? AutoExpand { get; init; }
    [JsonPropertyName("locked")] public bool? Locked { get; init; }
    [JsonPropertyName("bind_rules")] public BindRulesBody? BindRules { get; init; }
}

public sealed record BillingUpdateBody
{
    [JsonPropertyName("size")] public int? Size { get; init; }
}

public sealed record AddResourcesRequest
{
    [JsonPropertyName("resources")] public List<ResourceBody>? Resources { get; init; }
}

public sealed record RemoveResourcesRequest
{
    [JsonPropertyName("resource_ids")] public List<string>? ResourceIds { get; init; }
}

public sealed record TagActionRequest
{
    [JsonPropertyName("action")] public string? Action { get; init; }
    [JsonPropertyName("tags")] public List<TagBody>? Tags { get; init; }
}

public sealed record SingleTagRequest
{
    [JsonPropertyName("tag")] public TagBody? Tag { get; init; }
}

public sealed record CheckpointCreateRequest
{
    [JsonPropertyName("checkpoint")] public CheckpointCreateBody? Checkpoint { get; init; }
}

public sealed record CheckpointCreateBody
{
    [JsonPropertyName("vault_id")] public string? VaultId { get; init; }
    [JsonPropertyName("parameters")] public CheckpointParameters? Parameters { get; init; }
}

public sealed record CheckpointParameters
{
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
    [JsonPropertyName("incremental")] public bool? Incremental { get; init; }
    [JsonPropertyName("auto_trigger")] public bool? AutoTrigger { get; init; }
    [JsonPropertyName("resources")] public List<string>? Resources { get; init; }
    [JsonPropertyName("resource_details")] public List<ResourceBody>? ResourceDetails { get; init; }
}

// ----- responses ----------------------------------------------------------------------------------------------

public sealed record TagWire(
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("value")] string Value);

public sealed record VaultWire
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("description")] public required string Description { get; init; }
    [JsonPropertyName("project_id")] public required string ProjectId { get; init; }
    [JsonPropertyName("provider_id")] public required string ProviderId { get; init; }
    [JsonPropertyName("user_id")] public string UserId { get; init; } = "";
    [JsonPropertyName("created_at")] public required string CreatedAt { get; init; }
    [JsonPropertyName("enterprise_project_id")] public required string EnterpriseProjectId { get; init; }
    [JsonPropertyName("auto_bind")] public required bool AutoBind { get; init; }
    [JsonPropertyName("auto_expand")] public required bool AutoExpand { get; init; }
    [JsonPropertyName("locked")] public required bool Locked { get; init; }
    [JsonPropertyName("backup_name_prefix")] public required string BackupNamePrefix { get; init; }
    [JsonPropertyName("bind_rules")] public required BindRulesWire BindRules { get; init; }
    [JsonPropertyName("tags")] public required IReadOnlyList<TagWire> Tags { get; init; }
    [JsonPropertyName("resources")] public required IReadOnlyList<VaultResourceWire> Resources { get; init; }
    [JsonPropertyName("billing")] public required BillingWire Billing { get; init; }
}

public sealed record BindRulesWire([property: JsonPropertyName("tags")] IReadOnlyList<TagWire> Tags);

public sealed record BillingWire
{
    /// <summary>MB allocated to the vault's resources (their disks).</summary>
    [JsonPropertyName("allocated")] public required long Allocated { get; init; }
    [JsonPropertyName("charging_mode")] public string ChargingMode { get; init; } = "post_paid";
    [JsonPropertyName("cloud_type")] public string CloudType { get; init; } = "public";
    [JsonPropertyName("consistent_level")] public required string ConsistentLevel { get; init; }
    [JsonPropertyName("object_type")] public required string ObjectType { get; init; }
    [JsonPropertyName("protect_type")] public required string ProtectType { get; init; }
    [JsonPropertyName("size")] public required long Size { get; init; }
    [JsonPropertyName("spec_code")] public required string SpecCode { get; init; }
    [JsonPropertyName("status")] public required string Status { get; init; }
    [JsonPropertyName("storage_unit")] public string StorageUnit { get; init; } = "";
    /// <summary>MB used by the vault's backups.</summary>
    [JsonPropertyName("used")] public required long Used { get; init; }
    [JsonPropertyName("frozen_scene")] public string FrozenScene { get; init; } = "";
    [JsonPropertyName("is_multi_az")] public required bool IsMultiAz { get; init; }
}

public sealed record VaultResourceWire
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("type")] public required string Type { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("protect_status")] public string ProtectStatus { get; init; } = "available";
    /// <summary>GB allocated to the resource (the sum of a server's disks).</summary>
    [JsonPropertyName("size")] public required long Size { get; init; }
    [JsonPropertyName("backup_size")] public required long BackupSize { get; init; }
    [JsonPropertyName("backup_count")] public required long BackupCount { get; init; }
    [JsonPropertyName("extra_info")] public required ResourceExtraInfoWire ExtraInfo { get; init; }
}

public sealed record ResourceExtraInfoWire(
    [property: JsonPropertyName("exclude_volumes")] IReadOnlyList<string> ExcludeVolumes,
    [property: JsonPropertyName("include_volumes")] IReadOnlyList<IncludeVolumeWire> IncludeVolumes);

public sealed record IncludeVolumeWire(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("os_version")] string OsVersion);

public sealed record CheckpointWire
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("project_id")] public required string ProjectId { get; init; }
    [JsonPropertyName("status")] public required string Status { get; init; }
    [JsonPropertyName("created_at")] public required string CreatedAt { get; init; }
    [JsonPropertyName("vault")] public required CheckpointVaultWire Vault { get; init; }
    [JsonPropertyName("extra_info")] public required CheckpointExtraInfoWire ExtraInfo { get; init; }
}

public sealed record CheckpointVaultWire
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("resources")] public required IReadOnlyList<CheckpointResourceWire> Resources { get; init; }
    [JsonPropertyName("skipped_resources")] public required IReadOnlyList<SkippedResourceWire> SkippedResources { get; init; }
}

/// <summary>Every member is a string on the wire, sizes and counts included (typed so by GSDK, GTC and SDK v3).</summary>
public sealed record CheckpointResourceWire
{
    [JsonPropertyName("extra_info")] public string ExtraInfo { get; init; } = "{}";
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("protect_status")] public required string ProtectStatus { get; init; }
    [JsonPropertyName("resource_size")] public required string ResourceSize { get; init; }
    [JsonPropertyName("type")] public required string Type { get; init; }
    [JsonPropertyName("backup_size")] public required string BackupSize { get; init; }
    [JsonPropertyName("backup_count")] public required string BackupCount { get; init; }
}

public sealed record SkippedResourceWire(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("code")] string Code,
    [property: JsonPropertyName("reason")] string Reason);

public sealed record CheckpointExtraInfoWire(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("description")] string Description,
    [property: JsonPropertyName("retention_duration")] int RetentionDuration);

public sealed record BackupWire
{
    [JsonPropertyName("checkpoint_id")] public required string CheckpointId { get; init; }
    [JsonPropertyName("created_at")] public required string CreatedAt { get; init; }
    [JsonPropertyName("description")] public required string Description { get; init; }
    [JsonPropertyName("expired_at")] public string? ExpiredAt { get; init; }
    [JsonPropertyName("extend_info")] public required BackupExtendInfoWire ExtendInfo { get; init; }
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("image_type")] public string ImageType { get; init; } = "backup";
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("parent_id")] public string? ParentId { get; init; }
    [JsonPropertyName("project_id")] public required string ProjectId { get; init; }
    [JsonPropertyName("protected_at")] public string? ProtectedAt { get; init; }
    [JsonPropertyName("resource_az")] public required string ResourceAz { get; init; }
    [JsonPropertyName("resource_id")] public required string ResourceId { get; init; }
    [JsonPropertyName("resource_name")] public required string ResourceName { get; init; }
    [JsonPropertyName("resource_size")] public required long ResourceSize { get; init; }
    [JsonPropertyName("resource_type")] public required string ResourceType { get; init; }
    [JsonPropertyName("status")] public required string Status { get; init; }
    [JsonPropertyName("updated_at")] public required string UpdatedAt { get; init; }
    [JsonPropertyName("vault_id")] public required string VaultId { get; init; }
    [JsonPropertyName("provider_id")] public required string ProviderId { get; init; }
    [JsonPropertyName("enterprise_project_id")] public required string EnterpriseProjectId { get; init; }
    [JsonPropertyName("replication_records")] public IReadOnlyList<object> ReplicationRecords { get; init; } = [];

    /// <summary>One per captured disk on a server backup; absent on those per-disk children themselves.</summary>
    [JsonPropertyName("children")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<BackupWire>? Children { get; init; }
}

public sealed record BackupExtendInfoWire
{
    [JsonPropertyName("auto_trigger")] public bool AutoTrigger { get; init; }
    [JsonPropertyName("bootable")] public required bool Bootable { get; init; }
    [JsonPropertyName("incremental")] public required bool Incremental { get; init; }
    [JsonPropertyName("snapshot_id")] public string SnapshotId { get; init; } = "";
    [JsonPropertyName("support_lld")] public bool SupportLld { get; init; }
    [JsonPropertyName("supported_restore_mode")] public string SupportedRestoreMode { get; init; } = "backup";
    [JsonPropertyName("os_images_data")] public required IReadOnlyList<ImageDataWire> OsImagesData { get; init; }
    [JsonPropertyName("contain_system_disk")] public required bool ContainSystemDisk { get; init; }
    [JsonPropertyName("encrypted")] public bool Encrypted { get; init; }
    [JsonPropertyName("system_disk")] public required bool SystemDisk { get; init; }
    [JsonPropertyName("is_multi_az")] public bool IsMultiAz { get; init; }
}

public sealed record ImageDataWire([property: JsonPropertyName("image_id")] string ImageId);
