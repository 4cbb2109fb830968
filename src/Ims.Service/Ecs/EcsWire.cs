using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ims.Service.Ecs;

// ---------------------------------------------------------------------------------------------------------
// Requests. Every property is nullable so that a missing field is a 400 in ECS's shape, never a binder error.
// ---------------------------------------------------------------------------------------------------------

public sealed record CreateServerRequest([property: JsonPropertyName("server")] ServerSpec? Server);

public sealed record ServerSpec
{
    [JsonPropertyName("imageRef")] public string? ImageRef { get; init; }
    [JsonPropertyName("flavorRef")] public string? FlavorRef { get; init; }
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
    [JsonPropertyName("vpcid")] public string? VpcId { get; init; }
    [JsonPropertyName("nics")] public List<NicSpec?>? Nics { get; init; }
    [JsonPropertyName("root_volume")] public RootVolumeSpec? RootVolume { get; init; }
    [JsonPropertyName("data_volumes")] public List<DataVolumeSpec?>? DataVolumes { get; init; }
    [JsonPropertyName("security_groups")] public List<SecurityGroupRef?>? SecurityGroups { get; init; }
    [JsonPropertyName("availability_zone")] public string? AvailabilityZone { get; init; }
    [JsonPropertyName("count")] public int? Count { get; init; }
    [JsonPropertyName("isAutoRename")] public bool? IsAutoRename { get; init; }
    [JsonPropertyName("key_name")] public string? KeyName { get; init; }
    [JsonPropertyName("adminPass")] public string? AdminPass { get; init; }
    [JsonPropertyName("user_data")] public string? UserData { get; init; }
    [JsonPropertyName("metadata")] public Dictionary<string, string?>? Metadata { get; init; }
    [JsonPropertyName("server_tags")] public List<TagSpec?>? ServerTags { get; init; }
    [JsonPropertyName("tags")] public List<string?>? Tags { get; init; }
    [JsonPropertyName("extendparam")] public ExtendParamSpec? ExtendParam { get; init; }
    [JsonPropertyName("publicip")] public JsonElement? PublicIp { get; init; }
    [JsonPropertyName("os:scheduler_hints")] public JsonElement? SchedulerHints { get; init; }
}

public sealed record NicSpec
{
    [JsonPropertyName("subnet_id")] public string? SubnetId { get; init; }
    [JsonPropertyName("ip_address")] public string? IpAddress { get; init; }
    [JsonPropertyName("ipv6_enable")] public bool? Ipv6Enable { get; init; }
}

public sealed record RootVolumeSpec
{
    [JsonPropertyName("volumetype")] public string? VolumeType { get; init; }
    [JsonPropertyName("size")] public int? Size { get; init; }
    [JsonPropertyName("iops")] public int? Iops { get; init; }
    [JsonPropertyName("throughput")] public int? Throughput { get; init; }
    [JsonPropertyName("metadata")] public Dictionary<string, string?>? Metadata { get; init; }
    [JsonPropertyName("cluster_type")] public string? ClusterType { get; init; }
    [JsonPropertyName("cluster_id")] public string? ClusterId { get; init; }
}

public sealed record DataVolumeSpec
{
    [JsonPropertyName("volumetype")] public string? VolumeType { get; init; }
    [JsonPropertyName("size")] public int? Size { get; init; }
    [JsonPropertyName("multiattach")] public bool? Multiattach { get; init; }
    [JsonPropertyName("shareable")] public bool? Shareable { get; init; }
    [JsonPropertyName("hw:passthrough")] public bool? Passthrough { get; init; }
    [JsonPropertyName("iops")] public int? Iops { get; init; }
    [JsonPropertyName("throughput")] public int? Throughput { get; init; }
    [JsonPropertyName("metadata")] public Dictionary<string, string?>? Metadata { get; init; }
    [JsonPropertyName("cluster_type")] public string? ClusterType { get; init; }
    [JsonPropertyName("cluster_id")] public string? ClusterId { get; init; }
}

public sealed record SecurityGroupRef([property: JsonPropertyName("id")] string? Id);

public sealed record TagSpec(
    [property: JsonPropertyName("key")] string? Key,
    [property: JsonPropertyName("value")] string? Value);

