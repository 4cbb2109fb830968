using System.Globalization;

namespace Ims.Service.Csbs;

/// <summary>
/// vCPUs and RAM of a flavor, read from its name (<c>s6.large.2</c>: "large" is 2 vCPUs, the last part the GB of RAM per
/// vCPU). CSBS reports them in backup_data; the ECS flavor catalogue can replace this guess once it is shared.
/// </summary>
public static class Flavors
{
    public static (int Vcpus, int RamMb) Guess(string? flavorId)
    {
        var parts = flavorId?.Split('.') ?? [];
        if (parts.Length < 3 || !int.TryParse(parts[^1], NumberStyles.None, CultureInfo.InvariantCulture, out var ratio)) return (0, 0);
        var size = parts[^2];
        var vcpus = size switch
        {
            "small" or "medium" => 1,
            "large" => 2,
            "xlarge" => 4,
            _ when size.EndsWith("xlarge", StringComparison.Ordinal)
                   && int.TryParse(size[..^"xlarge".Length], NumberStyles.None, CultureInfo.InvariantCulture, out var times) => 4 * times,
            _ => 0,
        };
        return (vcpus, vcpus * ratio * 1024);
    }
}
