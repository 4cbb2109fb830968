using System.Text.Json;
using System.Text.Json.Serialization;
using Ims.Service.Auth;
using Ims.Service.Http;
using Ims.Service.Storage;

namespace Ims.Service.Vpc;

/// <summary>A row of the ports table joined with its subnet (for the Neutron subnet id and the zone).</summary>
public sealed record PortRow
{
    public const string Select = """
        SELECT p.id, p.project_id AS ProjectId, p.subnet_id AS SubnetId, p.device_id AS DeviceId,
               p.device_owner AS DeviceOwner, p.ip_address AS IpAddress, p.mac_address AS MacAddress,
               p.security_group_ids AS SecurityGroupIds, p.allowed_address_pairs AS AllowedAddressPairs, p.is_primary AS IsPrimary, p.status, p.created_at AS CreatedAt,
               s.neutron_subnet_id AS NeutronSubnetId, s.availability_zone AS AvailabilityZone
        FROM ports p LEFT JOIN subnets s ON s.id = p.subnet_id
        """;

    public required string Id { get; init; }
    public required string ProjectId { get; init; }
    public required string SubnetId { get; init; }
    public string DeviceId { get; init; } = "";
    public string DeviceOwner { get; init; } = "";
    public required string IpAddress { get; init; }
    public required string MacAddress { get; init; }
    public string SecurityGroupIds { get; init; } = "[]";
    public string AllowedAddressPairs { get; init; } = "[]";
    public long IsPrimary { get; init; }
    public required string Status { get; init; }
    public long CreatedAt { get; init; }
    public string? NeutronSubnetId { get; init; }
    public string? AvailabilityZone { get; init; }
}

/// <summary>
/// ECS creates ports by inserting rows into <c>ports</c>; VPC's update changes a port's security groups and allowed
/// address pairs, as terraform's compute update does for the primary NIC's groups and a NIC's source/destination check. Terraform's compute read fetches
/// each NIC's port (its <c>network_id</c> must be the subnet id of the configuration, or the NIC is dropped and the
/// server replaced) and lists the server's ports by <c>device_id</c> for their security groups.
/// </summary>
public static class PortEndpoints
{
    public static IEndpointRouteBuilder MapPorts(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1/{project_id}/ports").ForService(ServiceKind.Vpc);
        v1.MapGet("", ListPorts);
        v1.MapGet("/{port_id}", GetPort);
        v1.MapPut("/{port_id}", UpdatePort);
        return app;
    }

    /// <summary>
    /// <c>PUT /v1/{project_id}/ports/{port_id}</c>: <c>security_groups</c> (ids of the project's groups, at least one) and
    /// <c>allowed_address_pairs</c> (<c>ip_address</c> an address or CIDR, <c>1.1.1.1/0</c> turning the source/destination
    /// check off); other fields (name) are accepted and not stored. Answers the port as the show does.
    /// </summary>
    private static async Task<IResult> UpdatePort(string port_id, HttpContext http, Caller caller, Database db, VpcStore vpcs)
    {
        var (body, error) = await JsonBody.ReadAsync<UpdatePortRequest>(http, ServiceKind.Vpc);
        if (error is not null) return error;
        if (body!.Port is not { } spec) return VpcErrors.VpcParam("port is required.");
        if (spec.SecurityGroups is { } groups && (groups.Count == 0 || groups.Any(string.IsNullOrEmpty)))
            return VpcErrors.VpcParam("port.security_groups must list at least one security group id.");
        if (spec.SecurityGroups is { Count: > 10 }) return VpcErrors.VpcParam("A port can be in at most 10 security groups.");
        foreach (var pair in spec.AllowedAddressPairs ?? [])
            if (pair is null || !IsAddressOrCidr(pair.IpAddress))
                return VpcErrors.VpcParam("port.allowed_address_pairs[].ip_address must be an IPv4 address or CIDR.");

        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        if (await vpcs.GetPortAsync(write, caller.ProjectId, port_id, ct) is null) return VpcErrors.PortNotFound(port_id);
        foreach (var groupId in spec.SecurityGroups?.Distinct(StringComparer.Ordinal) ?? [])
            if (await vpcs.GetSecurityGroupAsync(write, caller.ProjectId, groupId!, ct) is null)
                return VpcErrors.SecurityGroupNotFound(ServiceKind.Vpc, groupId!);
        var pairs = spec.AllowedAddressPairs?.Select(p => new { ip_address = p!.IpAddress, mac_address = p.MacAddress ?? "" }).ToList();
        await vpcs.UpdatePortAsync(write, caller.ProjectId, port_id,
            spec.SecurityGroups is null ? null : JsonSerializer.Serialize(spec.SecurityGroups.Distinct(StringComparer.Ordinal)),
            pairs is null ? null : JsonSerializer.Serialize(pairs), ct);
        var port = await vpcs.GetPortAsync(write, caller.ProjectId, port_id, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { port = Wire(port!) });
    }