public sealed record ExtendParamSpec
{
    [JsonPropertyName("chargingMode")] public JsonElement? ChargingMode { get; init; }
    [JsonPropertyName("enterprise_project_id")] public string? EnterpriseProjectId { get; init; }
    [JsonPropertyName("regionID")] public string? RegionId { get; init; }
}

public sealed record MetadataRequest([property: JsonPropertyName("metadata")] Dictionary<string, string?>? Metadata);

public sealed record DeleteServersRequest
{
    [JsonPropertyName("servers")] public List<ServerRef?>? Servers { get; init; }
    [JsonPropertyName("delete_volume")] public bool? DeleteVolume { get; init; }
    [JsonPropertyName("delete_publicip")] public bool? DeletePublicIp { get; init; }
}

public sealed record ServerRef([property: JsonPropertyName("id")] string? Id);

/// <summary>Exactly one of the members names the action (os-start, os-stop, reboot).</summary>
public sealed record ServerActionRequest
{
    [JsonPropertyName("os-start")] public PowerSpec? Start { get; init; }
    [JsonPropertyName("os-stop")] public PowerSpec? Stop { get; init; }
    [JsonPropertyName("reboot")] public PowerSpec? Reboot { get; init; }
}

public sealed record PowerSpec
{
    [JsonPropertyName("servers")] public List<ServerRef?>? Servers { get; init; }
    [JsonPropertyName("type")] public string? Type { get; init; }
}

public sealed record AttachVolumeRequest([property: JsonPropertyName("volumeAttachment")] AttachSpec? VolumeAttachment);

public sealed record AttachSpec
{
    [JsonPropertyName("volumeId")] public string? VolumeId { get; init; }
    [JsonPropertyName("device")] public string? Device { get; init; }
}

// ---------------------------------------------------------------------------------------------------------
// Responses. JSON types are those real clients decode (see client-contract.md §3.1): flavor numbers are strings
// in a server but ram is a number in the catalog; bootIndex is a string in a server but a number in block_device.
// ---------------------------------------------------------------------------------------------------------

public sealed record JobAccepted([property: JsonPropertyName("job_id")] string JobId);

public sealed record CreateServerResponse(
    [property: JsonPropertyName("job_id")] string JobId,
    [property: JsonPropertyName("serverIds")] IReadOnlyList<string> ServerIds);

public sealed record ServerEnvelope([property: JsonPropertyName("server")] ServerBody Server);

public sealed record ServerListBody(
    [property: JsonPropertyName("count")] int Count,
    [property: JsonPropertyName("servers")] IReadOnlyList<ServerBody> Servers);

