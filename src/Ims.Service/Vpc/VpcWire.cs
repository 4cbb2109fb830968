using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Ims.Service.Http;

namespace Ims.Service.Vpc;

/// <summary>A row of the vpcs table.</summary>
public sealed record VpcRow
{
    public const string Columns = "id, project_id AS ProjectId, name, description, cidr, status, " +
        "enterprise_project_id AS EnterpriseProjectId, created_at AS CreatedAt, updated_at AS UpdatedAt";

    public required string Id { get; init; }
    public required string ProjectId { get; init; }
    public required string Name { get; init; }
    public required string Description { get; init; }
    public required string Cidr { get; init; }
    public required string Status { get; init; }
    public required string EnterpriseProjectId { get; init; }
    public long CreatedAt { get; init; }
    public long UpdatedAt { get; init; }
}

/// <summary>One DHCP option of a subnet, as the v1 API names it.</summary>
public sealed record DhcpOption(
    [property: JsonPropertyName("opt_name")] string OptName,
    [property: JsonPropertyName("opt_value")] string? OptValue);

/// <summary>
/// The wire shapes of the VPC v1 and v3 APIs, checked against chnsz/golangsdk (networking/v1, networking/v3) and the
/// Huawei SDK v3 models. Every string field a Go client decodes into a <c>string</c> is written as a string or null,
/// never as a number, and times are second-precision UTC with a literal Z (golangsdk keeps them as strings, the SDK v3
/// <c>SdkTime</c> parses <c>2006-01-02T15:04:05Z</c> first).
/// </summary>
public static class VpcWire
{
    private static readonly JsonSerializerOptions StoreOptions = new(JsonSerializerDefaults.General);

    public static object V1(VpcRow vpc) => new
    {
        id = vpc.Id,
        name = vpc.Name,
        description = vpc.Description,
        cidr = vpc.Cidr,
        // v1 says OK once the router exists; terraform waits for exactly that word.
        status = vpc.Status,
        routes = Array.Empty<object>(),
        enable_shared_snat = false,
        enterprise_project_id = vpc.EnterpriseProjectId,
        tenant_id = vpc.ProjectId,
        created_at = WireTime.Seconds(vpc.CreatedAt),
        updated_at = WireTime.Seconds(vpc.UpdatedAt),
    };

    /// <summary>The v3 ShowVpc shape; v3 calls a ready VPC ACTIVE where v1 says OK.</summary>
    public static object V3(VpcRow vpc, long subnetCount) => new
    {
        id = vpc.Id,
        name = vpc.Name,
        description = vpc.Description,
        cidr = vpc.Cidr,
        extend_cidrs = Array.Empty<string>(),
        status = vpc.Status == "OK" ? "ACTIVE" : "PENDING",
        project_id = vpc.ProjectId,
        enterprise_project_id = vpc.EnterpriseProjectId,
        created_at = WireTime.Seconds(vpc.CreatedAt),
        updated_at = WireTime.Seconds(vpc.UpdatedAt),
        cloud_resources = new object[]
        {
            new { resource_type = "routetable", resource_count = 1 },
            new { resource_type = "virsubnet", resource_count = subnetCount },
        },
        tags = Array.Empty<object>(),
    };

    public static object Subnet(SubnetRow subnet) => new
    {
        id = subnet.Id,
        name = subnet.Name,
        description = subnet.Description,
        cidr = subnet.Cidr,
        dnsList = subnet.Dns,
        gateway_ip = subnet.GatewayIp,
        ipv6_enable = false,
        dhcp_enable = subnet.DhcpEnabled,
        primary_dns = subnet.PrimaryDns ?? "",
        secondary_dns = subnet.SecondaryDns ?? "",
        availability_zone = subnet.AvailabilityZone ?? "",
        vpc_id = subnet.VpcId,
        status = subnet.Status,
        // Decision: the network id is the subnet id, because ECS NICs name the subnet id as their port's network_id.
        neutron_network_id = subnet.Id,
        neutron_subnet_id = subnet.NeutronSubnetId,
        extra_dhcp_opts = subnet.DhcpOptions,
        tenant_id = subnet.ProjectId,
        scope = "center",
        created_at = WireTime.Seconds(subnet.CreatedAt),
        updated_at = WireTime.Seconds(subnet.UpdatedAt),
    };

    internal static List<T> ReadList<T>(string json) =>
        string.IsNullOrEmpty(json) ? [] : JsonSerializer.Deserialize<List<T>>(json, StoreOptions) ?? [];

    internal static string WriteList<T>(IEnumerable<T> items) => JsonSerializer.Serialize(items, StoreOptions);
}

/// <summary>
/// The errors of the VPC APIs. v1 answers <c>{"code","message"}</c> and v3 <c>{"error_code","error_msg","request_id"}</c>
/// (both rendered by <see cref="ErrorBodies"/> from the service kind). Codes are those of the VPC "Error Codes" page
/// where it lists one; security-group and port codes follow the Neutron-wrapped <c>VPC.0602</c> answers seen in the wild.
/// </summary>
public static class VpcErrors
{
    public static ApiError VpcParam(string message) => new(ServiceKind.Vpc, 400, "VPC.0101", message);

