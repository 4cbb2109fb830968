using System.Data.Common;
using Dapper;

namespace Ims.Service.Vpc;

/// <summary>A row of the subnets table.</summary>
public sealed record SubnetRow
{
    public const string Columns = "id, project_id AS ProjectId, vpc_id AS VpcId, name, description, cidr, " +
        "gateway_ip AS GatewayIp, primary_dns AS PrimaryDns, secondary_dns AS SecondaryDns, dns_list AS DnsList, " +
        "dhcp_enable AS DhcpEnable, availability_zone AS AvailabilityZone, status, " +
        "neutron_subnet_id AS NeutronSubnetId, extra_dhcp_opts AS ExtraDhcpOpts, created_at AS CreatedAt, updated_at AS UpdatedAt";

    public required string Id { get; init; }
    public required string ProjectId { get; init; }
    public required string VpcId { get; init; }
    public required string Name { get; init; }
    public required string Description { get; init; }
    public required string Cidr { get; init; }
    public required string GatewayIp { get; init; }
    public string? PrimaryDns { get; init; }
    public string? SecondaryDns { get; init; }
    public string DnsList { get; init; } = "[]";
    public long DhcpEnable { get; init; }
    public string? AvailabilityZone { get; init; }
    public required string Status { get; init; }

    /// <summary>The IPv4 Neutron subnet id: what ports name in <c>fixed_ips[].subnet_id</c>.</summary>
    public required string NeutronSubnetId { get; init; }
    public string ExtraDhcpOpts { get; init; } = "[]";
    public long CreatedAt { get; init; }
    public long UpdatedAt { get; init; }

    public bool DhcpEnabled => DhcpEnable != 0;

    public List<string> Dns => VpcWire.ReadList<string>(DnsList);

    public List<DhcpOption> DhcpOptions => VpcWire.ReadList<DhcpOption>(ExtraDhcpOpts);
}

/// <summary>
/// A subnet read on a connection the caller already holds (the service reads subnets through <see cref="VpcStore"/>; this
/// shares its statement).
/// </summary>
public static class Subnets
{
    /// <summary>
    /// The subnet <paramref name="subnetId"/> if it exists in <paramref name="projectId"/>, else null (another
    /// tenant's subnet is "not found", never "forbidden"). Pass the transaction when called inside a write.
    /// </summary>
    public static Task<SubnetRow?> FindAsync(DbConnection connection, string projectId, string subnetId,
        DbTransaction? transaction = null, CancellationToken ct = default) =>
        connection.QuerySingleOrDefaultAsync<SubnetRow>(new CommandDefinition(
            VpcStore.SelectSubnet, new { subnetId, projectId }, transaction, cancellationToken: ct));
}
