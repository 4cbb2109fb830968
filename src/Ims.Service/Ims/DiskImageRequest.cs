using System.Text.Json.Serialization;
using Ims.Service.Http;

namespace Ims.Service.Ims;

/// <summary>What <c>POST /v2/cloudimages/action</c> makes, decided by the fields the request carries.</summary>
public enum DiskImageMode
{
    /// <summary><c>instance_id</c>: a system disk image of the ECS, plus data disk images of the <c>data_images</c> it names.</summary>
    FromServer,
    /// <summary><c>volume_id</c>: a system disk image of an EVS disk.</summary>
    FromVolume,
    /// <summary><c>data_images</c> alone: one data disk image per EVS disk named.</summary>
    FromDataVolumes,
}

/// <summary>The body of <c>POST /v2/cloudimages/action</c>, exactly as clients send it.</summary>
public sealed record DiskImageRequest
{
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
    [JsonPropertyName("instance_id")] public string? InstanceId { get; init; }
    [JsonPropertyName("volume_id")] public string? VolumeId { get; init; }
    [JsonPropertyName("data_images")] public List<DataImageRequest?>? DataImages { get; init; }
    [JsonPropertyName("tags")] public List<string>? Tags { get; init; }
    [JsonPropertyName("image_tags")] public List<ImageTagRequest>? ImageTags { get; init; }
    [JsonPropertyName("enterprise_project_id")] public string? EnterpriseProjectId { get; init; }
    [JsonPropertyName("min_ram")] public long? MinRam { get; init; }
    [JsonPropertyName("max_ram")] public long? MaxRam { get; init; }
    [JsonPropertyName("os_version")] public string? OsVersion { get; init; }
    [JsonPropertyName("type")] public string? Type { get; init; }
    // Images from a file in a bucket (ImageImportRules).
    [JsonPropertyName("image_url")] public string? ImageUrl { get; init; }
    [JsonPropertyName("min_disk")] public long? MinDisk { get; init; }
    [JsonPropertyName("os_type")] public string? OsType { get; init; }
    [JsonPropertyName("is_config")] public bool? IsConfig { get; init; }
    [JsonPropertyName("is_quick_import")] public bool? IsQuickImport { get; init; }
    [JsonPropertyName("cmk_id")] public string? CmkId { get; init; }
    [JsonPropertyName("hw_firmware_type")] public string? HwFirmwareType { get; init; }
    [JsonPropertyName("architecture")] public string? Architecture { get; init; }
    [JsonPropertyName("license_type")] public string? LicenseType { get; init; }

    /// <summary>Whether the request makes images of files in a bucket (<see cref="ImageImportRules"/>) rather than of disks.</summary>
    [JsonIgnore]
    public bool ImportsFiles => !string.IsNullOrEmpty(ImageUrl) || DataImages?.Any(d => !string.IsNullOrEmpty(d?.ImageUrl)) == true;
}

/// <summary>One entry of <c>data_images</c>.</summary>
public sealed record DataImageRequest
{
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("volume_id")] public string? VolumeId { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
    [JsonPropertyName("tags")] public List<string>? Tags { get; init; }
    [JsonPropertyName("image_tags")] public List<ImageTagRequest>? ImageTags { get; init; }
    [JsonPropertyName("image_url")] public string? ImageUrl { get; init; }
    [JsonPropertyName("min_disk")] public long? MinDisk { get; init; }
    [JsonPropertyName("is_quick_import")] public bool? IsQuickImport { get; init; }
}

/// <summary>A data disk image to make: its name, its disk and its own description and tags.</summary>
public sealed record ValidDataImage(string Name, string VolumeId, string Description, IReadOnlyList<ImageTags.Tag> Tags);

/// <summary>A request that passed every rule the request alone can decide.</summary>
public sealed record ValidDiskImageRequest(
    DiskImageMode Mode,
    string Name,
    string Description,
    IReadOnlyList<ImageTags.Tag> Tags,
    string? InstanceId,
    string? VolumeId,
    string? OsVersion,
    IReadOnlyList<ValidDataImage> DataImages,
    string EnterpriseProjectId,
    long MinRam,
    long? MaxRam)
{
    /// <summary>How many images the request makes (each counts against the quota from the start).</summary>
    public int ImageCount => (Mode == DiskImageMode.FromDataVolumes ? 0 : 1) + DataImages.Count;
}

/// <summary>
/// The request-time rules of <c>POST /v2/cloudimages/action</c> for images of disks (from an ECS, from EVS disks). Pure:
/// no storage, so each rule is unit-tested with its exact code. Name, description, tags, memory and enterprise project
/// follow the whole-image rules (<see cref="WholeImageRules"/>).
/// </summary>
public static class DiskImageRules
{
    /// <summary>The image types the reference lists for images of disks; <c>BMS</c>/<c>Ironic</c> need bare-metal servers.</summary>
    private static readonly HashSet<string> EcsTypes = new(StringComparer.Ordinal) { "ECS", "FusionCompute" };