    public static ApiError VpcNotFound(ServiceKind service) => new(service, 404, "VPC.0003", "VPC does not exist.");

    public static ApiError VpcNameTaken() => new(ServiceKind.Vpc, 400, "VPC.0115", "The router name has exist.");

    /// <summary>409: terraform's delete loop keeps retrying on 409 until the subnets are gone.</summary>
    public static ApiError VpcHasSubnets() =>
        new(ServiceKind.Vpc, 409, "VPC.0104", "Router contains subnets, please delete subnet first.");

    public static ApiError VpcCidrExcludesSubnets() =>
        new(ServiceKind.Vpc, 400, "VPC.0117", "Cidr can not contain subnetList cidr.");

    public static ApiError SubnetParam(string message) => new(ServiceKind.Vpc, 400, "VPC.0201", message);

    public static ApiError SubnetNotFound() => new(ServiceKind.Vpc, 404, "VPC.0202", "Query subnet fail.");

    public static ApiError SubnetOutsideVpc() => new(ServiceKind.Vpc, 400, "VPC.0203", "Subnet is not in the range of VPC.");

    public static ApiError SubnetConflict() => new(ServiceKind.Vpc, 400, "VPC.0204",
        "The subnet has already existed in the VPC, or has been in conflict with the VPC subnet.");

    public static ApiError SubnetNotInVpc() => new(ServiceKind.Vpc, 400, "VPC.0207", "Subnet does not belong to the VPC.");

    /// <summary>The real service answers 500 here; terraform's subnet delete loop retries on 500 and 409 alike.</summary>
    public static ApiError SubnetInUse() =>
        new(ServiceKind.Vpc, 500, "VPC.0209", "Subnet is still used, such as computer, LB.");

    public static ApiError SubnetCidrInvalid() => new(ServiceKind.Vpc, 400, "VPC.0212", "The subnet cidr is not valid.");

    public static ApiError SecurityGroupParam(ServiceKind service, string message) => new(service, 400, "VPC.0606", message);

    public static ApiError SecurityGroupNotFound(ServiceKind service, string id) =>
        new(service, 404, "VPC.0602", Neutron(service, $"Security group {id} does not exist", "SecurityGroupNotFound"));

    public static ApiError SecurityGroupRuleNotFound(ServiceKind service, string id) =>
        new(service, 404, "VPC.0602", Neutron(service, $"Security group rule {id} does not exist", "SecurityGroupRuleNotFound"));

    /// <summary>409: terraform's secgroup delete loop keeps retrying on 409 until the ports are gone.</summary>
    public static ApiError SecurityGroupInUse(ServiceKind service, string id) =>
        new(service, 409, "VPC.0602", Neutron(service, $"Security Group {id} in use.", "SecurityGroupInUse"));

    public static ApiError PortNotFound(string id) =>
        new(ServiceKind.Vpc, 404, "VPC.0704", Neutron(ServiceKind.Vpc, $"Port {id} could not be found.", "PortNotFound"));

    /// <summary>v1 passes Neutron's error through as a JSON string in <c>message</c>; v3 has a plain sentence.</summary>
    private static string Neutron(ServiceKind service, string message, string type) => service == ServiceKind.Vpc
        ? JsonSerializer.Serialize(new { NeutronError = new { message, type, detail = "" } })
        : message + ".";
}

/// <summary>Field checks shared by the VPC endpoints.</summary>
public static partial class VpcRules
{
    /// <summary>Names: letters (any script), digits, underscore, hyphen and period.</summary>
    public static bool IsValidName(string name, int min, int max) =>
        name.Length >= min && name.Length <= max && NameChars().IsMatch(name);

    public static bool IsValidDescription(string? description) =>
        description is null || (description.Length <= 255 && description.IndexOfAny(['<', '>']) < 0);

    /// <summary>An enterprise project id is "0" (the default project) or a UUID.</summary>
    public static bool IsValidEnterpriseProject(string id) => id == "0" || Guid.TryParseExact(id, "D", out _);

    /// <summary>
    /// Reads a body in the owning service's error shape, with the error code of the resource's module (a subnet
    /// body error is VPC.0201, a VPC body error VPC.0101).
    /// </summary>
    public static async Task<(T? Value, ApiError? Error)> ReadBodyAsync<T>(HttpContext http, ServiceKind service, string code)
        where T : class
    {
        var (value, error) = await JsonBody.ReadAsync<T>(http, service);
        return error is null ? (value, null) : (null, error with { Code = code });
    }

    /// <summary>The shared limit/marker paging arguments: ids sort ascending and the marker is the last id seen.</summary>
    public static bool TryPaging(HttpContext http, ServiceKind service, string code, out int limit, out string? marker, out ApiError? error)
    {
        marker = QueryArgs.String(http, "marker");
        limit = 2000;
        if (!QueryArgs.TryInt(http, "limit", service, out var requested, out error))
        {
            error = error! with { Code = code };
            return false;
        }
        if (requested is > 0) limit = Math.Min(requested.Value, 2000);
        return true;
    }

    [GeneratedRegex(@"^[\p{L}\p{N}_.\-]*$")]
    private static partial Regex NameChars();
}
