using Ims.Service.Hosting;
using Microsoft.Extensions.Options;

namespace Ims.Service.Ecs;

/// <summary>A server flavor. Real flavors carry many more extra specs; these are the ones clients filter on.</summary>
public sealed record Flavor(string Id, int Vcpus, int RamMb, string PerformanceType, string Generation);

/// <summary>
/// The fixed catalog this emulator offers: availability zones derived from the region, a handful of realistic
/// flavors, and the disk types EVS knows. Code constants, because real clouds do not let tenants change them either.
/// </summary>
public sealed class Catalog(IOptions<ServiceOptions> options)
{
    public static readonly IReadOnlyList<Flavor> Flavors =
    [
        new("s6.small.1", 1, 1024, "normal", "s6"),
        new("s6.medium.2", 1, 2048, "normal", "s6"),
        new("s6.large.2", 2, 4096, "normal", "s6"),
        new("s6.xlarge.2", 4, 8192, "normal", "s6"),
        new("s6.2xlarge.2", 8, 16384, "normal", "s6"),
        new("s3.medium.2", 1, 2048, "normal", "s3"),
        new("s3.large.2", 2, 4096, "normal", "s3"),
        new("c6.large.2", 2, 4096, "computingv3", "c6"),
        new("c6.xlarge.2", 4, 8192, "computingv3", "c6"),
        new("m6.large.8", 2, 16384, "highmem", "m6"),
    ];

    /// <summary>Disk types accepted for system and data disks; DSS is dedicated distributed storage.</summary>
    public static readonly IReadOnlySet<string> VolumeTypes =
        new HashSet<string>(StringComparer.Ordinal) { "SATA", "SAS", "SSD", "GPSSD", "ESSD", "GPSSD2", "ESSD2", "DSS" };

    /// <summary>Huawei names zones with a letter (cn-north-4a); OTC with a two-digit suffix (eu-de-01).</summary>
    public IReadOnlyList<string> Zones
    {
        get
        {
            var region = options.Value.EffectiveRegion;
            return options.Value.Profile == CloudProfile.Otc
                ? [$"{region}-01", $"{region}-02", $"{region}-03"]
                : [$"{region}a", $"{region}b", $"{region}c"];
        }
    }

    public bool IsZone(string? zone) => zone is not null && Zones.Contains(zone, StringComparer.Ordinal);

    public static Flavor? FindFlavor(string? id) => Flavors.FirstOrDefault(f => string.Equals(f.Id, id, StringComparison.Ordinal));
}
