using Ims.Service.Storage;

namespace Ims.Service.Vpc;

/// <summary>
/// The VPC aggregate: <c>vpcs</c>, <c>subnets</c>, <c>security_groups</c> (with their rules) and the reads of
/// <c>ports</c> (ECS makes a server's ports, see <c>Ecs/Ports</c>). The only code of the VPC slice that touches those tables.
/// </summary>
public sealed class VpcStore(Database db)
{
    // ----- VPCs ---------------------------------------------------------------------------------------------------

    private const string SelectVpc = $"SELECT {VpcRow.Columns} FROM vpcs WHERE id = @vpcId AND project_id = @projectId";

    public Task<VpcRow?> GetVpcAsync(string projectId, string vpcId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<VpcRow>(SelectVpc, new { vpcId, projectId }, ct);

    public Task<VpcRow?> GetVpcAsync(WriteScope tx, string projectId, string vpcId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<VpcRow>(SelectVpc, new { vpcId, projectId }, ct);

    /// <summary>The project's VPCs in id order after <paramref name="marker"/>, optionally one id or enterprise project.</summary>
    public async Task<IReadOnlyList<VpcRow>> ListVpcsAsync(string projectId, string? id, string? enterpriseProjectId, string? marker, int limit,
        CancellationToken ct) =>
        await db.QueryAsync<VpcRow>(
            $"""
            SELECT {VpcRow.Columns} FROM vpcs
            WHERE project_id = @projectId AND (@id IS NULL OR id = @id) AND (@eps IS NULL OR enterprise_project_id = @eps)
              AND (@marker IS NULL OR id > @marker)
            ORDER BY id LIMIT @limit
            """, new { projectId, id, eps = enterpriseProjectId, marker, limit }, ct);

    /// <summary>Whether another VPC of the project has the name.</summary>
    public async Task<bool> IsVpcNameTakenAsync(WriteScope tx, string projectId, string name, string? exceptId, CancellationToken ct) =>
        await tx.ExecuteScalarAsync<long?>(
            "SELECT 1 FROM vpcs WHERE project_id = @projectId AND name = @name AND (@exceptId IS NULL OR id <> @exceptId) LIMIT 1",
            new { projectId, name, exceptId }, ct) is not null;

    public Task InsertVpcAsync(WriteScope tx, VpcRow row, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            INSERT INTO vpcs (id, project_id, name, description, cidr, status, enterprise_project_id, created_at, updated_at)
            VALUES (@Id, @ProjectId, @Name, @Description, @Cidr, @Status, @EnterpriseProjectId, @CreatedAt, @UpdatedAt)
            """, row, ct);

    public Task UpdateVpcAsync(WriteScope tx, VpcRow row, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE vpcs SET name = @Name, description = @Description, cidr = @Cidr, updated_at = @UpdatedAt WHERE id = @Id", row, ct);

    public Task DeleteVpcAsync(WriteScope tx, string vpcId, CancellationToken ct) =>
        tx.ExecuteAsync("DELETE FROM vpcs WHERE id = @vpcId", new { vpcId }, ct);

    // ----- subnets ------------------------------------------------------------------------------------------------

    internal const string SelectSubnet = $"SELECT {SubnetRow.Columns} FROM subnets WHERE id = @subnetId AND project_id = @projectId";

    public Task<SubnetRow?> GetSubnetAsync(string projectId, string subnetId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<SubnetRow>(SelectSubnet, new { subnetId, projectId }, ct);

    public Task<SubnetRow?> GetSubnetAsync(WriteScope tx, string projectId, string subnetId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<SubnetRow>(SelectSubnet, new { subnetId, projectId }, ct);

    public async Task<long> CountSubnetsAsync(string vpcId, CancellationToken ct) =>
        await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM subnets WHERE vpc_id = @vpcId", new { vpcId }, ct);

    /// <summary>The ranges of the VPC's subnets (empty: the VPC has none).</summary>
    public async Task<IReadOnlyList<string>> GetSubnetCidrsAsync(WriteScope tx, string vpcId, CancellationToken ct) =>
        await tx.QueryAsync<string>("SELECT cidr FROM subnets WHERE vpc_id = @vpcId", new { vpcId }, ct);

    /// <summary>The project's subnets in id order after <paramref name="marker"/>, optionally of one VPC.</summary>
    public async Task<IReadOnlyList<SubnetRow>> ListSubnetsAsync(string projectId, string? vpcId, string? marker, int limit, CancellationToken ct) =>
        await db.QueryAsync<SubnetRow>(
            $"""
            SELECT {SubnetRow.Columns} FROM subnets
            WHERE project_id = @projectId AND (@vpcId IS NULL OR vpc_id = @vpcId) AND (@marker IS NULL OR id > @marker)
            ORDER BY id LIMIT @limit
            """, new { projectId, vpcId, marker, limit }, ct);

    public Task InsertSubnetAsync(WriteScope tx, SubnetRow row, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            INSERT INTO subnets (id, project_id, vpc_id, name, description, cidr, gateway_ip, primary_dns, secondary_dns,
                dns_list, dhcp_enable, availability_zone, status, neutron_subnet_id, extra_dhcp_opts, created_at, updated_at)
            VALUES (@Id, @ProjectId, @VpcId, @Name, @Description, @Cidr, @GatewayIp, @PrimaryDns, @SecondaryDns,
                @DnsList, @DhcpEnable, @AvailabilityZone, @Status, @NeutronSubnetId, @ExtraDhcpOpts, @CreatedAt, @UpdatedAt)
            """, row, ct);

    public Task UpdateSubnetAsync(WriteScope tx, SubnetRow row, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            UPDATE subnets SET name = @Name, description = @Description, dhcp_enable = @DhcpEnable, primary_dns = @PrimaryDns,
                secondary_dns = @SecondaryDns, dns_list = @DnsList, extra_dhcp_opts = @ExtraDhcpOpts, updated_at = @UpdatedAt
            WHERE id = @Id
            """, row, ct);

    public Task DeleteSubnetAsync(WriteScope tx, string subnetId, CancellationToken ct) =>
        tx.ExecuteAsync("DELETE FROM subnets WHERE id = @subnetId", new { subnetId }, ct);

    /// <summary>Whether any port (an ECS NIC) still has an address in the subnet.</summary>
    public async Task<bool> SubnetHasPortsAsync(WriteScope tx, string subnetId, CancellationToken ct) =>
        await tx.ExecuteScalarAsync<long?>("SELECT 1 FROM ports WHERE subnet_id = @subnetId LIMIT 1", new { subnetId }, ct) is not null;

    // ----- security groups ----------------------------------------------------------------------------------------

    private const string SelectGroup = $"SELECT {SecurityGroupRow.Columns} FROM security_groups WHERE id = @groupId AND project_id = @projectId";

    public Task<SecurityGroupRow?> GetSecurityGroupAsync(string projectId, string groupId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<SecurityGroupRow>(SelectGroup, new { groupId, projectId }, ct);

    public Task<SecurityGroupRow?> GetSecurityGroupAsync(WriteScope tx, string projectId, string groupId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<SecurityGroupRow>(SelectGroup, new { groupId, projectId }, ct);

    /// <summary>The project's security groups in id order after <paramref name="marker"/>, optionally of one enterprise project.</summary>
    public async Task<IReadOnlyList<SecurityGroupRow>> ListSecurityGroupsAsync(string projectId, string? enterpriseProjectId, string? marker,
        CancellationToken ct) =>
        await db.QueryAsync<SecurityGroupRow>(
            $"""
            SELECT {SecurityGroupRow.Columns} FROM security_groups
            WHERE project_id = @projectId AND (@eps IS NULL OR enterprise_project_id = @eps) AND (@marker IS NULL OR id > @marker)
            ORDER BY id
            """, new { projectId, eps = enterpriseProjectId, marker }, ct);

    /// <summary>The project's groups whose rules mention <paramref name="ruleId"/> (rule ids are UUIDs, so a text match narrows to one).</summary>
    public async Task<IReadOnlyList<SecurityGroupRow>> GetGroupsMentioningRuleAsync(WriteScope tx, string projectId, string ruleId,
        CancellationToken ct) =>
        await tx.QueryAsync<SecurityGroupRow>(
            $"SELECT {SecurityGroupRow.Columns} FROM security_groups WHERE project_id = @projectId AND rules LIKE @pattern",
            new { projectId, pattern = $"%{ruleId}%" }, ct);

    public Task InsertSecurityGroupAsync(WriteScope tx, SecurityGroupRow group, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            INSERT INTO security_groups (id, project_id, name, description, enterprise_project_id, rules, created_at, updated_at)
            VALUES (@Id, @ProjectId, @Name, @Description, @EnterpriseProjectId, @Rules, @CreatedAt, @UpdatedAt)
            """, group, ct);

    public Task UpdateSecurityGroupAsync(WriteScope tx, SecurityGroupRow group, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE security_groups SET name = @Name, description = @Description, updated_at = @UpdatedAt WHERE id = @Id", group, ct);

    public Task SetRulesAsync(WriteScope tx, string groupId, string rules, long now, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE security_groups SET rules = @rules, updated_at = @now WHERE id = @groupId", new { rules, now, groupId }, ct);

    public Task DeleteSecurityGroupAsync(WriteScope tx, string groupId, CancellationToken ct) =>
        tx.ExecuteAsync("DELETE FROM security_groups WHERE id = @groupId", new { groupId }, ct);

    /// <summary>Whether a port of the project is in the group (<c>ports.security_group_ids</c> is a JSON array of quoted ids).</summary>
    public async Task<bool> IsSecurityGroupInUseAsync(WriteScope tx, string projectId, string groupId, CancellationToken ct) =>
        await tx.ExecuteScalarAsync<long?>(
            "SELECT 1 FROM ports WHERE project_id = @projectId AND security_group_ids LIKE @pattern LIMIT 1",
            new { projectId, pattern = $"%\"{groupId}\"%" }, ct) is not null;

    /// <summary>The project's subnets among <paramref name="subnetIds"/>.</summary>
    public async Task<IReadOnlyList<SubnetRow>> GetSubnetsAsync(WriteScope tx, string projectId, IReadOnlyCollection<string> subnetIds,
        CancellationToken ct) =>
        await tx.QueryAsync<SubnetRow>($"SELECT {SubnetRow.Columns} FROM subnets WHERE project_id = @projectId AND id IN @subnetIds",
            new { projectId, subnetIds }, ct);

    /// <summary>How many of <paramref name="groupIds"/> are security groups of the project.</summary>
    public async Task<long> CountSecurityGroupsAsync(WriteScope tx, string projectId, IReadOnlyCollection<string> groupIds, CancellationToken ct) =>
        await tx.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM security_groups WHERE project_id = @projectId AND id IN @groupIds",
            new { projectId, groupIds }, ct);

    /// <summary>The project's oldest security group named <c>default</c>, if it has one.</summary>
    public Task<string?> GetDefaultSecurityGroupIdAsync(WriteScope tx, string projectId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<string>(
            "SELECT id FROM security_groups WHERE project_id = @projectId AND name = 'default' ORDER BY created_at LIMIT 1", new { projectId }, ct);

    /// <summary>The project's security groups whose id or name is <paramref name="idOrName"/> (Nova names a group either way).</summary>
    public async Task<IReadOnlyList<SecurityGroupRow>> FindSecurityGroupsAsync(WriteScope tx, string projectId, string idOrName, CancellationToken ct) =>
        await tx.QueryAsync<SecurityGroupRow>(
            $"SELECT {SecurityGroupRow.Columns} FROM security_groups WHERE project_id = @projectId AND (id = @idOrName OR name = @idOrName)",
            new { projectId, idOrName }, ct);

    /// <summary>Names of the project's security groups among <paramref name="groupIds"/>, by id.</summary>
    public async Task<IReadOnlyDictionary<string, string>> GetSecurityGroupNamesAsync(string projectId, IReadOnlyCollection<string> groupIds,
        CancellationToken ct) =>
        groupIds.Count == 0
            ? new Dictionary<string, string>()
            : (await db.QueryAsync<(string Id, string Name)>("SELECT id, name FROM security_groups WHERE project_id = @projectId AND id IN @groupIds",
                new { projectId, groupIds }, ct)).ToDictionary(g => g.Id, g => g.Name, StringComparer.Ordinal);

    // ----- ports --------------------------------------------------------------------------------------------------

    /// <summary>The addresses given out in a subnet.</summary>
    public async Task<IReadOnlySet<string>> GetTakenAddressesAsync(WriteScope tx, string subnetId, CancellationToken ct) =>
        (await tx.QueryAsync<string>("SELECT ip_address FROM ports WHERE subnet_id = @subnetId", new { subnetId }, ct)).ToHashSet(StringComparer.Ordinal);

    /// <summary>Writes a server's new ports (NICs) in <c>BUILD</c>.</summary>
    public Task InsertPortsAsync(WriteScope tx, IEnumerable<NewPort> ports, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            INSERT INTO ports (id, project_id, subnet_id, device_id, device_owner, ip_address, mac_address, security_group_ids,
                               is_primary, status, created_at)
            VALUES (@Id, @ProjectId, @SubnetId, @DeviceId, @DeviceOwner, @IpAddress, @MacAddress, @SecurityGroupIds,
                    @isPrimary, 'BUILD', @CreatedAt)
            """,
            ports.Select(p => new
            {
                p.Id, p.ProjectId, p.SubnetId, p.DeviceId, p.DeviceOwner, p.IpAddress, p.MacAddress, p.SecurityGroupIds,
                isPrimary = p.IsPrimary ? 1 : 0, p.CreatedAt,
            }), ct);

    /// <summary>The ports of built servers become <c>ACTIVE</c>.</summary>
    public Task ActivatePortsAsync(WriteScope tx, string projectId, IReadOnlyCollection<string> deviceIds, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE ports SET status = 'ACTIVE' WHERE device_id IN @deviceIds AND project_id = @projectId", new { deviceIds, projectId }, ct);

    /// <summary>Deletes the ports of servers (their addresses go back to the subnet).</summary>
    public Task DeletePortsAsync(WriteScope tx, string projectId, IReadOnlyCollection<string> deviceIds, CancellationToken ct) =>
        tx.ExecuteAsync("DELETE FROM ports WHERE device_id IN @deviceIds AND project_id = @projectId", new { deviceIds, projectId }, ct);

    /// <summary>The servers (port devices) of the project with an address containing <paramref name="addressPart"/>.</summary>
    public async Task<IReadOnlyList<string>> GetDevicesWithAddressAsync(string projectId, string addressPart, CancellationToken ct) =>
        await db.QueryAsync<string>("SELECT device_id FROM ports WHERE project_id = @projectId AND ip_address LIKE @pattern",
            new { projectId, pattern = $"%{addressPart}%" }, ct);

    /// <summary>The lowest address of each server's primary NIC, by server (the ports are the server's project's).</summary>
    public async Task<IReadOnlyDictionary<string, string>> GetPrimaryAddressesAsync(IReadOnlyCollection<PortOwner> servers, CancellationToken ct)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var project in servers.GroupBy(s => s.ProjectId))
        {
            var rows = await db.QueryAsync<(string DeviceId, string Ip)>(
                "SELECT device_id, MIN(ip_address) FROM ports WHERE project_id = @projectId AND device_id IN @deviceIds AND is_primary = 1 GROUP BY device_id",
                new { projectId = project.Key, deviceIds = project.Select(s => s.Id).ToArray() }, ct);
            foreach (var (deviceId, ip) in rows) result[deviceId] = ip;
        }
        return result;
    }

    /// <summary>The ports of the servers with their VPC, primary first.</summary>
    public async Task<IReadOnlyList<DevicePort>> GetPortsOfDevicesAsync(string projectId, IReadOnlyCollection<string> deviceIds, CancellationToken ct) =>
        await db.QueryAsync<DevicePort>(
            """
            SELECT p.id AS Id, p.device_id AS DeviceId, p.ip_address AS IpAddress, p.mac_address AS MacAddress,
                   p.is_primary AS IsPrimary, s.vpc_id AS VpcId, p.security_group_ids AS SecurityGroupIds
            FROM ports p JOIN subnets s ON s.id = p.subnet_id
            WHERE p.project_id = @projectId AND p.device_id IN @deviceIds
            ORDER BY p.is_primary DESC, p.created_at, p.id
            """, new { projectId, deviceIds }, ct);

    /// <summary>A server's ports (NICs) with their security groups (a JSON array of ids), in the write's view.</summary>
    public async Task<IReadOnlyList<(string Id, string SecurityGroupIds)>> GetPortGroupsOfDeviceAsync(WriteScope tx, string projectId,
        string deviceId, CancellationToken ct) =>
        await tx.QueryAsync<(string Id, string SecurityGroupIds)>(
            "SELECT id, security_group_ids FROM ports WHERE project_id = @projectId AND device_id = @deviceId ORDER BY is_primary DESC, created_at, id",
            new { projectId, deviceId }, ct);

    public Task<PortRow?> GetPortAsync(WriteScope tx, string projectId, string portId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<PortRow>($"{PortRow.Select} WHERE p.id = @portId AND p.project_id = @projectId", new { portId, projectId }, ct);

    /// <summary>Sets a port's security groups and allowed address pairs (JSON arrays; null: unchanged).</summary>
    public Task UpdatePortAsync(WriteScope tx, string projectId, string portId, string? securityGroupIds, string? allowedAddressPairs,
        CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            UPDATE ports SET security_group_ids = COALESCE(@securityGroupIds, security_group_ids),
                   allowed_address_pairs = COALESCE(@allowedAddressPairs, allowed_address_pairs)
            WHERE id = @portId AND project_id = @projectId
            """, new { securityGroupIds, allowedAddressPairs, portId, projectId }, ct);

    public Task<PortRow?> GetPortAsync(string projectId, string portId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<PortRow>($"{PortRow.Select} WHERE p.id = @portId AND p.project_id = @projectId", new { portId, projectId }, ct);

    /// <summary>The project's ports in id order after the filter's marker.</summary>
    public async Task<IReadOnlyList<PortRow>> ListPortsAsync(string projectId, PortFilter filter, CancellationToken ct) =>
        await db.QueryAsync<PortRow>(
            $"""
            {PortRow.Select}
            WHERE p.project_id = @projectId AND (@Id IS NULL OR p.id = @Id) AND (@DeviceId IS NULL OR p.device_id = @DeviceId)
              AND (@DeviceOwner IS NULL OR p.device_owner = @DeviceOwner) AND (@NetworkId IS NULL OR p.subnet_id = @NetworkId)
              AND (@MacAddress IS NULL OR p.mac_address = @MacAddress) AND (@Status IS NULL OR p.status = @Status)
              AND (@Marker IS NULL OR p.id > @Marker)
            ORDER BY p.id LIMIT @Limit
            """,
            new { projectId, filter.Id, filter.DeviceId, filter.DeviceOwner, filter.NetworkId, filter.MacAddress, filter.Status, filter.Marker, filter.Limit },
            ct);
}

/// <summary>The list filters of <c>GET /v1/{project_id}/ports</c>, parsed at the edge.</summary>
public sealed record PortFilter(string? Id, string? DeviceId, string? DeviceOwner, string? NetworkId, string? MacAddress, string? Status,
    string? Marker, int Limit);

/// <summary>A server's NIC to create: its address in a subnet and its security groups (a JSON array of ids).</summary>
public sealed record NewPort(string Id, string ProjectId, string SubnetId, string DeviceId, string DeviceOwner, string IpAddress,
    string MacAddress, string SecurityGroupIds, bool IsPrimary, long CreatedAt);

/// <summary>A port as a server's view shows it.</summary>
public sealed record DevicePort
{
    public string Id { get; init; } = "";
    public string DeviceId { get; init; } = "";
    public string IpAddress { get; init; } = "";
    public string MacAddress { get; init; } = "";
    public long IsPrimary { get; init; }
    public string VpcId { get; init; } = "";
    public string SecurityGroupIds { get; init; } = "[]";
}

/// <summary>A server as the owner of ports: its id and project.</summary>
public sealed record PortOwner(string Id, string ProjectId);
