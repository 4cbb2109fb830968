using System.Text.Json.Serialization;

namespace Ims.Service.Csbs;

// CSBS v1 wire contract. Dates are "2017-04-18T01:21:52.701973" with NO zone (the Go clients decode them with a
// zone-less layout and fail on a trailing Z). extend_info.progress/size/space_saving_ratio, backup_data.disk/ram/vcpus
// and volume_backups size/source_volume_size/average_speed are integers; sizes of backups are MB, of volumes GB.

// ----- requests -----------------------------------------------------------------------------------------------

public sealed record CheckProtectableRequest
{
    [JsonPropertyName("check_protectable")] public List<ProtectableQuery>? CheckProtectable { get; init; }
    [JsonPropertyName("check_restorable")] public List<RestorableQuery?>? CheckRestorable { get; init; }
}

public sealed record ProtectableQuery
{
    [JsonPropertyName("resource_id")] public string? ResourceId { get; init; }
    [JsonPropertyName("resource_type")] public string? ResourceType { get; init; }
}

public sealed record ProtectRequest
{
    [JsonPropertyName("protect")] public ProtectBody? Protect { get; init; }
    [JsonPropertyName("restore")] public CsbsRestoreBody? Restore { get; init; }
}

public sealed record ProtectBody
{
    [JsonPropertyName("backup_name")] public string? BackupName { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
    [JsonPropertyName("resource_type")] public string? ResourceType { get; init; }
    [JsonPropertyName("incremental")] public bool? Incremental { get; init; }
    [JsonPropertyName("tags")] public List<CsbsTagBody>? Tags { get; init; }
}

public sealed record CsbsTagBody
{
    [JsonPropertyName("key")] public string? Key { get; init; }
    [JsonPropertyName("value")] public string? Value { get; init; }
}

// ----- responses ----------------------------------------------------------------------------------------------

public sealed record ProtectableWire(
    [property: JsonPropertyName("result")] bool Result,
    [property: JsonPropertyName("resource_type")] string ResourceType,
    [property: JsonPropertyName("resource_id")] string ResourceId,
    [property: JsonPropertyName("error_code")] string ErrorCode,
    [property: JsonPropertyName("error_msg")] string ErrorMsg);

public sealed record CsbsCheckpointWire
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("status")] public required string Status { get; init; }
    [JsonPropertyName("created_at")] public required string CreatedAt { get; init; }
    [JsonPropertyName("project_id")] public required string ProjectId { get; init; }
    [JsonPropertyName("resource_graph")] public string? ResourceGraph { get; init; }
    [JsonPropertyName("protection_plan")] public required ProtectionPlanWire ProtectionPlan { get; init; }
    [JsonPropertyName("extra_info")] public object? ExtraInfo { get; init; }
}

public sealed record ProtectionPlanWire(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("resources")] IReadOnlyList<PlanResourceWire> Resources);

public sealed record PlanResourceWire(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("extra_info")] object ExtraInfo);

public sealed record CheckpointItemWire
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("checkpoint_id")] public required string CheckpointId { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("description")] public required string Description { get; init; }
    [JsonPropertyName("resource_id")] public required string ResourceId { get; init; }
    [JsonPropertyName("resource_type")] public required string ResourceType { get; init; }
    [JsonPropertyName("status")] public required string Status { get; init; }
    [JsonPropertyName("created_at")] public required string CreatedAt { get; init; }
    [JsonPropertyName("updated_at")] public required string UpdatedAt { get; init; }
    [JsonPropertyName("tags")] public IReadOnlyList<object> Tags { get; init; } = [];
    [JsonPropertyName("extend_info")] public required CsbsExtendInfoWire ExtendInfo { get; init; }
    [JsonPropertyName("backup_data")] public required BackupDataWire BackupData { get; init; }
}

public sealed record CsbsExtendInfoWire
{
    [JsonPropertyName("auto_trigger")] public bool AutoTrigger { get; init; }
    [JsonPropertyName("average_speed")] public int AverageSpeed { get; init; }
    [JsonPropertyName("copy_from")] public string CopyFrom { get; init; } = "";
    [JsonPropertyName("copy_status")] public string CopyStatus { get; init; } = "na";
    [JsonPropertyName("fail_code")] public object? FailCode { get; init; }
    [JsonPropertyName("fail_op")] public string FailOp { get; init; } = "";
    [JsonPropertyName("fail_reason")] public string FailReason { get; init; } = "";
    [JsonPropertyName("image_type")] public string ImageType { get; init; } = "backup";
    [JsonPropertyName("incremental")] public required bool Incremental { get; init; }
    [JsonPropertyName("progress")] public required int Progress { get; init; }
    [JsonPropertyName("resource_az")] public required string ResourceAz { get; init; }
    [JsonPropertyName("resource_name")] public required string ResourceName { get; init; }
    [JsonPropertyName("resource_type")] public required string ResourceType { get; init; }
    /// <summary>MB.</summary>
    [JsonPropertyName("size")] public required long Size { get; init; }
    [JsonPropertyName("space_saving_ratio")] public int SpaceSavingRatio { get; init; }
    [JsonPropertyName("volume_backups")] public required IReadOnlyList<VolumeBackupWire> VolumeBackups { get; init; }
    /// <summary>Empty until the backup has finished (the Go clients accept "" for this date).</summary>
    [JsonPropertyName("finished_at")] public required string FinishedAt { get; init; }
    [JsonPropertyName("taskid")] public string TaskId { get; init; } = "";
    [JsonPropertyName("hypervisor_type")] public string HypervisorType { get; init; } = "QEMU";
    [JsonPropertyName("supported_restore_mode")] public string SupportedRestoreMode { get; init; } = "backup";
    [JsonPropertyName("support_lld")] public bool SupportLld { get; init; }
    [JsonPropertyName("os_registry_images")] public required IReadOnlyList<string> OsRegistryImages { get; init; }
    [JsonPropertyName("contain_system_disk")] public required bool ContainSystemDisk { get; init; }
}

