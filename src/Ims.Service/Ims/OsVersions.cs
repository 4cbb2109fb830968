using Ims.Service.Http;

namespace Ims.Service.Ims;

/// <summary>
/// <c>GET /v1/cloudimages/os_version</c> (the SDKs' ListOsVersions, terraform's <c>huaweicloud_ims_os_versions</c>): the OS
/// versions this service knows, grouped by platform: those of the seeded public images and the common ones an image's
/// <c>__os_version</c> names. Platform, type and bits come from <see cref="NativeImageRules.DescribeOs"/>, the same rule
/// that derives them for a new image.
/// </summary>
public static class OsVersions
{
    private sealed record Entry(string OsVersion, bool Uefi);

    /// <summary>Every version is an x86 KVM guest; <c>Uefi</c> marks those that boot with UEFI too.</summary>
    private static readonly Entry[] Catalog =
    [
        new("Ubuntu 18.04 server 64bit", false),
        new("Ubuntu 20.04 server 64bit", true),
        new("Ubuntu 22.04 server 64bit", true),
        new("Debian GNU/Linux 10.0.0 64bit", false),
        new("Debian GNU/Linux 11.0.0 64bit", true),
        new("Debian GNU/Linux 12.0.0 64bit", true),
        new("CentOS 7.9 64bit", false),
        new("CentOS Stream 9 64bit", true),
        new("EulerOS 2.5 64bit", false),
        new("openEuler 22.03 64bit", true),
        new("Rocky Linux 9.0 64bit", true),
        new("AlmaLinux 9.0 64bit", true),
        new("Windows Server 2019 Datacenter 64bit English", true),
        new("Windows Server 2022 Datacenter 64bit English", true),
        new("Other Linux(64 bit)", false),
        new("Other(32 bit)", false),
    ];

    /// <summary>
    /// The tags the reference documents: <c>uefi</c> (UEFI boot), <c>x86</c>, <c>arm</c>, <c>bms</c>; its own example asks for
    /// <c>kvm</c>, which every version here is. Several tags must all hold; a tag nothing here has selects nothing.
    /// </summary>
    private static bool Has(Entry entry, string tag) => tag.ToLowerInvariant() switch
    {
        "x86" or "kvm" => true,
        "uefi" => entry.Uefi,
        _ => false, // arm, bms: no ARM and no bare-metal images here
    };

    public static IEndpointRouteBuilder MapOsVersions(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/cloudimages/os_version", List).ForService(ServiceKind.Ims);
        return app;
    }

    /// <summary>A JSON array of <c>{platform, version_list: [{platform, os_version_key, os_version, os_bit, os_type}]}</c>.</summary>
    private static IResult List(HttpContext http)
    {
        var tags = http.Request.Query["tag"].SelectMany(v => (v ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .ToList();
        var groups = Catalog.Where(e => tags.All(t => Has(e, t)))
            .Select(e => (Entry: e, Os: NativeImageRules.DescribeOs(e.OsVersion)))
            .GroupBy(x => x.Os.Platform)
            .ToList();
        return new JsonWriterResult(w =>
        {
            w.WriteStartArray();
            foreach (var group in groups)
            {
                w.WriteStartObject();
                w.WriteString("platform", group.Key);
                w.WriteStartArray("version_list");
                foreach (var (entry, os) in group)
                {
                    w.WriteStartObject();
                    w.WriteString("platform", os.Platform);
                    w.WriteString("os_version_key", entry.OsVersion);
                    w.WriteString("os_version", entry.OsVersion);
                    w.WriteNumber("os_bit", int.Parse(os.OsBit, System.Globalization.CultureInfo.InvariantCulture));
                    w.WriteString("os_type", os.OsType);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }
}
