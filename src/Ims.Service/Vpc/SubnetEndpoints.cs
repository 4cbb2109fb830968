using System.Text.Json.Serialization;
using Ims.Service.Auth;
using Ims.Service.Http;
using Ims.Service.Storage;

namespace Ims.Service.Vpc;

/// <summary>
/// Subnets (v1): create and read by subnet id, update and delete under their VPC's path, as
/// <c>huaweicloud_vpc_subnet</c> drives them. A subnet must lie inside its VPC, hold its gateway, and not overlap its
/// siblings; it cannot be deleted while a port (an ECS NIC) still has an address in it.
/// </summary>
public static class SubnetEndpoints
{
    /// <summary>DHCP options the v1 API knows; any other name is a parameter error.</summary>
    private static readonly string[] DhcpOptionNames = ["addresstime", "ipv6_addresstime", "ntp", "domainname"];

    public static IEndpointRouteBuilder MapSubnets(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1/{project_id}").ForService(ServiceKind.Vpc);
        v1.MapPost("/subnets", CreateSubnet);
        v1.MapGet("/subnets", ListSubnets);
        v1.MapGet("/subnets/{subnet_id}", GetSubnet);
        v1.MapPut("/vpcs/{vpc_id}/subnets/{subnet_id}", UpdateSubnet);
        v1.MapDelete("/vpcs/{vpc_id}/subnets/{subnet_id}", DeleteSubnet);
        return app;
    }

    private static async Task<IResult> CreateSubnet(HttpContext http, Caller caller, Database db, VpcStore vpcs, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (body, error) = await VpcRules.ReadBodyAsync<SubnetRequest>(http, ServiceKind.Vpc, "VPC.0201");
        if (error is not null) return error;
        if (body!.Subnet is not { } option) return VpcErrors.SubnetParam("The subnet object is required.");

        if (option.Name is null || !VpcRules.IsValidName(option.Name, 1, 64)) return VpcErrors.SubnetParam("Subnet name is invalid.");
        if (!VpcRules.IsValidDescription(option.Description)) return VpcErrors.SubnetParam("Subnet description is invalid.");
        if (string.IsNullOrEmpty(option.VpcId)) return VpcErrors.SubnetParam("vpc_id is invalid.");
        if (string.IsNullOrEmpty(option.Cidr)) return VpcErrors.SubnetParam("cidr is required.");
        if (!Ipv4Cidr.TryParse(option.Cidr, out var cidr) || cidr.Prefix > 28) return VpcErrors.SubnetCidrInvalid();
        // The gateway is a host of the subnet: neither its network nor its broadcast address.
        if (!Ipv4.TryParse(option.GatewayIp, out var gateway) || !cidr.Contains(gateway) || gateway == cidr.Network || gateway == cidr.Broadcast)
            return VpcErrors.SubnetParam("gateway_ip is invalid.");
        if (option.Ipv6Enable == true) return VpcErrors.SubnetParam("ipv6_enable is not supported: this service has IPv4 subnets only.");
        var (dns, primary, secondary, dnsError) = ResolveDns(option.PrimaryDns, option.SecondaryDns, option.DnsList, null);
        if (dnsError is not null) return dnsError;
        var (options, optionsError) = MergeDhcpOptions([new DhcpOption("addresstime", "24h")], option.ExtraDhcpOpts);
        if (optionsError is not null) return optionsError;

        await using var write = await db.BeginWriteAsync(ct);
        var vpc = await vpcs.GetVpcAsync(write, caller.ProjectId, option.VpcId, ct);
        if (vpc is null) return VpcErrors.VpcNotFound(ServiceKind.Vpc);
        var inside = Ipv4Cidr.TryParse(vpc.Cidr, out var vpcRange)
            ? vpcRange.Contains(cidr)
            : Ipv4Cidr.PrivateRanges.Any(r => r.Contains(cidr));  // a VPC created without a range takes any private one
        if (!inside) return VpcErrors.SubnetOutsideVpc();
        var siblings = await vpcs.GetSubnetCidrsAsync(write, vpc.Id, ct);
        foreach (var sibling in siblings)
            if (Ipv4Cidr.TryParse(sibling, out var other) && other.Overlaps(cidr)) return VpcErrors.SubnetConflict();

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var row = new SubnetRow
        {
            Id = Ids.NewUuid(),
            ProjectId = caller.ProjectId,
            VpcId = vpc.Id,
            Name = option.Name,
            Description = option.Description ?? "",
            Cidr = cidr.ToString(),
            GatewayIp = Ipv4.Format(gateway),
            PrimaryDns = primary,
            SecondaryDns = secondary,
            DnsList = VpcWire.WriteList(dns),
            DhcpEnable = option.DhcpEnable == false ? 0 : 1,
            AvailabilityZone = string.IsNullOrEmpty(option.AvailabilityZone) ? null : option.AvailabilityZone,
            Status = "ACTIVE",
            NeutronSubnetId = Ids.NewUuid(),
            ExtraDhcpOpts = VpcWire.WriteList(options),
            CreatedAt = now,
            UpdatedAt = now,
        };
        await vpcs.InsertSubnetAsync(write, row, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { subnet = VpcWire.Subnet(row) });
    }