    private static readonly HashSet<string> KnownTypes = new(StringComparer.Ordinal) { "ECS", "FusionCompute", "BMS", "Ironic", "IsoImage" };

    public static (ValidDiskImageRequest? Request, ApiError? Error) Validate(DiskImageRequest body, bool chineseNames)
    {
        // Images of files in a bucket (system, data or ISO) follow ImageImportRules.
        if (body.ImportsFiles) return Fail("IMG.0001", "Images of files (image_url) are not images of disks.");
        if (body.Type is { } type)
        {
            if (!KnownTypes.Contains(type)) return Fail("IMG.0024");
            if (type == "IsoImage") return Fail("IMG.0017", "An ISO image is made of an ISO file in a bucket: image_url is required.");
            if (!EcsTypes.Contains(type)) return Fail("IMG.0117", "Only ECS images can be made here: there are no bare-metal servers.");
        }
        if (!string.IsNullOrEmpty(body.CmkId)) return Fail("IMG.0095", $"The KMS key {body.CmkId} does not exist.");

        var hasInstance = !string.IsNullOrEmpty(body.InstanceId);
        var hasVolume = !string.IsNullOrEmpty(body.VolumeId);
        if (hasInstance && hasVolume) return Fail("IMG.0001", "Specify either instance_id or volume_id, not both.");
        var mode = hasInstance ? DiskImageMode.FromServer
            : hasVolume ? DiskImageMode.FromVolume
            : body.DataImages is { Count: > 0 } ? DiskImageMode.FromDataVolumes
            : (DiskImageMode)(-1);
        if ((int)mode < 0) return Fail("IMG.0012", "Specify instance_id, volume_id or data_images.");
        if (mode == DiskImageMode.FromVolume && body.DataImages is { Count: > 0 })
            return Fail("IMG.0001", "data_images cannot be given with volume_id.");

        // The system disk image's own fields (data_images alone take theirs from each entry).
        var name = body.Name ?? "";
        var description = body.Description ?? "";
        IReadOnlyList<ImageTags.Tag> tags = [];
        string? osVersion = null;
        if (mode != DiskImageMode.FromDataVolumes)
        {
            if (WholeImageRules.NameError(name, chineseNames) is { } nameError) return Fail(nameError);
            if (WholeImageRules.DescriptionError(description) is { } descriptionError) return Fail(descriptionError);
            var (parsed, tagError) = WholeImageRules.TagsOf(body.Tags, body.ImageTags);
            if (tagError is not null) return Fail(tagError, tagError == "IMG.0001" ? "Use either tags or image_tags, not both." : null);
            tags = parsed;
            if (mode == DiskImageMode.FromVolume)
            {
                // The service cannot look into the disk, so the caller names the OS it holds.
                if (string.IsNullOrWhiteSpace(body.OsVersion)) return Fail("IMG.0056", "os_version is required to make a system disk image of an EVS disk.");
                osVersion = body.OsVersion;
            }
        }

        var minRam = body.MinRam ?? 0;
        var maxRam = body.MaxRam is null or 0 ? (long?)null : body.MaxRam;
        if (WholeImageRules.MemoryError(minRam, maxRam) is not null) return Fail("IMG.0055");

        var eps = string.IsNullOrEmpty(body.EnterpriseProjectId) ? "0" : body.EnterpriseProjectId;
        if (!WholeImageRules.IsEnterpriseProjectId(eps)) return Fail("IMG.0155");

        var dataImages = new List<ValidDataImage>();
        foreach (var entry in body.DataImages ?? [])
        {
            if (entry is null) return Fail("IMG.0001", "Each data_images entry must be an object.");
            if (WholeImageRules.NameError(entry.Name, chineseNames) is { } nameError) return Fail(nameError);
            if (string.IsNullOrEmpty(entry.VolumeId)) return Fail("IMG.0120", "Each data_images entry needs the volume_id of its data disk.");
            var entryDescription = entry.Description ?? "";
            if (WholeImageRules.DescriptionError(entryDescription) is { } descriptionError) return Fail(descriptionError);
            var (entryTags, tagError) = WholeImageRules.TagsOf(entry.Tags, entry.ImageTags);
            if (tagError is not null) return Fail(tagError);
            if (dataImages.Any(d => d.VolumeId == entry.VolumeId) || entry.VolumeId == body.VolumeId)
                return Fail("IMG.0001", $"The disk {entry.VolumeId} is named twice.");
            dataImages.Add(new ValidDataImage(entry.Name!, entry.VolumeId, entryDescription, entryTags));
        }

        return (new ValidDiskImageRequest(mode, name, description, tags, hasInstance ? body.InstanceId : null,
            hasVolume ? body.VolumeId : null, osVersion, dataImages, eps, minRam, maxRam), null);
    }

    private static (ValidDiskImageRequest?, ApiError?) Fail(string code, string? detail = null) => (null, ImsErrors.Of(code, detail));
}
