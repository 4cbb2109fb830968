using System.Text.Json.Serialization;
using Ims.Service.Http;
using DiskFormat = Ims.DataPlane.DiskFormat;

namespace Ims.Service.Ims;

/// <summary>The body of <c>POST /v1/cloudimages/dataimages/action</c> (a data disk image from a file in a bucket).</summary>
public sealed record DataImageFileRequest
{
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
    [JsonPropertyName("os_type")] public string? OsType { get; init; }
    [JsonPropertyName("image_url")] public string? ImageUrl { get; init; }
    [JsonPropertyName("min_disk")] public long? MinDisk { get; init; }
    [JsonPropertyName("cmk_id")] public string? CmkId { get; init; }
    [JsonPropertyName("tags")] public List<string>? Tags { get; init; }
    [JsonPropertyName("image_tags")] public List<ImageTagRequest>? ImageTags { get; init; }
    [JsonPropertyName("enterprise_project_id")] public string? EnterpriseProjectId { get; init; }
}

/// <summary>The body of <c>POST /v2/cloudimages/quickimport/action</c> (a system or data disk image, raw or zvhd2).</summary>
public sealed record QuickImportRequest
{
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
    [JsonPropertyName("os_version")] public string? OsVersion { get; init; }
    [JsonPropertyName("os_type")] public string? OsType { get; init; }
    [JsonPropertyName("image_url")] public string? ImageUrl { get; init; }
    [JsonPropertyName("min_disk")] public long? MinDisk { get; init; }
    [JsonPropertyName("tags")] public List<string>? Tags { get; init; }
    [JsonPropertyName("image_tags")] public List<ImageTagRequest>? ImageTags { get; init; }
    [JsonPropertyName("type")] public string? Type { get; init; }
    [JsonPropertyName("enterprise_project_id")] public string? EnterpriseProjectId { get; init; }
    [JsonPropertyName("architecture")] public string? Architecture { get; init; }
    [JsonPropertyName("hw_firmware_type")] public string? HwFirmwareType { get; init; }
    [JsonPropertyName("license_type")] public string? LicenseType { get; init; }
}

/// <summary>The body of <c>PUT /v1/cloudimages/{image_id}/upload</c>.</summary>
public sealed record RegisterImageFileRequest
{
    [JsonPropertyName("image_url")] public string? ImageUrl { get; init; }
}

/// <summary>An image file in a bucket (<c>bucket:object</c>) and the disk format its name says it holds.</summary>
public sealed record ImageFileUrl(string Bucket, string Key, DiskFormat Format)
{
    public override string ToString() => $"{Bucket}:{Key}";
}

/// <summary>One image an import makes: its own name, description and tags, its file and its minimum disk.</summary>
public sealed record ImportedImage(string Name, string Description, IReadOnlyList<ImageTags.Tag> Tags, ImageFileUrl File, long MinDisk,
    bool DataImage);

/// <summary>What kind of image an import makes.</summary>
public enum ImportKind
{
    /// <summary>A system disk image, with data disk images of the files <c>data_images</c> names.</summary>
    System,
    /// <summary>An ISO image (<c>type: IsoImage</c>).</summary>
    Iso,
    /// <summary>One data disk image.</summary>
    Data,
}

/// <summary>An import request that passed every rule the request alone decides.</summary>
public sealed record ValidImportRequest(
    ImportKind Kind,
    ImportedImage Image,
    IReadOnlyList<ImportedImage> DataImages,
    string OsType,
    string OsVersion,
    string EnterpriseProjectId,
    long MinRam,
    long? MaxRam,
    string FirmwareType,
    string Architecture,
    bool IsConfig)
{
    public int ImageCount => 1 + DataImages.Count;
}

/// <summary>
/// The request-time rules of the imports from files in a bucket (<c>image_url</c> of <c>POST /v2/cloudimages/action</c>,
/// <c>POST /v1/cloudimages/dataimages/action</c>, <c>POST /v2/cloudimages/quickimport/action</c>, <c>PUT
/// /v1/cloudimages/{image_id}/upload</c>). Pure, so each rule is unit-tested with its code. Names, descriptions, tags,
/// memory and enterprise projects follow the whole-image rules.
/// </summary>
public static class ImageImportRules
{
    /// <summary>The data disk files one system disk import may bring (the reference: "a maximum of three data disks").</summary>
    public const int MaxDataImages = 3;