    private static async Task<IResult> GetSubnet(string subnet_id, Caller caller, VpcStore vpcs, HttpContext http)
    {
        var subnet = await vpcs.GetSubnetAsync(caller.ProjectId, subnet_id, http.RequestAborted);
        return subnet is null ? VpcErrors.SubnetNotFound() : TypedResults.Json(new { subnet = VpcWire.Subnet(subnet) });
    }

    private static async Task<IResult> ListSubnets(HttpContext http, Caller caller, VpcStore vpcs)
    {
        var ct = http.RequestAborted;
        if (!VpcRules.TryPaging(http, ServiceKind.Vpc, "VPC.0201", out var limit, out var marker, out var error)) return error!;
        var vpcId = QueryArgs.String(http, "vpc_id");
        var rows = await vpcs.ListSubnetsAsync(caller.ProjectId, vpcId, marker, limit, ct);
        return TypedResults.Json(new { subnets = rows.Select(VpcWire.Subnet) });
    }

    private static async Task<IResult> UpdateSubnet(string vpc_id, string subnet_id, HttpContext http, Caller caller, Database db, VpcStore vpcs,
        TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (body, error) = await VpcRules.ReadBodyAsync<SubnetRequest>(http, ServiceKind.Vpc, "VPC.0201");
        if (error is not null) return error;
        if (body!.Subnet is not { } option) return VpcErrors.SubnetParam("The subnet object is required.");
        if (option.Name is { } name && !VpcRules.IsValidName(name, 1, 64)) return VpcErrors.SubnetParam("Subnet name is invalid.");
        if (!VpcRules.IsValidDescription(option.Description)) return VpcErrors.SubnetParam("Subnet description is invalid.");
        if (option.Ipv6Enable == true) return VpcErrors.SubnetParam("ipv6_enable is not supported: this service has IPv4 subnets only.");

        await using var write = await db.BeginWriteAsync(ct);
        var (subnet, lookupError) = await FindUnderVpcAsync(write, vpcs, caller.ProjectId, vpc_id, subnet_id, ct);
        if (subnet is null) return lookupError!;

        var (dns, primary, secondary, dnsError) = ResolveDns(option.PrimaryDns, option.SecondaryDns, option.DnsList, subnet);
        if (dnsError is not null) return dnsError;
        var (options, optionsError) = MergeDhcpOptions(subnet.DhcpOptions, option.ExtraDhcpOpts);
        if (optionsError is not null) return optionsError;

        var updated = subnet with
        {
            Name = option.Name ?? subnet.Name,
            Description = option.Description ?? subnet.Description,
            DhcpEnable = option.DhcpEnable is { } dhcp ? (dhcp ? 1 : 0) : subnet.DhcpEnable,
            PrimaryDns = primary,
            SecondaryDns = secondary,
            DnsList = VpcWire.WriteList(dns),
            ExtraDhcpOpts = VpcWire.WriteList(options),
            UpdatedAt = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };
        await vpcs.UpdateSubnetAsync(write, updated, ct);
        await write.CommitAsync(ct);
        // The real update answers with the id and status only.
        return TypedResults.Json(new { subnet = new { id = updated.Id, status = updated.Status } });
    }

