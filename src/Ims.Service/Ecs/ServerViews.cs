using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ims.Service.Evs;
using Ims.Service.Http;
using Ims.Service.Vpc;

namespace Ims.Service.Ecs;

/// <summary>A row of the servers table.</summary>
public sealed record ServerRow
{
    public string Id { get; init; } = "";
    public string ProjectId { get; init; } = "";
    public string Name { get; init; } = "";
    public string Description { get; init; } = "";
    public string Status { get; init; } = "";
    public string? TaskState { get; init; }
    public string FlavorId { get; init; } = "";
    public string ImageId { get; init; } = "";
    public string AvailabilityZone { get; init; } = "";
    public string VpcId { get; init; } = "";
    public string? KeyName { get; init; }
    public string OsType { get; init; } = "";
    public string? SanPolicy { get; init; }
    public string? UserData { get; init; }
    public string Metadata { get; init; } = "{}";
    public string Tags { get; init; } = "[]";
    public string SecurityGroupIds { get; init; } = "[]";
    public string EnterpriseProjectId { get; init; } = "0";
    public long CreatedAt { get; init; }
    public long UpdatedAt { get; init; }
    public long? LaunchedAt { get; init; }

    public Dictionary<string, string> MetadataMap() => JsonSerializer.Deserialize<Dictionary<string, string>>(Metadata) ?? [];
}

/// <summary>Server statuses as ECS reports them.</summary>
public static class ServerStatus
{
    public const string Build = "BUILD";
    public const string Active = "ACTIVE";
    public const string Shutoff = "SHUTOFF";
    public const string Error = "ERROR";
}

/// <summary>Reads servers and renders them in the ECS v1 shape, with every field terraform reads.</summary>
public static class ServerViews
{
    public const string Columns = "id AS Id, project_id AS ProjectId, name AS Name, description AS Description, " +
        "status AS Status, task_state AS TaskState, flavor_id AS FlavorId, image_id AS ImageId, " +
        "availability_zone AS AvailabilityZone, vpc_id AS VpcId, key_name AS KeyName, os_type AS OsType, " +
        "san_policy AS SanPolicy, user_data AS UserData, metadata AS Metadata, tags AS Tags, " +
        "security_group_ids AS SecurityGroupIds, enterprise_project_id AS EnterpriseProjectId, " +
        "created_at AS CreatedAt, updated_at AS UpdatedAt, launched_at AS LaunchedAt";

    /// <summary>Renders servers with their disks, NICs and security groups (three set-based reads).</summary>
    public static async Task<List<ServerBody>> RenderAsync(VolumeStore volumes, VpcStore vpcs, string projectId,
        IReadOnlyList<ServerRow> servers, CancellationToken ct)
    {
        if (servers.Count == 0) return [];
        var ids = servers.Select(s => s.Id).ToList();
        var attachments = (await volumes.GetAttachmentsOfServersAsync(ids, ct)).ToLookup(a => a.ServerId, StringComparer.Ordinal);
        var ports = (await vpcs.GetPortsOfDevicesAsync(projectId, ids, ct)).ToLookup(p => p.DeviceId, StringComparer.Ordinal);
        var groupIds = servers.SelectMany(s => JsonSerializer.Deserialize<List<string>>(s.SecurityGroupIds) ?? [])
            .Concat(ports.SelectMany(p => p.SelectMany(port => JsonSerializer.Deserialize<List<string>>(port.SecurityGroupIds) ?? [])))
            .Distinct().ToList();
        var groupNames = await vpcs.GetSecurityGroupNamesAsync(projectId, groupIds, ct);

        return servers.Select(s => Render(s, attachments[s.Id], ports[s.Id], groupNames)).ToList();
    }

