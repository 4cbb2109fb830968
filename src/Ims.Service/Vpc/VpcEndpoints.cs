using System.Text.Json.Serialization;
using Ims.Service.Auth;
using Ims.Service.Http;
using Ims.Service.Storage;

namespace Ims.Service.Vpc;

/// <summary>
/// VPCs: the v1 CRUD that <c>huaweicloud_vpc</c> drives (create answers 200 only, update 200, delete 204 and 409
/// while subnets remain) and the v3 read it makes for <c>extend_cidrs</c>.
/// </summary>
public static class VpcEndpoints
{
    public static IEndpointRouteBuilder MapVpcs(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1/{project_id}/vpcs").ForService(ServiceKind.Vpc);
        v1.MapPost("", CreateVpc);
        v1.MapGet("", ListVpcs);
        v1.MapGet("/{vpc_id}", GetVpc);
        v1.MapPut("/{vpc_id}", UpdateVpc);
        v1.MapDelete("/{vpc_id}", DeleteVpc);

        app.MapGet("/v3/{project_id}/vpc/vpcs/{vpc_id}", GetVpcV3).ForService(ServiceKind.VpcV3);
        return app;
    }

    private static async Task<IResult> CreateVpc(HttpContext http, Caller caller, Database db, VpcStore vpcs, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (body, error) = await VpcRules.ReadBodyAsync<VpcRequest>(http, ServiceKind.Vpc, "VPC.0101");
        if (error is not null) return error;
        if (body!.Vpc is not { } option) return VpcErrors.VpcParam("The vpc object is required.");

        var name = option.Name ?? "";
        if (!VpcRules.IsValidName(name, 0, 64)) return VpcErrors.VpcParam("Vpc name is invalid.");
        if (!VpcRules.IsValidDescription(option.Description)) return VpcErrors.VpcParam("Vpc description is invalid.");
        var cidr = option.Cidr ?? "";
        if (cidr.Length > 0 && !IsValidVpcCidr(cidr)) return VpcErrors.VpcParam($"Vpc cidr {cidr} is invalid.");
        var eps = string.IsNullOrEmpty(option.EnterpriseProjectId) ? "0" : option.EnterpriseProjectId;
        if (!VpcRules.IsValidEnterpriseProject(eps)) return VpcErrors.VpcParam("enterprise_project_id is invalid.");

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var row = new VpcRow
        {
            Id = Ids.NewUuid(),
            ProjectId = caller.ProjectId,
            Name = name,
            Description = option.Description ?? "",
            Cidr = cidr,
            Status = "OK",
            EnterpriseProjectId = eps,
            CreatedAt = now,
            UpdatedAt = now,
        };

        await using var write = await db.BeginWriteAsync(ct);
        if (name.Length > 0 && await vpcs.IsVpcNameTakenAsync(write, caller.ProjectId, name, null, ct)) return VpcErrors.VpcNameTaken();
        await vpcs.InsertVpcAsync(write, row, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { vpc = VpcWire.V1(row) });
    }

    private static async Task<IResult> GetVpc(string vpc_id, Caller caller, VpcStore vpcs, HttpContext http)
    {
        var vpc = await vpcs.GetVpcAsync(caller.ProjectId, vpc_id, http.RequestAborted);
        return vpc is null ? VpcErrors.VpcNotFound(ServiceKind.Vpc) : TypedResults.Json(new { vpc = VpcWire.V1(vpc) });
    }

    private static async Task<IResult> GetVpcV3(string vpc_id, Caller caller, VpcStore vpcs, HttpContext http)
    {
        var ct = http.RequestAborted;
        var vpc = await vpcs.GetVpcAsync(caller.ProjectId, vpc_id, ct);
        if (vpc is null) return VpcErrors.VpcNotFound(ServiceKind.VpcV3);
        var subnets = await vpcs.CountSubnetsAsync(vpc_id, ct);
        return TypedResults.Json(new { request_id = RequestIds.Of(http), vpc = VpcWire.V3(vpc, subnets) });
    }