    private static async Task<IResult> DeleteSubnet(string vpc_id, string subnet_id, HttpContext http, Caller caller, Database db, VpcStore vpcs)
    {
        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        var (subnet, lookupError) = await FindUnderVpcAsync(write, vpcs, caller.ProjectId, vpc_id, subnet_id, ct);
        if (subnet is null) return lookupError!;
        if (await vpcs.SubnetHasPortsAsync(write, subnet.Id, ct)) return VpcErrors.SubnetInUse();
        await vpcs.DeleteSubnetAsync(write, subnet.Id, ct);
        await write.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    /// <summary>The subnet of a <c>/vpcs/{vpc_id}/subnets/{subnet_id}</c> path: 404 if unknown, 400 if under another VPC.</summary>
    private static async Task<(SubnetRow? Subnet, ApiError? Error)> FindUnderVpcAsync(WriteScope write, VpcStore vpcs, string projectId,
        string vpcId, string subnetId, CancellationToken ct)
    {
        var subnet = await vpcs.GetSubnetAsync(write, projectId, subnetId, ct);
        if (subnet is null) return (null, VpcErrors.SubnetNotFound());
        if (subnet.VpcId != vpcId) return (null, VpcErrors.SubnetNotInVpc());
        return (subnet, null);
    }

    /// <summary>
    /// Reconciles <c>primary_dns</c>, <c>secondary_dns</c> and <c>dnsList</c> the way the service does: the list is
    /// the full set and the two named servers are its first entries. Terraform sends only <c>dnsList</c> when the
    /// configuration names no primary server, and only the primary/secondary pair otherwise.
    /// </summary>
    private static (List<string> Dns, string? Primary, string? Secondary, ApiError? Error) ResolveDns(
        string? primary, string? secondary, List<string>? list, SubnetRow? current)
    {
        foreach (var address in new[] { primary, secondary }.Concat(list ?? []))
            if (!string.IsNullOrEmpty(address) && !Ipv4.TryParse(address, out _))
                return ([], null, null, VpcErrors.SubnetParam($"DNS server address {address} is invalid."));
        if (!string.IsNullOrEmpty(secondary) && string.IsNullOrEmpty(primary) && string.IsNullOrEmpty(current?.PrimaryDns) && list is null)
            return ([], null, null, VpcErrors.SubnetParam("secondary_dns requires primary_dns."));

        if (list is not null)
        {
            if (list.Count > 5) return ([], null, null, VpcErrors.SubnetParam("dnsList can hold at most 5 addresses."));
            var dns = list.Distinct(StringComparer.Ordinal).ToList();
            if ((!string.IsNullOrEmpty(primary) && !dns.Contains(primary)) || (!string.IsNullOrEmpty(secondary) && !dns.Contains(secondary)))
                return ([], null, null, VpcErrors.SubnetParam("dnsList must contain primary_dns and secondary_dns."));
            return (dns, dns.ElementAtOrDefault(0), dns.ElementAtOrDefault(1), null);
        }
        if (primary is null && secondary is null && current is not null)
            return (current.Dns, current.PrimaryDns, current.SecondaryDns, null);

        var newPrimary = primary ?? current?.PrimaryDns;
        var newSecondary = secondary ?? current?.SecondaryDns;
        var pair = new[] { newPrimary, newSecondary }.Where(a => !string.IsNullOrEmpty(a)).Select(a => a!).Distinct().ToList();
        return (pair, NullIfEmpty(newPrimary), NullIfEmpty(newSecondary), null);
    }

    /// <summary>
    /// Applies requested DHCP options over the current ones. An option sent without a value removes it, which is how
    /// terraform clears <c>ntp_server_address</c> and <c>dhcp_domain_name</c>.
    /// </summary>
    private static (List<DhcpOption> Options, ApiError? Error) MergeDhcpOptions(List<DhcpOption> current, List<DhcpOption>? requested)
    {
        var merged = current.ToList();
        foreach (var option in requested ?? [])
        {
            if (option is null || !DhcpOptionNames.Contains(option.OptName))
                return ([], VpcErrors.SubnetParam($"extra_dhcp_opts opt_name {option?.OptName} is invalid."));
            merged.RemoveAll(o => o.OptName == option.OptName);
            if (!string.IsNullOrEmpty(option.OptValue)) merged.Add(option);
        }
        return (merged, null);
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private sealed record SubnetRequest([property: JsonPropertyName("subnet")] SubnetOption? Subnet);

    private sealed record SubnetOption(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("description")] string? Description,
        [property: JsonPropertyName("cidr")] string? Cidr,
        [property: JsonPropertyName("gateway_ip")] string? GatewayIp,
        [property: JsonPropertyName("vpc_id")] string? VpcId,
        [property: JsonPropertyName("ipv6_enable")] bool? Ipv6Enable,
        [property: JsonPropertyName("dhcp_enable")] bool? DhcpEnable,
        [property: JsonPropertyName("primary_dns")] string? PrimaryDns,
        [property: JsonPropertyName("secondary_dns")] string? SecondaryDns,
        [property: JsonPropertyName("dnsList")] List<string>? DnsList,
        [property: JsonPropertyName("availability_zone")] string? AvailabilityZone,
        [property: JsonPropertyName("extra_dhcp_opts")] List<DhcpOption>? ExtraDhcpOpts);
}
