using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Ims.Service.Http;

using Ims.Service.Ims;

namespace Ims.Service.Evs;

/// <summary>Renders volumes in the EVS v2 shape.</summary>
public static class VolumeViews
{
    public static async Task<List<VolumeBody>> RenderAsync(VolumeStore store, ImageStore imageStore, string baseUrl,
        IReadOnlyList<VolumeRow> volumes,
        CancellationToken ct)
    {
        if (volumes.Count == 0) return [];
        var ids = volumes.Select(v => v.Id).ToList();
        var attachments = (await store.GetAttachmentsAsync(ids, ct)).ToLookup(a => a.VolumeId, StringComparer.Ordinal);
        var imageIds = volumes.Where(v => v.ImageId is not null).Select(v => v.ImageId!).Distinct().ToList();
        var images = await imageStore.GetManyAsync(imageIds, ct);
        return volumes.Select(v => Render(v, baseUrl, attachments[v.Id], v.ImageId is { } image ? images.GetValueOrDefault(image) : null)).ToList();
    }

    private static VolumeBody Render(VolumeRow v, string baseUrl, IEnumerable<AttachmentRow> attachments, ImageRow? image)
    {
        var metadata = v.MetadataMap();
        var size = (int)v.SizeGb;
        return new VolumeBody
        {
            Id = v.Id,
            Links =
            [
                new($"{baseUrl}/v2/{v.ProjectId}/os-vendor-volumes/{v.Id}", "self"),
                new($"{baseUrl}/{v.ProjectId}/os-vendor-volumes/{v.Id}", "bookmark"),
            ],
            Name = v.Name,
            Status = v.Status,
            Attachments = attachments.Select(a => new VolumeAttachmentInfo(a.ServerId, AttachmentId(a), WireTime.MicrosNoZone(a.AttachedAt),
                "", v.Id, a.Device, v.Id)).ToList(),
            AvailabilityZone = v.AvailabilityZone,
            Host = $"pod01.{v.AvailabilityZone}#{v.VolumeType}",
            Description = v.Description,
            CreatedAt = WireTime.MicrosNoZone(v.CreatedAt),
            UpdatedAt = WireTime.MicrosNoZone(v.UpdatedAt),
            TenantId = v.ProjectId,
            VolumeImageMetadata = ImageMetadata(v, image),
            VolumeType = v.VolumeType,
            Size = size,
            Bootable = v.IsBootable ? "true" : "false",
            Metadata = metadata,
            Encrypted = metadata.GetValueOrDefault("__system__encrypted") == "1",
            Multiattach = v.IsShared,
            ServiceType = v.VolumeType == "DSS" ? "DSS" : "EVS",
            Tags = v.TagMap(),
            Wwn = $"688860300{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(v.Id)))[..23]}",
            Iops = v.VolumeType switch
            {
                "GPSSD2" => new PerformanceBody(DerivedId(v.Id, "iops"), false, 3000),
                "ESSD2" => new PerformanceBody(DerivedId(v.Id, "iops"), false, Math.Min(1_000_000, 1800 + 50 * size)),
                _ => null,
            },
            Throughput = v.VolumeType == "GPSSD2" ? new PerformanceBody(DerivedId(v.Id, "throughput"), false, 125) : null,
        };
    }

    /// <summary>The image a bootable disk was made from, as string attributes (as EVS copies them from IMS).</summary>
    private static Dictionary<string, string> ImageMetadata(VolumeRow volume, ImageRow? image)
    {
        if (volume.ImageId is null) return [];
        if (image is null) return new() { ["image_id"] = volume.ImageId };
        return new()
        {
            ["image_id"] = image.Id,
            ["image_name"] = image.Name,
            ["__os_type"] = image.OsType,
            ["__os_version"] = image.OsVersion,
            ["__os_bit"] = image.OsBit,
            ["__platform"] = image.Platform,
            ["__imagetype"] = image.Imagetype,
            ["min_disk"] = image.MinDisk.ToString(CultureInfo.InvariantCulture),
            ["min_ram"] = image.MinRam.ToString(CultureInfo.InvariantCulture),
            ["disk_format"] = image.DiskFormat,
            ["container_format"] = image.ContainerFormat,
        };
    }

    /// <summary>Attachments have no row id of their own; a stable one is derived from the pair.</summary>
    public static string AttachmentId(AttachmentRow a) => DerivedId(a.VolumeId, a.ServerId);

    private static string DerivedId(string a, string b)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{a}/{b}"));
        return new Guid(hash.AsSpan(0, 16)).ToString("D");
    }
}