    /// <summary>File name extensions and the formats qemu-img reads them as; <c>.img</c> is the usual name of a raw disk.</summary>
    private static readonly Dictionary<string, DiskFormat> Extensions = new(StringComparer.OrdinalIgnoreCase)
    {
        ["qcow2"] = DiskFormat.Qcow2,
        ["vhd"] = DiskFormat.Vhd,
        ["vhdx"] = DiskFormat.Vhdx,
        ["vmdk"] = DiskFormat.Vmdk,
        ["qed"] = DiskFormat.Qed,
        ["vdi"] = DiskFormat.Vdi,
        ["raw"] = DiskFormat.Raw,
        ["img"] = DiskFormat.Raw,
        ["iso"] = DiskFormat.Iso,
    };

    private const string SupportedList = "qcow2, vhd, vhdx, vmdk, qed, vdi, raw (.raw or .img) or iso";

    /// <summary>
    /// Parses <c>bucket:object</c>: <c>IMG.0017</c> without the colon or the object, <c>IMG.0068</c> without the bucket,
    /// <c>IMG.0109</c> for a bucket name OBS would not accept, <c>IMG.0175</c> for spaces in the object's folders or name,
    /// <c>IMG.0074</c> for an object name longer than OBS allows, <c>IMG.0072</c> for a format that cannot be read here
    /// (Huawei's own zvhd and zvhd2, which no public tool reads, or an unknown extension).
    /// </summary>
    public static (ImageFileUrl? Url, ApiError? Error) ParseUrl(string? imageUrl, bool quickImport = false)
    {
        if (string.IsNullOrEmpty(imageUrl)) return Fail<ImageFileUrl>("IMG.0017", "image_url is required, as bucket:object.");
        var colon = imageUrl.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0) return Fail<ImageFileUrl>("IMG.0017", $"image_url '{imageUrl}' must be bucket:object.");
        var bucket = imageUrl[..colon];
        var key = imageUrl[(colon + 1)..];
        if (bucket.Length == 0) return Fail<ImageFileUrl>("IMG.0068");
        if (!IsBucketName(bucket)) return Fail<ImageFileUrl>("IMG.0109", $"The bucket name '{bucket}' is invalid.");
        if (key.Length == 0 || key.EndsWith('/')) return Fail<ImageFileUrl>("IMG.0017", $"image_url '{imageUrl}' names no file.");
        if (key.Length > 1024) return Fail<ImageFileUrl>("IMG.0074");
        if (key.Contains(' ', StringComparison.Ordinal)) return Fail<ImageFileUrl>("IMG.0175");