public sealed record VolumeBackupWire
{
    [JsonPropertyName("average_speed")] public int AverageSpeed { get; init; }
    [JsonPropertyName("bootable")] public required bool Bootable { get; init; }
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("image_type")] public string ImageType { get; init; } = "backup";
    [JsonPropertyName("incremental")] public required bool Incremental { get; init; }
    [JsonPropertyName("snapshot_id")] public string SnapshotId { get; init; } = "";
    [JsonPropertyName("name")] public required string Name { get; init; }
    /// <summary>MB.</summary>
    [JsonPropertyName("size")] public required long Size { get; init; }
    [JsonPropertyName("source_volume_id")] public required string SourceVolumeId { get; init; }
    /// <summary>GB.</summary>
    [JsonPropertyName("source_volume_size")] public required long SourceVolumeSize { get; init; }
    [JsonPropertyName("space_saving_ratio")] public int SpaceSavingRatio { get; init; }
    [JsonPropertyName("status")] public required string Status { get; init; }
    [JsonPropertyName("source_volume_name")] public required string SourceVolumeName { get; init; }
}

/// <summary>The server's metadata at backup time.</summary>
public sealed record BackupDataWire
{
    [JsonPropertyName("__openstack_region_name")] public required string RegionName { get; init; }
    [JsonPropertyName("cloudservicetype")] public string CloudServiceType { get; init; } = "QEMU";
    /// <summary>GB of the system disk.</summary>
    [JsonPropertyName("disk")] public required long Disk { get; init; }
    [JsonPropertyName("imagetype")] public required string ImageType { get; init; }
    /// <summary>MB.</summary>
    [JsonPropertyName("ram")] public required int Ram { get; init; }
    [JsonPropertyName("vcpus")] public required int Vcpus { get; init; }
    [JsonPropertyName("eip")] public string Eip { get; init; } = "";
    [JsonPropertyName("private_ip")] public required string PrivateIp { get; init; }
}

// ----- restore ------------------------------------------------------------------------------------------------

public sealed record CsbsRestoreRequest
{
    [JsonPropertyName("restore")] public CsbsRestoreBody? Restore { get; init; }
}

/// <summary><c>restore_req</c>: the backup record, the provider and the parameters (which backup, onto which server's disks).</summary>
public sealed record CsbsRestoreBody
{
    [JsonPropertyName("provider_id")] public string? ProviderId { get; init; }
    [JsonPropertyName("checkpoint_id")] public string? CheckpointId { get; init; }
    [JsonPropertyName("restore_target")] public string? RestoreTarget { get; init; }
    [JsonPropertyName("parameters")] public CsbsRestoreParameters? Parameters { get; init; }
}

public sealed record CsbsRestoreParameters
{
    [JsonPropertyName("checkpoint_item_id")] public string? CheckpointItemId { get; init; }
    [JsonPropertyName("power_on")] public bool? PowerOn { get; init; }
    [JsonPropertyName("targets")] public CsbsRestoreTargets? Targets { get; init; }
}

public sealed record CsbsRestoreTargets
{
    [JsonPropertyName("server_id")] public string? ServerId { get; init; }
    [JsonPropertyName("volumes")] public List<CsbsVolumeMapping?>? Volumes { get; init; }
}

public sealed record CsbsVolumeMapping
{
    [JsonPropertyName("backup_id")] public string? BackupId { get; init; }
    [JsonPropertyName("volume_id")] public string? VolumeId { get; init; }
}

public sealed record CheckRestorableRequest
{
    [JsonPropertyName("check_restorable")] public List<RestorableQuery?>? CheckRestorable { get; init; }
}

public sealed record RestorableQuery
{
    [JsonPropertyName("checkpoint_item_id")] public string? CheckpointItemId { get; init; }
    [JsonPropertyName("target")] public RestorableTarget? Target { get; init; }
}

public sealed record RestorableTarget
{
    [JsonPropertyName("resource_id")] public string? ResourceId { get; init; }
    [JsonPropertyName("resource_type")] public string? ResourceType { get; init; }
    [JsonPropertyName("volumes")] public List<CsbsVolumeMapping?>? Volumes { get; init; }
}

/// <summary>
/// <c>restore_resp</c>. <c>status</c> is <c>in_progress</c>, <c>success</c> or <c>fail</c>; <c>resources_status</c> maps
/// <c>OS::Nova::Server#{id}</c> to <c>restoring</c>, <c>available</c> or <c>error</c>, <c>resources_reason</c> to why it failed.
/// </summary>
public sealed record CsbsRestoreWire
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("project_id")] public required string ProjectId { get; init; }
    [JsonPropertyName("provider_id")] public required string ProviderId { get; init; }
    [JsonPropertyName("checkpoint_id")] public required string CheckpointId { get; init; }
    [JsonPropertyName("restore_target")] public string? RestoreTarget { get; init; }
    [JsonPropertyName("parameters")] public required CsbsRestoreParameters Parameters { get; init; }
    [JsonPropertyName("status")] public required string Status { get; init; }
    [JsonPropertyName("resources_status")] public required IReadOnlyDictionary<string, string> ResourcesStatus { get; init; }
    [JsonPropertyName("resources_reason")] public required IReadOnlyDictionary<string, string> ResourcesReason { get; init; }
}
