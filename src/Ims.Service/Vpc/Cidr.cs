using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Ims.Service.Vpc;

/// <summary>
/// Strict dotted-quad IPv4 parsing. <see cref="System.Net.IPAddress.TryParse(string, out System.Net.IPAddress)"/>
/// accepts forms such as "10" or "10.1" that the VPC API rejects, so addresses are parsed by hand.
/// </summary>
public static class Ipv4
{
    public static bool TryParse([NotNullWhen(true)] string? text, out uint address)
    {
        address = 0;
        if (string.IsNullOrEmpty(text)) return false;
        var parts = text.Split('.');
        if (parts.Length != 4) return false;
        foreach (var part in parts)
        {
            // No signs, no spaces, no leading zeros ("010" is octal to some parsers and decimal to others).
            if (part.Length is 0 or > 3 || (part.Length > 1 && part[0] == '0') || !part.All(char.IsAsciiDigit)) return false;
            var octet = int.Parse(part, CultureInfo.InvariantCulture);
            if (octet > 255) return false;
            address = (address << 8) | (uint)octet;
        }
        return true;
    }

    public static string Format(uint address) =>
        string.Create(CultureInfo.InvariantCulture, $"{address >> 24}.{(address >> 16) & 255}.{(address >> 8) & 255}.{address & 255}");
}

/// <summary>An IPv4 network in CIDR notation whose host bits are zero (the only form the VPC API accepts).</summary>
public readonly record struct Ipv4Cidr(uint Network, int Prefix)
{
    public uint Mask => Prefix == 0 ? 0 : uint.MaxValue << (32 - Prefix);

    public uint Broadcast => Network | ~Mask;

    /// <summary>The private ranges a VPC may use (RFC 1918).</summary>
    public static readonly Ipv4Cidr[] PrivateRanges =
    [
        new(0x0A000000, 8),   // 10.0.0.0/8
        new(0xAC100000, 12),  // 172.16.0.0/12
        new(0xC0A80000, 16),  // 192.168.0.0/16
    ];

    public static bool TryParse([NotNullWhen(true)] string? text, out Ipv4Cidr cidr)
    {
        cidr = default;
        if (text is null) return false;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0) return false;
        var prefixText = text[(slash + 1)..];
        if (prefixText.Length is 0 or > 2 || !prefixText.All(char.IsAsciiDigit)) return false;
        var prefix = int.Parse(prefixText, CultureInfo.InvariantCulture);
        if (prefix > 32 || !Ipv4.TryParse(text[..slash], out var address)) return false;
        var candidate = new Ipv4Cidr(address, prefix);
        if ((address & candidate.Mask) != address) return false;
        cidr = candidate;
        return true;
    }

    public bool Contains(uint address) => (address & Mask) == Network;

    public bool Contains(Ipv4Cidr other) => other.Prefix >= Prefix && Contains(other.Network);

    public bool Overlaps(Ipv4Cidr other) => Contains(other) || other.Contains(this);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Ipv4.Format(Network)}/{Prefix}");
}
