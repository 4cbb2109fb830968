using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Ims.Service.Storage;
using Ims.Service.Vpc;

namespace Ims.Service.Ecs;

/// <summary>
/// Allocates the addresses of a server's NICs. The ports are VPC's (<see cref="VpcStore"/> writes them); creating a server
/// is the only thing that makes them, so the allocation rule lives with ECS.
/// </summary>
public static class Ports
{
    /// <summary>Why an address could not be given out.</summary>
    public enum Refusal
    {
        None,
        OutsideSubnet,
        InUse,
        Exhausted,
    }

    /// <summary>
    /// Picks the address for a NIC: the requested one if it is usable, else the lowest free one. Like VPC,
    /// the network address, the gateway, the broadcast address and the two addresses below it (DHCP and DNS)
    /// are never handed out.
    /// </summary>
    public static async Task<(string? Ip, Refusal Refusal)> AllocateAsync(WriteScope write, VpcStore vpcs, SubnetRow subnet, string? requested,
        ISet<string> takenInThisRequest, CancellationToken ct)
    {
        if (!TryParseCidr(subnet.Cidr, out var network, out var prefix)) return (null, Refusal.Exhausted);
        var size = prefix >= 32 ? 1u : 1u << (32 - prefix);
        var first = network + 1;
        var last = network + size - 1 - 3;
        var gateway = TryToUInt(subnet.GatewayIp, out var g) ? g : network + 1;
        var taken = new HashSet<string>(await vpcs.GetTakenAddressesAsync(write, subnet.Id, ct), StringComparer.Ordinal);
        taken.UnionWith(takenInThisRequest);

        if (requested is not null)
        {
            if (!TryToUInt(requested, out var wanted) || wanted < first || wanted > last || wanted == gateway)
                return (null, Refusal.OutsideSubnet);
            return taken.Contains(requested) ? (null, Refusal.InUse) : (requested, Refusal.None);
        }
        for (var candidate = first; candidate <= last && size >= 8; candidate++)
        {
            if (candidate == gateway) continue;
            var text = ToText(candidate);
            if (!taken.Contains(text)) return (text, Refusal.None);
        }
        return (null, Refusal.Exhausted);
    }

    /// <summary>A locally administered MAC in the OpenStack range real ECS NICs use.</summary>
    public static string NewMac()
    {
        Span<byte> tail = stackalloc byte[3];
        RandomNumberGenerator.Fill(tail);
        return $"fa:16:3e:{tail[0]:x2}:{tail[1]:x2}:{tail[2]:x2}";
    }

    public static bool IsIpv4(string? text) => TryToUInt(text, out _);

    private static bool TryParseCidr(string cidr, out uint network, out int prefix)
    {
        network = 0;
        prefix = 0;
        var parts = cidr.Split('/');
        if (parts.Length != 2 || !TryToUInt(parts[0], out var address) || !int.TryParse(parts[1], out prefix) || prefix is < 0 or > 32)
            return false;
        var mask = prefix == 0 ? 0u : uint.MaxValue << (32 - prefix);
        network = address & mask;
        return true;
    }

    private static bool TryToUInt(string? text, out uint value)
    {
        value = 0;
        if (text is null || !IPAddress.TryParse(text, out var ip) || ip.AddressFamily != AddressFamily.InterNetwork
            || ip.ToString() != text)
            return false;
        var bytes = ip.GetAddressBytes();
        value = ((uint)bytes[0] << 24) | ((uint)bytes[1] << 16) | ((uint)bytes[2] << 8) | bytes[3];
        return true;
    }

    private static string ToText(uint value) => $"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}";
}