        var name = key[(key.LastIndexOf('/') + 1)..];
        var dot = name.LastIndexOf('.');
        var extension = dot < 0 ? "" : name[(dot + 1)..].ToLowerInvariant();
        if (extension is "zvhd" or "zvhd2")
            return Fail<ImageFileUrl>("IMG.0072", $"{extension} files cannot be imported here: it is Huawei's own format, which no public tool reads. " +
                (quickImport ? "Quick import reads raw files." : $"Convert the file to {SupportedList}."));
        if (!Extensions.TryGetValue(extension, out var format))
            return Fail<ImageFileUrl>("IMG.0072", $"The file '{name}' is not an image file this service reads: name it after its format, {SupportedList}.");
        if (quickImport && format != DiskFormat.Raw)
            return Fail<ImageFileUrl>("IMG.0072", "Quick import reads raw (or zvhd2) files only; import other formats with the ordinary import.");
        return (new ImageFileUrl(bucket, key, format), null);
    }

    /// <summary>OBS's (and S3's) bucket names: 3 to 63 lowercase letters, digits, hyphens and periods, a letter or digit at each end.</summary>
    public static bool IsBucketName(string name) =>
        name.Length is >= 3 and <= 63
        && name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '.')
        && char.IsAsciiLetterOrDigit(name[0]) && char.IsAsciiLetterOrDigit(name[^1])
        && !name.Contains("..", StringComparison.Ordinal);

    /// <summary><c>image_url</c> in <c>POST /v2/cloudimages/action</c>: a system disk image (with data disk files) or an ISO image.</summary>
    public static (ValidImportRequest? Request, ApiError? Error) ValidateAction(DiskImageRequest body, bool chineseNames)
    {
        var iso = body.Type == "IsoImage";
        if (body.Type is { } type && type is not ("ECS" or "FusionCompute" or "IsoImage"))
            return type is "BMS" or "Ironic"
                ? Fail<ValidImportRequest>("IMG.0117", "Only ECS images can be made here: there are no bare-metal servers.")
                : Fail<ValidImportRequest>("IMG.0024");
        if (!string.IsNullOrEmpty(body.InstanceId) || !string.IsNullOrEmpty(body.VolumeId))
            return Fail<ValidImportRequest>("IMG.0001", "image_url cannot be given with instance_id or volume_id.");
        var quick = body.IsQuickImport == true;
        if (iso && quick) return Fail<ValidImportRequest>("IMG.0167", "ISO images cannot be imported quickly.");
        if (iso && body.DataImages is { Count: > 0 }) return Fail<ValidImportRequest>("IMG.0167", "An ISO image has no data disk images.");

        var (url, urlError) = ParseUrl(body.ImageUrl, quick);
        if (urlError is not null) return (null, urlError);
        if (iso != (url!.Format == DiskFormat.Iso))
            return Fail<ValidImportRequest>("IMG.0072", iso ? "An ISO image is made of an .iso file." : "An .iso file makes an ISO image: set type to IsoImage.");

        var (image, imageError) = ImageOf(body.Name, body.Description, body.Tags, body.ImageTags, url, body.MinDisk, chineseNames, 1, 1024, dataImage: false);
        if (imageError is not null) return (null, imageError);
        if (!string.IsNullOrEmpty(body.CmkId)) return Fail<ValidImportRequest>("IMG.0095", $"The KMS key {body.CmkId} does not exist.");

        // The service cannot look into the file, so the OS is the caller's word; ISO files and quick imports must name it.
        if ((iso || quick) && string.IsNullOrWhiteSpace(body.OsVersion))
            return Fail<ValidImportRequest>(iso ? "IMG.0166" : "IMG.0056", "os_version is required.");
        var (osType, osVersion, osError) = OsOf(body.OsType, body.OsVersion, allowOther: true);
        if (osError is not null) return (null, osError);
        var (firmware, architecture, platformError) = PlatformOf(body.HwFirmwareType, body.Architecture, body.LicenseType);
        if (platformError is not null) return (null, platformError);

        var dataImages = new List<ImportedImage>();
        var entries = body.DataImages ?? [];
        if (entries.Count > MaxDataImages)
            return Fail<ValidImportRequest>("IMG.0194", $"A system disk image file brings at most {MaxDataImages} data disk files.");
        foreach (var entry in entries)
        {
            if (entry is null) return Fail<ValidImportRequest>("IMG.0001", "Each data_images entry must be an object.");
            if (!string.IsNullOrEmpty(entry.VolumeId)) return Fail<ValidImportRequest>("IMG.0001", "data_images of a file import name files (image_url), not disks.");
            var (entryUrl, entryUrlError) = ParseUrl(entry.ImageUrl, entry.IsQuickImport == true);
            if (entryUrlError is not null) return (null, entryUrlError);
            if (entryUrl!.Format == DiskFormat.Iso) return Fail<ValidImportRequest>("IMG.0072", "A data disk image cannot be made of an ISO file.");
            // A data disk file's image may go unnamed: it is named after the system disk image.
            var name = string.IsNullOrEmpty(entry.Name) ? $"{image!.Name}-data{dataImages.Count + 1}" : entry.Name;
            var (dataImage, dataError) = ImageOf(name, entry.Description, entry.Tags, entry.ImageTags, entryUrl, entry.MinDisk, chineseNames,
                1, 2048, dataImage: true);
            if (dataError is not null) return (null, dataError);
            dataImages.Add(dataImage!);
        }
        var urls = new[] { url }.Concat(dataImages.Select(d => d.File)).Select(u => u.ToString()).ToList();
        if (urls.Distinct(StringComparer.Ordinal).Count() != urls.Count) return Fail<ValidImportRequest>("IMG.0123");

        var (eps, minRam, maxRam, commonError) = CommonOf(body.EnterpriseProjectId, body.MinRam, body.MaxRam);
        if (commonError is not null) return (null, commonError);
        return (new ValidImportRequest(iso ? ImportKind.Iso : ImportKind.System, image!, dataImages, osType, osVersion, eps, minRam, maxRam,
            firmware, architecture, body.IsConfig == true), null);
    }

    /// <summary><c>POST /v1/cloudimages/dataimages/action</c>: a data disk of 40 to 2048 GB.</summary>
    public static (ValidImportRequest? Request, ApiError? Error) ValidateDataImage(DataImageFileRequest body, bool chineseNames)
    {
        var (url, urlError) = ParseUrl(body.ImageUrl);
        if (urlError is not null) return (null, urlError);
        if (url!.Format == DiskFormat.Iso) return Fail<ValidImportRequest>("IMG.0072", "A data disk image cannot be made of an ISO file.");
        var (image, imageError) = ImageOf(body.Name, body.Description, body.Tags, body.ImageTags, url, body.MinDisk, chineseNames, 40, 2048, dataImage: true);
        if (imageError is not null) return (null, imageError);
        if (!string.IsNullOrEmpty(body.CmkId)) return Fail<ValidImportRequest>("IMG.0095", $"The KMS key {body.CmkId} does not exist.");
        var (osType, _, osError) = OsOf(body.OsType, null, allowOther: false);
        if (osError is not null) return (null, osError);
        var (eps, _, _, commonError) = CommonOf(body.EnterpriseProjectId, null, null);
        if (commonError is not null) return (null, commonError);
        return (new ValidImportRequest(ImportKind.Data, image!, [], osType, "", eps, 0, null, "bios", "x86", false), null);
    }

    /// <summary><c>POST /v2/cloudimages/quickimport/action</c>: <c>type</c> ECS (the default) or DataImage, a raw file.</summary>
    public static (ValidImportRequest? Request, ApiError? Error) ValidateQuickImport(QuickImportRequest body, bool chineseNames)
    {
        var type = body.Type ?? "ECS";
        if (type is "BMS") return Fail<ValidImportRequest>("IMG.0117", "Only ECS images can be made here: there are no bare-metal servers.");
        if (type is not ("ECS" or "DataImage")) return Fail<ValidImportRequest>("IMG.0024");
        var data = type == "DataImage";
        var (url, urlError) = ParseUrl(body.ImageUrl, quickImport: true);
        if (urlError is not null) return (null, urlError);
        var (image, imageError) = ImageOf(body.Name, body.Description, body.Tags, body.ImageTags, url!, body.MinDisk, chineseNames, 1, 1024, data);
        if (imageError is not null) return (null, imageError);
        var (eps, _, _, commonError) = CommonOf(body.EnterpriseProjectId, null, null);
        if (commonError is not null) return (null, commonError);
        if (data)
        {
            var (dataOsType, _, dataOsError) = OsOf(body.OsType, null, allowOther: false);
            if (dataOsError is not null) return (null, dataOsError);
            return (new ValidImportRequest(ImportKind.Data, image!, [], dataOsType, "", eps, 0, null, "bios", "x86", false), null);
        }
        if (string.IsNullOrWhiteSpace(body.OsVersion)) return Fail<ValidImportRequest>("IMG.0056", "os_version is required.");
        var (osType, osVersion, osError) = OsOf(null, body.OsVersion, allowOther: true);
        if (osError is not null) return (null, osError);
        var (firmware, architecture, platformError) = PlatformOf(body.HwFirmwareType, body.Architecture, body.LicenseType);
        if (platformError is not null) return (null, platformError);
        return (new ValidImportRequest(ImportKind.System, image!, [], osType, osVersion, eps, 0, null, firmware, architecture, false), null);
    }

    private static (ImportedImage?, ApiError?) ImageOf(string? name, string? description, List<string>? tags, List<ImageTagRequest>? imageTags,
        ImageFileUrl url, long? minDisk, bool chineseNames, long minDiskFloor, long minDiskCeiling, bool dataImage)
    {
        if (WholeImageRules.NameError(name, chineseNames) is { } nameError) return Fail<ImportedImage>(nameError);
        var text = description ?? "";
        if (WholeImageRules.DescriptionError(text) is { } descriptionError) return Fail<ImportedImage>(descriptionError);
        var (parsed, tagError) = WholeImageRules.TagsOf(tags, imageTags);
        if (tagError is not null) return Fail<ImportedImage>(tagError, tagError == "IMG.0001" ? "Use either tags or image_tags, not both." : null);
        if (minDisk is null || minDisk < minDiskFloor || minDisk > minDiskCeiling)
            return Fail<ImportedImage>("IMG.0055", $"min_disk must be {minDiskFloor} to {minDiskCeiling} GB.");
        return (new ImportedImage(name!, text, parsed, url, minDisk.Value, dataImage), null);
    }

    /// <summary>
    /// <c>os_type</c> Linux, Windows (and Other for system disks; <c>IMG.0122</c> otherwise) and <c>os_version</c>. Without
    /// an <c>os_version</c> a system disk image is "Other Linux(64 bit)" or "Other Windows(64 bit)": the service cannot
    /// look into the file to find out.
    /// </summary>
    private static (string OsType, string OsVersion, ApiError? Error) OsOf(string? osType, string? osVersion, bool allowOther)
    {
        if (osType is not (null or "" or "Linux" or "Windows") && !(allowOther && osType == "Other"))
            return ("", "", ImsErrors.Of("IMG.0122", $"os_type must be Linux or Windows{(allowOther ? " or Other" : "")}."));
        if (!string.IsNullOrWhiteSpace(osVersion))
        {
            var described = NativeImageRules.DescribeOs(osVersion).OsType;
            return (described, osVersion, null);
        }
        var type = osType is "Windows" ? "Windows" : "Linux";
        return (type, allowOther ? $"Other {type}(64 bit)" : "", null);
    }

    /// <summary>
    /// <c>hw_firmware_type</c> bios or uefi (<c>IMG.0141</c>), <c>architecture</c> x86 or arm (<c>IMG.0212</c>; Arm boots
    /// only with UEFI, which it is given when the firmware is not named), <c>license_type</c> platform or byol.
    /// </summary>
    private static (string Firmware, string Architecture, ApiError? Error) PlatformOf(string? firmware, string? architecture, string? licenseType)
    {
        if (firmware is not (null or "" or "bios" or "uefi")) return ("", "", ImsErrors.Of("IMG.0141"));
        var arch = string.IsNullOrEmpty(architecture) ? "x86" : architecture.ToLowerInvariant();
        if (arch is not ("x86" or "arm")) return ("", "", ImsErrors.Of("IMG.0212"));
        if (arch == "arm" && firmware == "bios") return ("", "", ImsErrors.Of("IMG.0141", "Arm images boot with UEFI only."));
        if (licenseType is not (null or "" or "platform" or "byol"))
            return ("", "", ImsErrors.Of("IMG.0001", $"license_type must be platform or byol, not '{licenseType}'."));
        return (string.IsNullOrEmpty(firmware) ? (arch == "arm" ? "uefi" : "bios") : firmware, arch, null);
    }

    private static (string Eps, long MinRam, long? MaxRam, ApiError? Error) CommonOf(string? enterpriseProjectId, long? minRam, long? maxRam)
    {
        var min = minRam ?? 0;
        var max = maxRam is null or 0 ? null : maxRam;
        if (WholeImageRules.MemoryError(min, max) is not null) return ("", 0, null, ImsErrors.Of("IMG.0055"));
        var eps = string.IsNullOrEmpty(enterpriseProjectId) ? "0" : enterpriseProjectId;
        if (!WholeImageRules.IsEnterpriseProjectId(eps)) return ("", 0, null, ImsErrors.Of("IMG.0155"));
        return (eps, min, max, null);
    }

    private static (T?, ApiError?) Fail<T>(string code, string? detail = null) where T : class => (null, ImsErrors.Of(code, detail));
}