public sealed record ServerBody
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("description")] public required string Description { get; init; }
    [JsonPropertyName("status")] public required string Status { get; init; }
    [JsonPropertyName("created")] public required string Created { get; init; }
    [JsonPropertyName("updated")] public required string Updated { get; init; }
    [JsonPropertyName("OS-EXT-AZ:availability_zone")] public required string AvailabilityZone { get; init; }
    [JsonPropertyName("flavor")] public required ServerFlavorBody Flavor { get; init; }
    [JsonPropertyName("image")] public required ServerImageBody Image { get; init; }
    [JsonPropertyName("metadata")] public required IReadOnlyDictionary<string, string> Metadata { get; init; }
    [JsonPropertyName("security_groups")] public required IReadOnlyList<ServerSecurityGroupBody> SecurityGroups { get; init; }
    [JsonPropertyName("addresses")] public required IReadOnlyDictionary<string, IReadOnlyList<ServerAddressBody>> Addresses { get; init; }
    [JsonPropertyName("os-extended-volumes:volumes_attached")] public required IReadOnlyList<ServerVolumeBody> VolumesAttached { get; init; }
    [JsonPropertyName("tags")] public required IReadOnlyList<string> Tags { get; init; }
    [JsonPropertyName("sys_tags")] public required IReadOnlyList<SysTagBody> SysTags { get; init; }
    [JsonPropertyName("enterprise_project_id")] public required string EnterpriseProjectId { get; init; }
    [JsonPropertyName("key_name")] public required string KeyName { get; init; }
    [JsonPropertyName("os:scheduler_hints")] public required IReadOnlyDictionary<string, string> SchedulerHints { get; init; }
    [JsonPropertyName("OS-EXT-STS:power_state")] public required int PowerState { get; init; }
    [JsonPropertyName("OS-EXT-STS:vm_state")] public required string VmState { get; init; }
    [JsonPropertyName("OS-EXT-STS:task_state")] public required string TaskState { get; init; }
    [JsonPropertyName("progress")] public required int Progress { get; init; }
    [JsonPropertyName("locked")] public bool Locked { get; init; }
    [JsonPropertyName("tenant_id")] public required string TenantId { get; init; }
    [JsonPropertyName("user_id")] public string UserId { get; init; } = "";
    [JsonPropertyName("hostId")] public required string HostId { get; init; }
    [JsonPropertyName("host_status")] public string HostStatus { get; init; } = "UP";
    [JsonPropertyName("accessIPv4")] public string AccessIpv4 { get; init; } = "";
    [JsonPropertyName("accessIPv6")] public string AccessIpv6 { get; init; } = "";
    [JsonPropertyName("config_drive")] public string ConfigDrive { get; init; } = "";
    [JsonPropertyName("OS-DCF:diskConfig")] public string DiskConfig { get; init; } = "MANUAL";
    [JsonPropertyName("OS-SRV-USG:launched_at")] public required string LaunchedAt { get; init; }
    [JsonPropertyName("OS-SRV-USG:terminated_at")] public string TerminatedAt { get; init; } = "";
    [JsonPropertyName("OS-EXT-SRV-ATTR:hostname")] public required string Hostname { get; init; }
    [JsonPropertyName("OS-EXT-SRV-ATTR:instance_name")] public required string InstanceName { get; init; }
    [JsonPropertyName("OS-EXT-SRV-ATTR:host")] public required string Host { get; init; }
    [JsonPropertyName("OS-EXT-SRV-ATTR:hypervisor_hostname")] public required string HypervisorHostname { get; init; }
    [JsonPropertyName("OS-EXT-SRV-ATTR:root_device_name")] public string RootDeviceName { get; init; } = "/dev/vda";
    [JsonPropertyName("OS-EXT-SRV-ATTR:reservation_id")] public required string ReservationId { get; init; }
    [JsonPropertyName("OS-EXT-SRV-ATTR:launch_index")] public int LaunchIndex { get; init; }
    [JsonPropertyName("OS-EXT-SRV-ATTR:kernel_id")] public string KernelId { get; init; } = "";
    [JsonPropertyName("OS-EXT-SRV-ATTR:ramdisk_id")] public string RamdiskId { get; init; } = "";
    [JsonPropertyName("OS-EXT-SRV-ATTR:user_data")] public required string UserData { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    [JsonPropertyName("fault")] public ServerFaultBody? Fault { get; init; }
}

public sealed record ServerFlavorBody(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("vcpus")] string Vcpus,
    [property: JsonPropertyName("ram")] string Ram,
    [property: JsonPropertyName("disk")] string Disk);

public sealed record ServerImageBody([property: JsonPropertyName("id")] string Id);

public sealed record ServerSecurityGroupBody(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("name")] string Name);

/// <summary>
/// One NIC address. <c>version</c> is a string: the ECS v1 documentation types it so and the Go SDKs decode it
/// into a string field (a JSON number would fail the whole server read).
/// </summary>
public sealed record ServerAddressBody(
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("addr")] string Addr,
    [property: JsonPropertyName("OS-EXT-IPS:type")] string Type,
    [property: JsonPropertyName("OS-EXT-IPS-MAC:mac_addr")] string MacAddr,
    [property: JsonPropertyName("OS-EXT-IPS:port_id")] string PortId,
    [property: JsonPropertyName("primary")] bool Primary);

public sealed record ServerVolumeBody(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("delete_on_termination")] string DeleteOnTermination,
    [property: JsonPropertyName("bootIndex")] string BootIndex,
    [property: JsonPropertyName("device")] string Device);

public sealed record SysTagBody(
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("value")] string Value);

public sealed record ServerFaultBody(
    [property: JsonPropertyName("code")] int Code,
    [property: JsonPropertyName("created")] string Created,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("details")] string Details);

public sealed record VolumeAttachmentEnvelope([property: JsonPropertyName("volumeAttachment")] VolumeAttachmentBody VolumeAttachment);

public sealed record VolumeAttachmentListBody(
    [property: JsonPropertyName("attachableQuantity")] AttachableQuantityBody AttachableQuantity,
    [property: JsonPropertyName("volumeAttachments")] IReadOnlyList<VolumeAttachmentBody> VolumeAttachments);