    private static bool IsAddressOrCidr(string? value)
    {
        if (string.IsNullOrEmpty(value)) return false;
        var slash = value.IndexOf('/', StringComparison.Ordinal);
        var address = slash < 0 ? value : value[..slash];
        if (!System.Net.IPAddress.TryParse(address, out var ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork
            || address.Count(c => c == '.') != 3) return false;
        return slash < 0 || (int.TryParse(value[(slash + 1)..], out var bits) && bits is >= 0 and <= 32);
    }

    private static async Task<IResult> GetPort(string port_id, HttpContext http, Caller caller, VpcStore vpcs)
    {
        var port = await vpcs.GetPortAsync(caller.ProjectId, port_id, http.RequestAborted);
        return port is null ? VpcErrors.PortNotFound(port_id) : TypedResults.Json(new { port = Wire(port) });
    }

    private static async Task<IResult> ListPorts(HttpContext http, Caller caller, VpcStore vpcs)
    {
        var ct = http.RequestAborted;
        if (!VpcRules.TryPaging(http, ServiceKind.Vpc, "VPC.0101", out var limit, out var marker, out var error)) return error!;
        var filter = new PortFilter(QueryArgs.String(http, "id"), QueryArgs.String(http, "device_id"), QueryArgs.String(http, "device_owner"),
            QueryArgs.String(http, "network_id"), QueryArgs.String(http, "mac_address"), QueryArgs.String(http, "status"), marker, limit);
        var rows = await vpcs.ListPortsAsync(caller.ProjectId, filter, ct);
        return TypedResults.Json(new { ports = rows.Select(Wire) });
    }

    /// <summary>
    /// The v1 port (golangsdk networking/v1/ports). <c>binding:profile</c> is left out: the real service sends an
    /// object there but golangsdk declares it a string, and an absent field decodes cleanly in every client.
    /// </summary>
    private static Dictionary<string, object?> Wire(PortRow port)
    {
        var hostname = "host-" + port.IpAddress.Replace('.', '-');
        return new Dictionary<string, object?>
        {
            ["id"] = port.Id,
            ["name"] = "",
            // Decision: a port's network is its subnet id, the id a terraform config names in network.uuid.
            ["network_id"] = port.SubnetId,
            ["admin_state_up"] = true,
            ["mac_address"] = port.MacAddress,
            ["fixed_ips"] = new[] { new { subnet_id = port.NeutronSubnetId ?? "", ip_address = port.IpAddress } },
            ["device_id"] = port.DeviceId,
            ["device_owner"] = port.DeviceOwner,
            ["tenant_id"] = port.ProjectId,
            ["status"] = port.Status,
            ["security_groups"] = VpcWire.ReadList<string>(port.SecurityGroupIds),
            ["allowed_address_pairs"] = VpcWire.ReadList<AddressPairWire>(port.AllowedAddressPairs),
            ["extra_dhcp_opts"] = Array.Empty<object>(),
            ["binding:vif_details"] = new { primary_interface = port.IsPrimary != 0 },
            ["binding:vnic_type"] = "normal",
            ["dns_assignment"] = new[] { new { hostname, ip_address = port.IpAddress, fqdn = $"{hostname}.compute.internal." } },
            ["dns_name"] = hostname,
            ["instance_id"] = "",
            ["instance_type"] = "",
            ["port_security_enabled"] = true,
            ["zone_id"] = port.AvailabilityZone ?? "",
            ["created_at"] = WireTime.Seconds(port.CreatedAt),
        };
    }
}

public sealed record UpdatePortRequest([property: JsonPropertyName("port")] UpdatePortSpec? Port);

public sealed record UpdatePortSpec
{
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("security_groups")] public List<string?>? SecurityGroups { get; init; }
    [JsonPropertyName("allowed_address_pairs")] public List<AddressPairSpec?>? AllowedAddressPairs { get; init; }
}

public sealed record AddressPairSpec
{
    [JsonPropertyName("ip_address")] public string? IpAddress { get; init; }
    [JsonPropertyName("mac_address")] public string? MacAddress { get; init; }
}

public sealed record AddressPairWire
{
    [JsonPropertyName("ip_address")] public string IpAddress { get; init; } = "";
    [JsonPropertyName("mac_address")] public string MacAddress { get; init; } = "";
}
