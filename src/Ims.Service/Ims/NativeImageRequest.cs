using System.Text.Json.Serialization;
using Ims.Service.Http;

namespace Ims.Service.Ims;

/// <summary>The body of the native <c>POST /v2/images</c> (api-ref "Creating Image Metadata"), as clients send it.</summary>
public sealed record NativeImageRequest
{
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("__os_version")] public string? OsVersion { get; init; }
    [JsonPropertyName("visibility")] public string? Visibility { get; init; }
    [JsonPropertyName("protected")] public bool? Protected { get; init; }
    [JsonPropertyName("container_format")] public string? ContainerFormat { get; init; }
    [JsonPropertyName("disk_format")] public string? DiskFormat { get; init; }
    [JsonPropertyName("tags")] public List<string>? Tags { get; init; }
    [JsonPropertyName("min_ram")] public long? MinRam { get; init; }
    [JsonPropertyName("min_disk")] public long? MinDisk { get; init; }
}

/// <summary>A create request that passed every rule; the OS fields follow from <c>__os_version</c>.</summary>
public sealed record ValidNativeImageRequest(
    string Name,
    string OsVersion,
    string OsType,
    string Platform,
    string OsBit,
    bool Protected,
    string ContainerFormat,
    string DiskFormat,
    IReadOnlyList<ImageTags.Tag> Tags,
    long MinRam,
    long MinDisk);

/// <summary>The rules of <c>POST /v2/images</c>. Pure, so each is unit-tested with its exact error.</summary>
public static class NativeImageRules
{
    /// <summary>What the reference says an image without <c>__os_version</c> gets.</summary>
    public const string DefaultOsVersion = "Other Linux(64 bit)";

    /// <summary>The formats the upload page lists; only <see cref="UploadableFormats"/> can be read here.</summary>
    private static readonly HashSet<string> DiskFormats = new(StringComparer.Ordinal)
    {
        "zvhd2", "zvhd", "vhd", "vhdx", "raw", "qcow2", "qcow", "vmdk", "qed", "vdi", "iso",
    };

    /// <summary>
    /// The formats an upload reads: every listed format qemu-img reads (VHD is its <c>vpc</c>; an ISO is stored as it is).
    /// <c>zvhd</c> and <c>zvhd2</c> are Huawei's own formats, which no public tool reads; <c>qcow</c> (version 1) is not on
    /// IMS's list of importable formats.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, DataPlane.DiskFormat> UploadableFormats = new Dictionary<string, DataPlane.DiskFormat>(StringComparer.Ordinal)
    {
        ["raw"] = DataPlane.DiskFormat.Raw,
        ["qcow2"] = DataPlane.DiskFormat.Qcow2,
        ["vhd"] = DataPlane.DiskFormat.Vhd,
        ["vhdx"] = DataPlane.DiskFormat.Vhdx,
        ["vmdk"] = DataPlane.DiskFormat.Vmdk,
        ["qed"] = DataPlane.DiskFormat.Qed,
        ["vdi"] = DataPlane.DiskFormat.Vdi,
        ["iso"] = DataPlane.DiskFormat.Iso,
    };

    /// <summary>Glance's container formats.</summary>
    private static readonly HashSet<string> ContainerFormats = new(StringComparer.Ordinal)
    {
        "bare", "ovf", "ova", "ami", "ari", "aki", "docker", "compressed",
    };

    /// <summary>Platforms IMS names, matched in <c>__os_version</c> in this order.</summary>
    private static readonly (string Marker, string Platform)[] Platforms =
    [
        ("Windows", "Windows"), ("Ubuntu", "Ubuntu"), ("Debian", "Debian"), ("CentOS", "CentOS"), ("openEuler", "openEuler"),
        ("EulerOS", "EulerOS"), ("openSUSE", "OpenSUSE"), ("SUSE", "SUSE"), ("Fedora", "Fedora"), ("Oracle", "OracleLinux"),
        ("Red Hat", "RedHat"), ("CoreOS", "CoreOS"), ("Rocky", "Rocky"), ("AlmaLinux", "AlmaLinux"),
    ];

    public const int MaxMinDiskGb = 1024;

    public static (ValidNativeImageRequest? Request, ApiError? Error) Validate(NativeImageRequest body, bool chineseNames)
    {
        // The name is optional (an unnamed image cannot boot servers, the reference warns); given, IMS's rules apply.
        var name = body.Name ?? "";
        if (name.Length > 0 && WholeImageRules.NameError(name, chineseNames) is { } nameError) return Fail(nameError);

        switch (body.Visibility)
        {
            case null or "private": break;
            // Glance refuses an ordinary user these visibilities; IMS allows only private when creating metadata.
            case "public" or "shared" or "community":
                return (null, ImsErrors.Of("IMG.0161", "When image metadata is created, visibility can only be private.",
                    StatusCodes.Status403Forbidden));
            default: return Fail("IMG.0001", $"Invalid visibility '{body.Visibility}'.");
        }

        var containerFormat = body.ContainerFormat ?? "bare";
        if (!ContainerFormats.Contains(containerFormat)) return Fail("IMG.0001", $"Invalid container_format '{containerFormat}'.");
        var diskFormat = body.DiskFormat ?? "zvhd2";
        if (!DiskFormats.Contains(diskFormat)) return Fail("IMG.0072", $"The disk_format '{diskFormat}' is not supported.");

        var minRam = body.MinRam ?? 0;
        var minDisk = body.MinDisk ?? 0;
        if (minRam is < 0 or > int.MaxValue || minDisk is < 0 or > MaxMinDiskGb) return Fail("IMG.0055");

        var osVersion = body.OsVersion ?? DefaultOsVersion;
        if (string.IsNullOrWhiteSpace(osVersion)) return Fail("IMG.0056");

        var tags = new List<ImageTags.Tag>();
        foreach (var raw in body.Tags ?? [])
        {
            if (raw is null || !ImageTags.TryParseOldTag(raw, out var tag)) return Fail("IMG.0115");
            ImageTags.Upsert(tags, tag);
        }
        if (tags.Count > ImageTags.MaxPerImage) return Fail("IMG.0116");

        var (osType, platform, osBit) = DescribeOs(osVersion);
        return (new ValidNativeImageRequest(name, osVersion, osType, platform, osBit, body.Protected ?? false, containerFormat,
            diskFormat, tags, minRam, minDisk), null);
    }

    /// <summary>
    /// <c>__os_type</c>, <c>__platform</c> and <c>__os_bit</c> as IMS derives them from <c>__os_version</c>
    /// (e.g. "Ubuntu 18.04 server 64bit": Linux, Ubuntu, 64; "Other Linux(64 bit)": Linux, Other, 64).
    /// </summary>
    public static (string OsType, string Platform, string OsBit) DescribeOs(string osVersion)
    {
        var platform = "Other";
        foreach (var (marker, name) in Platforms)
        {
            if (osVersion.Contains(marker, StringComparison.OrdinalIgnoreCase))
            {
                platform = name;
                break;
            }
        }
        var osType = platform == "Windows" ? "Windows" : "Linux";
        var osBit = osVersion.Contains("32bit", StringComparison.OrdinalIgnoreCase) || osVersion.Contains("32 bit", StringComparison.OrdinalIgnoreCase)
            ? "32" : "64";
        return (osType, platform, osBit);
    }

    private static (ValidNativeImageRequest?, ApiError?) Fail(string code, string? detail = null) => (null, ImsErrors.Of(code, detail));
}