/// <summary><c>bootIndex</c> is a JSON number here: terraform asserts it with <c>.(float64)</c>.</summary>
public sealed record VolumeAttachmentBody(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("serverId")] string ServerId,
    [property: JsonPropertyName("volumeId")] string VolumeId,
    [property: JsonPropertyName("device")] string Device,
    [property: JsonPropertyName("size")] int Size,
    [property: JsonPropertyName("bootIndex")] int BootIndex,
    [property: JsonPropertyName("pciAddress")] string PciAddress,
    [property: JsonPropertyName("bus")] string Bus);

public sealed record AttachableQuantityBody(
    [property: JsonPropertyName("free_scsi")] int FreeScsi,
    [property: JsonPropertyName("free_blk")] int FreeBlk,
    [property: JsonPropertyName("free_disk")] int FreeDisk);

public sealed record AvailabilityZonesBody(
    [property: JsonPropertyName("availabilityZoneInfo")] IReadOnlyList<AvailabilityZoneBody> Zones);

public sealed record AvailabilityZoneBody(
    [property: JsonPropertyName("zoneName")] string ZoneName,
    [property: JsonPropertyName("zoneState")] ZoneStateBody ZoneState,
    [property: JsonPropertyName("hosts")] object? Hosts);

public sealed record ZoneStateBody([property: JsonPropertyName("available")] bool Available);

public sealed record FlavorListBody([property: JsonPropertyName("flavors")] IReadOnlyList<FlavorBody> Flavors);

/// <summary>A catalog flavor: <c>vcpus</c> and <c>disk</c> are strings, <c>ram</c> is a number.</summary>
public sealed record FlavorBody
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("vcpus")] public required string Vcpus { get; init; }
    [JsonPropertyName("ram")] public required int Ram { get; init; }
    [JsonPropertyName("disk")] public string Disk { get; init; } = "0";
    [JsonPropertyName("swap")] public string Swap { get; init; } = "";
    [JsonPropertyName("OS-FLV-EXT-DATA:ephemeral")] public int Ephemeral { get; init; }
    [JsonPropertyName("OS-FLV-DISABLED:disabled")] public bool Disabled { get; init; }
    [JsonPropertyName("rxtx_factor")] public double RxtxFactor { get; init; } = 1.0;
    [JsonPropertyName("rxtx_quota")] public string? RxtxQuota { get; init; }
    [JsonPropertyName("rxtx_cap")] public string? RxtxCap { get; init; }
    [JsonPropertyName("os-flavor-access:is_public")] public bool IsPublic { get; init; } = true;
    [JsonPropertyName("links")] public IReadOnlyList<object> Links { get; init; } = [];
    [JsonPropertyName("os_extra_specs")] public required IReadOnlyDictionary<string, string> ExtraSpecs { get; init; }
    [JsonPropertyName("attachableQuantity")] public required AttachableQuantityBody AttachableQuantity { get; init; }
}

// ----- server changes (ServerChangeEndpoints) ------------------------------------------------------------------

public sealed record UpdateServerRequest([property: JsonPropertyName("server")] UpdateServerSpec? Server);

public sealed record UpdateServerSpec
{
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
    [JsonPropertyName("user_data")] public string? UserData { get; init; }
}

public sealed record TagActionRequest
{
    [JsonPropertyName("action")] public string? Action { get; init; }
    [JsonPropertyName("tags")] public List<TagSpec?>? Tags { get; init; }
}

public sealed record TagBody([property: JsonPropertyName("key")] string Key, [property: JsonPropertyName("value")] string Value);

public sealed record TagListBody([property: JsonPropertyName("tags")] IReadOnlyList<TagBody> Tags);

public sealed record ResizeRequest([property: JsonPropertyName("resize")] ResizeSpec? Resize);

public sealed record ResizeSpec
{
    [JsonPropertyName("flavorRef")] public string? FlavorRef { get; init; }
    [JsonPropertyName("mode")] public string? Mode { get; init; }
    [JsonPropertyName("dedicated_host_id")] public string? DedicatedHostId { get; init; }
    [JsonPropertyName("extendparam")] public JsonElement? ExtendParam { get; init; }
    [JsonPropertyName("cpu_options")] public JsonElement? CpuOptions { get; init; }
}
