using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ims.Service.Evs;

// Requests --------------------------------------------------------------------------------------------------

public sealed record CreateVolumeRequest
{
    [JsonPropertyName("volume")] public VolumeSpec? Volume { get; init; }
    [JsonPropertyName("bssParam")] public JsonElement? BssParam { get; init; }
    [JsonPropertyName("server_id")] public string? ServerId { get; init; }
}

public sealed record VolumeSpec
{
    [JsonPropertyName("availability_zone")] public string? AvailabilityZone { get; init; }
    [JsonPropertyName("volume_type")] public string? VolumeType { get; init; }
    [JsonPropertyName("size")] public int? Size { get; init; }
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
    [JsonPropertyName("multiattach")] public bool? Multiattach { get; init; }
    [JsonPropertyName("metadata")] public Dictionary<string, string?>? Metadata { get; init; }
    [JsonPropertyName("tags")] public Dictionary<string, string?>? Tags { get; init; }
    [JsonPropertyName("count")] public int? Count { get; init; }
    [JsonPropertyName("imageRef")] public string? ImageRef { get; init; }
    [JsonPropertyName("backup_id")] public string? BackupId { get; init; }
    [JsonPropertyName("snapshot_id")] public string? SnapshotId { get; init; }
    [JsonPropertyName("enterprise_project_id")] public string? EnterpriseProjectId { get; init; }
}

public sealed record UpdateVolumeRequest([property: JsonPropertyName("volume")] VolumeUpdateSpec? Volume);

public sealed record VolumeUpdateSpec
{
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
}

// Responses -------------------------------------------------------------------------------------------------

public sealed record CreateVolumeResponse(
    [property: JsonPropertyName("job_id")] string JobId,
    [property: JsonPropertyName("volume_ids")] IReadOnlyList<string> VolumeIds);

public sealed record VolumeJobAccepted([property: JsonPropertyName("job_id")] string JobId);

public sealed record VolumeEnvelope([property: JsonPropertyName("volume")] VolumeBody Volume);

public sealed record VolumeListBody(
    [property: JsonPropertyName("volumes")] IReadOnlyList<VolumeBody> Volumes,
    [property: JsonPropertyName("count")] int Count);

/// <summary>
/// An EVS disk in the v2 shape: <c>size</c> a number, <c>bootable</c> the string "true"/"false",
/// <c>multiattach</c> and <c>encrypted</c> booleans, times with microseconds and no zone.
/// </summary>
public sealed record VolumeBody
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("links")] public required IReadOnlyList<LinkBody> Links { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("status")] public required string Status { get; init; }
    [JsonPropertyName("attachments")] public required IReadOnlyList<VolumeAttachmentInfo> Attachments { get; init; }
    [JsonPropertyName("availability_zone")] public required string AvailabilityZone { get; init; }
    [JsonPropertyName("os-vol-host-attr:host")] public required string Host { get; init; }
    [JsonPropertyName("source_volid")] public string? SourceVolumeId { get; init; }
    [JsonPropertyName("snapshot_id")] public string? SnapshotId { get; init; }
    [JsonPropertyName("description")] public required string Description { get; init; }
    [JsonPropertyName("created_at")] public required string CreatedAt { get; init; }
    [JsonPropertyName("updated_at")] public required string UpdatedAt { get; init; }
    [JsonPropertyName("os-vol-tenant-attr:tenant_id")] public required string TenantId { get; init; }
    [JsonPropertyName("volume_image_metadata")] public required IReadOnlyDictionary<string, string> VolumeImageMetadata { get; init; }
    [JsonPropertyName("volume_type")] public required string VolumeType { get; init; }
    [JsonPropertyName("size")] public required int Size { get; init; }
    [JsonPropertyName("consistencygroup_id")] public string? ConsistencyGroupId { get; init; }
    [JsonPropertyName("bootable")] public required string Bootable { get; init; }
    [JsonPropertyName("metadata")] public required IReadOnlyDictionary<string, string> Metadata { get; init; }
    [JsonPropertyName("encrypted")] public required bool Encrypted { get; init; }
    [JsonPropertyName("replication_status")] public string ReplicationStatus { get; init; } = "disabled";
    [JsonPropertyName("multiattach")] public required bool Multiattach { get; init; }
    [JsonPropertyName("service_type")] public required string ServiceType { get; init; }
    [JsonPropertyName("user_id")] public string UserId { get; init; } = "";
    [JsonPropertyName("dedicated_storage_id")] public string? DedicatedStorageId { get; init; }
    [JsonPropertyName("dedicated_storage_name")] public string? DedicatedStorageName { get; init; }
    [JsonPropertyName("tags")] public required IReadOnlyDictionary<string, string> Tags { get; init; }
    [JsonPropertyName("wwn")] public required string Wwn { get; init; }
    [JsonPropertyName("enterprise_project_id")] public string EnterpriseProjectId { get; init; } = "0";

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    [JsonPropertyName("iops")] public PerformanceBody? Iops { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    [JsonPropertyName("throughput")] public PerformanceBody? Throughput { get; init; }
}

public sealed record LinkBody(
    [property: JsonPropertyName("href")] string Href,
    [property: JsonPropertyName("rel")] string Rel);

/// <summary>An attachment as EVS reports it; <c>id</c> repeats the volume id, as on the real service.</summary>
public sealed record VolumeAttachmentInfo(
    [property: JsonPropertyName("server_id")] string ServerId,
    [property: JsonPropertyName("attachment_id")] string AttachmentId,
    [property: JsonPropertyName("attached_at")] string AttachedAt,
    [property: JsonPropertyName("host_name")] string HostName,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("device")] string Device,
    [property: JsonPropertyName("volume_id")] string VolumeId);

/// <summary>Provisioned IOPS or throughput of the GPSSD2/ESSD2 types.</summary>
public sealed record PerformanceBody(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("frozened")] bool Frozened,
    [property: JsonPropertyName("total_val")] int TotalValue);