    private static ServerBody Render(ServerRow s, IEnumerable<AttachmentRow> attachments, IEnumerable<DevicePort> ports,
        IReadOnlyDictionary<string, string> groupNames)
    {
        var flavor = Catalog.FindFlavor(s.FlavorId);
        // The server is in the groups of its NICs (primary first), as ECS shows them after a port's groups change; the
        // groups of the create request stand in while it has no port.
        var portList = ports.ToList();
        var groupIds = portList.Count == 0
            ? JsonSerializer.Deserialize<List<string>>(s.SecurityGroupIds) ?? []
            : portList.SelectMany(p => JsonSerializer.Deserialize<List<string>>(p.SecurityGroupIds) ?? []).Distinct(StringComparer.Ordinal).ToList();
        var groups = groupIds
            .Select(id => new ServerSecurityGroupBody(id, groupNames.TryGetValue(id, out var name) ? name : id)).ToList();
        var addresses = portList.GroupBy(p => p.VpcId, StringComparer.Ordinal).ToDictionary(
            g => g.Key,
            g => (IReadOnlyList<ServerAddressBody>)g.Select(p => new ServerAddressBody("4", p.IpAddress, "fixed", p.MacAddress, p.Id, p.IsPrimary != 0)).ToList(),
            StringComparer.Ordinal);
        var host = Digest($"{s.ProjectId}/{s.AvailabilityZone}", 56);
        return new ServerBody
        {
            Id = s.Id,
            Name = s.Name,
            Description = s.Description,
            Status = s.Status,
            Created = WireTime.Seconds(s.CreatedAt),
            Updated = WireTime.Seconds(s.UpdatedAt),
            AvailabilityZone = s.AvailabilityZone,
            Flavor = new ServerFlavorBody(s.FlavorId, s.FlavorId,
                (flavor?.Vcpus ?? 0).ToString(CultureInfo.InvariantCulture), (flavor?.RamMb ?? 0).ToString(CultureInfo.InvariantCulture), "0"),
            Image = new ServerImageBody(s.ImageId),
            Metadata = s.MetadataMap(),
            SecurityGroups = groups,
            Addresses = addresses,
            VolumesAttached = attachments.Select(a => new ServerVolumeBody(a.VolumeId,
                a.DeleteOnTermination != 0 ? "true" : "false", BootIndexOf(a).ToString(CultureInfo.InvariantCulture), a.Device)).ToList(),
            Tags = JsonSerializer.Deserialize<List<string>>(s.Tags) ?? [],
            SysTags = [new SysTagBody("_sys_enterprise_project_id", s.EnterpriseProjectId)],
            EnterpriseProjectId = s.EnterpriseProjectId,
            KeyName = s.KeyName ?? "",
            SchedulerHints = new Dictionary<string, string>(),
            PowerState = s.Status switch { ServerStatus.Active => 1, ServerStatus.Shutoff => 4, _ => 0 },
            VmState = s.Status switch
            {
                ServerStatus.Build => "building",
                ServerStatus.Active => "active",
                ServerStatus.Shutoff => "stopped",
                _ => "error",
            },
            TaskState = s.TaskState ?? "",
            Progress = s.Status == ServerStatus.Build ? 0 : 100,
            TenantId = s.ProjectId,
            HostId = host,
            LaunchedAt = s.LaunchedAt is { } launched ? WireTime.MicrosNoZone(launched) : "",
            Hostname = HostnameOf(s.Name),
            InstanceName = $"instance-{Digest(s.Id, 8)}",
            Host = host,
            HypervisorHostname = Digest($"{s.AvailabilityZone}/hypervisor", 56),
            ReservationId = $"r-{Digest(s.Id, 8)}",
            UserData = s.UserData ?? "",
            Fault = s.Status == ServerStatus.Error
                ? new ServerFaultBody(500, WireTime.Seconds(s.UpdatedAt), "The server could not be built.", "")
                : null,
        };
    }

    /// <summary>The system disk has boot index 0; data disks have none, which ECS reports as -1.</summary>
    public static int BootIndexOf(AttachmentRow attachment) => attachment.BootIndex is { } index ? (int)index : -1;

    /// <summary>virtio disks sit on PCI bus 2, one slot per device letter.</summary>
    public static string PciAddressOf(string device)
    {
        var letter = device.Length > 0 ? device[^1] : 'a';
        return $"0000:02:{letter - 'a' + 1:x2}.0";
    }

    private static string HostnameOf(string name)
    {
        var cleaned = new string(name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) || c == '-' ? c : '-').ToArray()).Trim('-');
        return cleaned.Length == 0 ? "host" : cleaned;
    }

    private static string Digest(string text, int length) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..length];
}
