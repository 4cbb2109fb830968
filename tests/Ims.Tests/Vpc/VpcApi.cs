using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Dapper;
using Ims.Service.Storage;
using Ims.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Ims.Tests.Vpc;

/// <summary>Shared steps and assertions for the VPC tests.</summary>
internal static partial class VpcApi
{
    /// <summary>The DNS servers terraform sends for cn-north-4 when a subnet names no primary_dns.</summary>
    public static readonly string[] TerraformDns = ["100.125.1.250", "100.125.129.250"];

    public static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 64)];

    public static async Task<JsonNode> CreateVpcAsync(ApiClient client, string cidr = "192.168.0.0/16", string? name = null)
    {
        var response = await client.PostAsync($"/v1/{client.ProjectId}/vpcs",
            new { vpc = new { name = name ?? UniqueName("vpc"), cidr, description = "test vpc" } });
        return response.Expect(200)["vpc"];
    }

    /// <summary>Creates a subnet with the body terraform's huaweicloud_vpc_subnet sends by default.</summary>
    public static async Task<JsonNode> CreateSubnetAsync(ApiClient client, string vpcId, string cidr = "192.168.1.0/24",
        string gateway = "192.168.1.1")
    {
        var response = await client.PostAsync($"/v1/{client.ProjectId}/subnets", new
        {
            subnet = new
            {
                name = UniqueName("subnet"),
                cidr,
                vpc_id = vpcId,
                gateway_ip = gateway,
                ipv6_enable = false,
                dhcp_enable = true,
                dnsList = TerraformDns,
            },
        });
        return response.Expect(200)["subnet"];
    }

    public static async Task<JsonNode> CreateSecurityGroupAsync(ApiClient client)
    {
        var response = await client.PostAsync($"/v3/{client.ProjectId}/vpc/security-groups",
            new { security_group = new { name = UniqueName("sg") } });
        return response.Expect(201)["security_group"];
    }

    /// <summary>Asserts the v1 VPC error shape: top-level code and message, nothing else.</summary>
    public static void ExpectV1Error(this ApiResponse response, int status, string code)
    {
        response.Expect(status);
        Assert.Equal(code, (string?)response.Json["code"]);
        Assert.False(string.IsNullOrEmpty((string?)response.Json["message"]), response.Body);
        Assert.Null(response.Json["error_code"]);
    }

    /// <summary>Asserts the v3 VPC error shape: error_code, error_msg and request_id at the top level.</summary>
    public static void ExpectV3Error(this ApiResponse response, int status, string code)
    {
        response.Expect(status);
        Assert.Equal(code, (string?)response.Json["error_code"]);
        Assert.False(string.IsNullOrEmpty((string?)response.Json["error_msg"]), response.Body);
        Assert.Equal(response.Headers.GetValues("X-Request-Id").Single(), (string?)response.Json["request_id"]);
    }

    public static void AssertString(JsonNode? node, string name)
    {
        Assert.True(node?[name] is JsonValue v && v.GetValueKind() == JsonValueKind.String, $"{name} is not a string in {node?.ToJsonString()}");
    }

    public static void AssertWireTime(JsonNode? node, string name)
    {
        AssertString(node, name);
        Assert.Matches(WireTimePattern(), (string)node![name]!);
    }

    /// <summary>Inserts a port as ECS does when it builds a server's NIC.</summary>
    public static async Task<string> InsertPortAsync(TestService service, string projectId, string subnetId, string deviceId,
        string ipAddress, params string[] securityGroupIds)
    {
        var id = Guid.NewGuid().ToString("D");
        var db = service.App.Services.GetRequiredService<Database>();
        await using var write = await db.BeginWriteAsync(CancellationToken.None);
        await write.Connection.ExecuteAsync(
            """
            INSERT INTO ports (id, project_id, subnet_id, device_id, device_owner, ip_address, mac_address, security_group_ids,
                is_primary, status, created_at)
            VALUES (@id, @projectId, @subnetId, @deviceId, 'compute:az1', @ipAddress, 'fa:16:3e:00:00:01', @sgs, 1, 'ACTIVE', 0)
            """,
            new { id, projectId, subnetId, deviceId, ipAddress, sgs = JsonSerializer.Serialize(securityGroupIds) }, write.Transaction);
        await write.CommitAsync(CancellationToken.None);
        return id;
    }

    public static async Task DeletePortAsync(TestService service, string portId)
    {
        var db = service.App.Services.GetRequiredService<Database>();
        await using var write = await db.BeginWriteAsync(CancellationToken.None);
        await write.Connection.ExecuteAsync("DELETE FROM ports WHERE id = @portId", new { portId }, write.Transaction);
        await write.CommitAsync(CancellationToken.None);
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")]
    private static partial Regex WireTimePattern();
}