    private static async Task<IResult> ListVpcs(HttpContext http, Caller caller, VpcStore vpcs)
    {
        var ct = http.RequestAborted;
        if (!VpcRules.TryPaging(http, ServiceKind.Vpc, "VPC.0101", out var limit, out var marker, out var error)) return error!;
        var id = QueryArgs.String(http, "id");
        var eps = QueryArgs.String(http, "enterprise_project_id");
        if (eps == "all_granted_eps") eps = null;

        var rows = await vpcs.ListVpcsAsync(caller.ProjectId, id, eps, marker, limit, ct);
        return TypedResults.Json(new { vpcs = rows.Select(VpcWire.V1) });
    }

    private static async Task<IResult> UpdateVpc(string vpc_id, HttpContext http, Caller caller, Database db, VpcStore vpcs, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (body, error) = await VpcRules.ReadBodyAsync<VpcRequest>(http, ServiceKind.Vpc, "VPC.0101");
        if (error is not null) return error;
        if (body!.Vpc is not { } option) return VpcErrors.VpcParam("The vpc object is required.");
        if (option.Name is { } name && !VpcRules.IsValidName(name, 0, 64)) return VpcErrors.VpcParam("Vpc name is invalid.");
        if (!VpcRules.IsValidDescription(option.Description)) return VpcErrors.VpcParam("Vpc description is invalid.");
        if (option.Cidr is { Length: > 0 } cidr && !IsValidVpcCidr(cidr)) return VpcErrors.VpcParam($"Vpc cidr {cidr} is invalid.");

        await using var write = await db.BeginWriteAsync(ct);
        var vpc = await vpcs.GetVpcAsync(write, caller.ProjectId, vpc_id, ct);
        if (vpc is null) return VpcErrors.VpcNotFound(ServiceKind.Vpc);

        var updated = vpc with
        {
            Name = option.Name ?? vpc.Name,
            Description = option.Description ?? vpc.Description,
            Cidr = string.IsNullOrEmpty(option.Cidr) ? vpc.Cidr : option.Cidr,
            UpdatedAt = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };
        if (updated.Name != vpc.Name && updated.Name.Length > 0
            && await vpcs.IsVpcNameTakenAsync(write, caller.ProjectId, updated.Name, vpc.Id, ct))
            return VpcErrors.VpcNameTaken();
        if (updated.Cidr != vpc.Cidr)
        {
            // A VPC range may shrink or grow only while it still holds every subnet.
            Ipv4Cidr.TryParse(updated.Cidr, out var range);
            var subnetCidrs = await vpcs.GetSubnetCidrsAsync(write, vpc_id, ct);
            foreach (var subnet in subnetCidrs)
                if (!Ipv4Cidr.TryParse(subnet, out var s) || !range.Contains(s)) return VpcErrors.VpcCidrExcludesSubnets();
        }

        await vpcs.UpdateVpcAsync(write, updated, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { vpc = VpcWire.V1(updated) });
    }

    private static async Task<IResult> DeleteVpc(string vpc_id, HttpContext http, Caller caller, Database db, VpcStore vpcs)
    {
        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        var vpc = await vpcs.GetVpcAsync(write, caller.ProjectId, vpc_id, ct);
        if (vpc is null) return VpcErrors.VpcNotFound(ServiceKind.Vpc);
        if ((await vpcs.GetSubnetCidrsAsync(write, vpc_id, ct)).Count > 0) return VpcErrors.VpcHasSubnets();
        await vpcs.DeleteVpcAsync(write, vpc_id, ct);
        await write.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    /// <summary>A VPC range is an RFC 1918 block of /8 (or its range's own size) to /28, host bits zero.</summary>
    private static bool IsValidVpcCidr(string text) =>
        Ipv4Cidr.TryParse(text, out var cidr) && cidr.Prefix <= 28 && Ipv4Cidr.PrivateRanges.Any(r => r.Contains(cidr));

    private sealed record VpcRequest([property: JsonPropertyName("vpc")] VpcOption? Vpc);

    private sealed record VpcOption(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("description")] string? Description,
        [property: JsonPropertyName("cidr")] string? Cidr,
        [property: JsonPropertyName("enterprise_project_id")] string? EnterpriseProjectId,
        [property: JsonPropertyName("enable_shared_snat")] bool? EnableSharedSnat);
}
