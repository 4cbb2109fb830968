using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Ims.Service.Auth;
using Ims.Service.Backups;
using Ims.Service.Cbr;
using Ims.Service.Eps;
using Ims.Service.Hosting;
using Ims.Service.Http;
using Ims.Service.Jobs;
using Ims.Service.Obs;
using Ims.Service.Storage;
using Microsoft.Extensions.Options;
using DiskFormat = Ims.DataPlane.DiskFormat;

namespace Ims.Service.Ims;

/// <summary>
/// Replication and export (spec §4.6, §4.7). Bodies are checked first, with IMS codes, then the image. Whole images are
/// never exported (<c>IMG.0128</c>) nor replicated within a region (<c>IMG.0130</c>); across regions (Huawei) their
/// backup is replicated into a vault of the target region's project and registered there. System and data disk images
/// are copied within the region (<see cref="CopyImageInRegionJob"/>) and across (the copy names the same content), and
/// exported to a bucket (<see cref="ExportImageJob"/>).
/// </summary>
public static partial class ImageCopyEndpoints
{
    /// <summary>Huawei: "a maximum of five private images can be replicated at a time" per tenant.</summary>
    public const int ConcurrentCrossRegionCopies = 5;

    /// <summary>The export formats a public tool writes (qemu-img): the reference's four but Huawei's own <c>zvhd</c>.</summary>
    private static readonly Dictionary<string, DiskFormat> ExportFormats = new(StringComparer.Ordinal)
    {
        ["qcow2"] = DiskFormat.Qcow2,
        ["vhd"] = DiskFormat.Vhd,
        ["vmdk"] = DiskFormat.Vmdk,
    };

    public static IEndpointRouteBuilder MapImageCopies(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/cloudimages/{image_id}").ForService(ServiceKind.Ims);
        group.MapPost("/copy", CopyImage);
        group.MapPost("/file", ExportImage);
        // terraform's huaweicloud_imsv21_image_export calls the v2.1 path with the same body.
        app.MapGroup("/v2.1/cloudimages/{image_id}").ForService(ServiceKind.Ims).MapPost("/file", ExportImage);
        // Without the feature (the OTC default) the route does not exist, and the gateway answers 404 APIGW.0101.
        if (app.ServiceProvider.GetRequiredService<IOptions<ServiceOptions>>().Value.EffectiveCrossRegionCopy)
            group.MapPost("/cross_region_copy", CopyImageAcrossRegions);
        return app;
    }

    /// <summary>
    /// <c>POST /v1/cloudimages/{image_id}/copy</c> (in-region replication of a system or data disk image): the copy is
    /// written now (queued, counted by the quota) and the job gives it the source's content, sharing every chunk.
    /// </summary>
    private static async Task<IResult> CopyImage(string image_id, HttpContext http, Caller caller, Database db, ImageStore images,
        JobQueue jobs, EnterpriseProjectCheck enterpriseProjects, IOptions<ServiceOptions> options, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var settings = options.Value;
        var (body, error) = await JsonBody.ReadAsync<CopyRequest>(http, ServiceKind.Ims);
        if (error is not null) return error;
        if (NewImageFieldsError(body!.Name, body.Description, body.EnterpriseProjectId, settings) is { } fieldError) return fieldError;
        if (await enterpriseProjects.ImsRefusalAsync(caller.Domain.Id, body.EnterpriseProjectId, ct) is { } noProject) return noProject;
        // No key management service is modelled, so no key can be named.
        if (!string.IsNullOrEmpty(body.CmkId)) return ImsErrors.Of("IMG.0095", $"The KMS key {body.CmkId} does not exist.");

        await using var write = await db.BeginWriteAsync(ct);
        var image = await images.GetVisibleAsync(write, caller.ProjectId, image_id, ct);
        if (image is null) return ImsErrors.ImageNotFound(image_id);
        if (image.Visibility == "public") return ImsErrors.Of("IMG.0083", "Public images cannot be replicated; only private images can.");
        if (image.WholeImage) return ImsErrors.Of("IMG.0130", "Full-ECS images cannot be replicated within a region.");
        if (await NotAcceptedAsync(images, image, caller.ProjectId, ct)) return ImsErrors.Of("IMG.0196");
        if (image.Status != "active" || image.ManifestId is null) return ImsErrors.Of("IMG.0046");
        // The reference: "Private images created using ISO files do not support in-region replication."
        if (image.DiskFormat == "iso") return ImsErrors.Of("IMG.0167", "Images made from ISO files cannot be replicated within a region.");
        if (await images.CountQuotaAsync(write, caller.ProjectId, ct) >= settings.ImageQuota) return ImsErrors.Of("IMG.0015");

        var imageId = Ids.NewUuid();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        // The copy takes the source's attributes; its content is given by the job.
        await images.InsertAsync(write, QueuedCopy(image, imageId, caller.ProjectId, caller, body.Name!, body.Description, body.EnterpriseProjectId, now) with
        {
            Size = 0,
            ImageSize = 0,
        }, ImageProvenance.None, ct);

        var entities = new JsonObject { ["image_name"] = body.Name, ["image_id"] = imageId };
        var jobId = await jobs.EnqueueAsync(write, "ims", CopyImageInRegionJob.Type, caller.ProjectId,
            new CopyImagePayload(image.Id, imageId), entities, imageId, node: null, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { job_id = jobId });
    }

    /// <summary>
    /// A queued private copy of <paramref name="source"/> owned by <paramref name="owner"/>: the source's attributes
    /// without its content (the copy job gives it) and without its backup, protection or tags.
    /// </summary>
    private static ImageRow QueuedCopy(ImageRow source, string imageId, string owner, Caller caller, string name, string? description,
        string? enterpriseProjectId, long now) => source with
    {
        Id = imageId,
        Owner = owner,
        Name = name,
        Status = "queued",
        Visibility = "private",
        Imagetype = "private",
        Description = description ?? "",
        BackupId = null,
        // The real service's format: where the image came from, region first.
        DataOrigin = $"image,{ProjectRegions.RegionOf(caller.Project)},{source.Id}",
        EnterpriseProjectId = string.IsNullOrEmpty(enterpriseProjectId) ? "0" : enterpriseProjectId,
        Protected = false,
        Tags = "[]",
        CreatedAt = now,
        UpdatedAt = now,
        ActiveAt = null,
        Checksum = null,
        VirtualSize = null,
        ManifestId = null,
        FileManifestId = null,
        SourceBackupShared = false,
    };

    /// <summary>
    /// <c>POST /v1/cloudimages/{image_id}/file</c> (and its v2.1 twin): exports a system or data disk image to
    /// <c>bucket:object</c> as a job (<see cref="ExportImageJob"/>). The body first, then the image (<see cref="ExportRefusal"/>),
    /// then the bucket; one export of an image at a time (<c>IMG.0148</c>).
    /// </summary>
    private static async Task<IResult> ExportImage(string image_id, HttpContext http, Caller caller, Database db, ImageStore images,
        IImageFileBuckets buckets, JobQueue jobs)
    {
        var ct = http.RequestAborted;
        var (body, error) = await JsonBody.ReadAsync<ExportRequest>(http, ServiceKind.Ims);
        if (error is not null) return error;
        if (ExportBodyError(body!) is { } bodyError) return bodyError;
        var quick = body!.IsQuickExport == true;
        var split = body.BucketUrl!.IndexOf(':', StringComparison.Ordinal);
        var (bucket, key) = (body.BucketUrl[..split], body.BucketUrl[(split + 1)..]);

        var image = await images.GetVisibleAsync(caller.ProjectId, image_id, ct);
        if (image is null) return ImsErrors.ImageNotFound(image_id);
        var origin = OriginalImageId(image) is { } originalId ? await images.GetLiveAsync(originalId, ct) : null;
        if (ExportRefusal(image, caller.ProjectId, origin, quick) is { } refusal) return refusal;

        switch (await buckets.CheckWritableAsync(caller.Domain.Id, ProjectRegions.RegionOf(caller.Project), bucket, key, ct))
        {
            case BucketFileProblem.BucketInaccessible: return ImsErrors.Of("IMG.0069", $"The bucket {bucket} does not exist or is not the account's.");
            case BucketFileProblem.OtherRegion: return ImsErrors.Of("IMG.0058");
            case BucketFileProblem.ObjectExists: return ImsErrors.Of("IMG.0070", $"The object {key} already exists in the bucket {bucket}.");
        }

        await using var write = await db.BeginWriteAsync(ct);
        if (await jobs.AnyUnfinishedAsync(write, ExportImageJob.Type, image.Id, ct)) return ImsErrors.Of("IMG.0148");
        var payload = new ExportImagePayload(image.Id, caller.Domain.Id, bucket, key, quick ? DiskFormat.Raw : ExportFormats[body.FileFormat!]);
        var jobId = await jobs.EnqueueAsync(write, "ims", ExportImageJob.Type, caller.ProjectId, payload,
            new JsonObject { ["image_id"] = image.Id }, image.Id, node: null, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { job_id = jobId });
    }

    /// <summary>The public image a system disk image was made from (<c>__originalimagename</c>), if it names one.</summary>
    private static string? OriginalImageId(ImageRow image)
    {
        var properties = JsonNode.Parse(image.Properties) as JsonObject;
        return properties?["__originalimagename"] is JsonValue value && value.TryGetValue<string>(out var id) && id.Length > 0 ? id : null;
    }

    /// <summary>Platforms whose public images are charged for their licence: private images made from them stay in the cloud.</summary>
    private static readonly HashSet<string> LicensedPlatforms = new(["Windows", "SUSE", "RedHat", "Ubuntu", "OracleLinux"], StringComparer.Ordinal);

    /// <summary>The largest image an export takes (the reference: less than 1 TB), and the largest one in a converted format (128 GB).</summary>
    public const long MaxExportBytes = 1024L * 1024 * 1024 * 1024;

    public const long MaxConvertedExportBytes = 128L * 1024 * 1024 * 1024;

    /// <summary>
    /// The reference's constraints on the image, in this order: a public image (<c>IMG.0077</c>), a whole image
    /// (<c>IMG.0128</c>), another tenant's (<c>IMG.0047</c>), not active (<c>IMG.0046</c>), an ISO image or one without
    /// content (<c>IMG.0071</c>), one made from a licensed public image (<c>IMG.0079</c>), and its size: 1 TB and more
    /// (<c>IMG.0071</c>), more than 128 GB unless quick (<c>IMG.0160</c>).
    /// </summary>
    private static ApiError? ExportRefusal(ImageRow image, string caller, ImageRow? origin, bool quick)
    {
        if (image.Visibility == "public") return ImsErrors.Of("IMG.0077");
        if (image.WholeImage) return ImsErrors.Of("IMG.0128");
        if (image.Owner != caller) return ImsErrors.Of("IMG.0047", "Only the image's owner can export it; a shared image cannot be exported.");
        if (image.Status != "active") return ImsErrors.Of("IMG.0046", $"The image is {image.Status}: only an active image can be exported.");
        if (image.DiskFormat == "iso") return ImsErrors.Of("IMG.0071", "Images made from ISO files cannot be exported.");
        if (image.ManifestId is null) return ImsErrors.Of("IMG.0071", "The image has no disk content to export.");
        if (origin is { Visibility: "public" } && LicensedPlatforms.Contains(origin.Platform))
            return ImsErrors.Of("IMG.0079", $"The image was made from the public image {origin.Name}, whose licence does not allow exporting it.");
        var size = image.VirtualSize ?? image.MinDisk * 1024L * 1024 * 1024;
        if (size >= MaxExportBytes) return ImsErrors.Of("IMG.0071", "Images of 1 TB or more cannot be exported.");
        if (size > MaxConvertedExportBytes && !quick)
            return ImsErrors.Of("IMG.0160", "Images larger than 128 GB can only be exported quickly (is_quick_export).");
        return null;
    }

    /// <summary>
    /// <c>POST /v1/cloudimages/{image_id}/cross_region_copy</c> (Huawei): the new image belongs to the account's project
    /// in the target region; the job runs in (and is polled from) the caller's project. The image record is written now,
    /// hidden until the job registers it, so the target's quota counts it at once.
    /// </summary>
    private static async Task<IResult> CopyImageAcrossRegions(string image_id, HttpContext http, Caller caller, Database db,
        ImageStore images, BackupStore backups, VaultStore vaults, Accounts accounts, JobQueue jobs, EnterpriseProjectCheck enterpriseProjects,
        IOptions<ServiceOptions> options, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var settings = options.Value;
        var (body, error) = await JsonBody.ReadAsync<CrossRegionCopyRequest>(http, ServiceKind.Ims);
        if (error is not null) return error;
        if (NewImageFieldsError(body!.Name, body.Description, body.EnterpriseProjectId, settings) is { } fieldError) return fieldError;
        if (await enterpriseProjects.ImsRefusalAsync(caller.Domain.Id, body.EnterpriseProjectId, ct) is { } noProject) return noProject;
        if (string.IsNullOrEmpty(body.Region)) return ImsErrors.Of("IMG.0001", "region is required: the ID of the destination region.");
        if (string.IsNullOrEmpty(body.AgencyName)) return ImsErrors.Of("IMG.0001", "agency_name is required: the IMS agency in the destination region.");
        var (target, targetError) = TargetProject(accounts, caller.Project, body.Region, body.ProjectName);
        if (targetError is not null) return targetError;

        await using var write = await db.BeginWriteAsync(ct);
        var facts = await ImageMembers.FindAsync(write, images, backups, caller.ProjectId, image_id, ct);
        if (facts is null) return ImsErrors.ImageNotFound(image_id);
        var image = facts.Image;
        if (image.Visibility == "public") return ImsErrors.Of("IMG.0083", "Public images cannot be replicated; only private images can.");
        if (await NotAcceptedAsync(images, image, caller.ProjectId, ct)) return ImsErrors.Of("IMG.0196");
        if (image.Status != "active") return ImsErrors.Of("IMG.0046");
        string? vaultId = null;
        if (image.WholeImage)
        {
            if (string.IsNullOrEmpty(body.VaultId))
                return ImsErrors.Of("IMG.0184", "vault_id is required to replicate a full-ECS image: a server backup vault in the destination region.");
            var vault = await vaults.GetAsync(write, target!.Id, body.VaultId, ct);
            if (vault is null) return ImsErrors.Of("IMG.0184", $"Failed to obtain the vault {body.VaultId} in project {target.Name}.");
            if (vault.ObjectType != "server" || vault.ProtectType != "backup") return ImsErrors.Of("IMG.0193");
            if (vault.Status != "available") return ImsErrors.Of("IMG.0188");
            if (facts.BackupService != "CBR" && facts.BackupService != "CSBS") return ImsErrors.Of("IMG.0032");
            vaultId = vault.Id;
        }
        // A system or data disk image is its content: the copy names the same manifests (the chunks are region-free here).
        else if (image.ManifestId is null) return ImsErrors.Of("IMG.0046");

        if (await images.CountQuotaAsync(write, target!.Id, ct) >= settings.ImageQuota)
            return ImsErrors.Of("IMG.0015", $"The project {target.Name} has reached its quota of private images.");
        var running = await jobs.CountUnfinishedAsync(write, caller.ProjectId, CrossRegionCopyJob.Type, ct);
        if (running >= ConcurrentCrossRegionCopies)
            return ImsErrors.Of("IMG.0060", $"At most {ConcurrentCrossRegionCopies} images can be replicated across regions at a time.");

        var imageId = Ids.NewUuid();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        // The replica copies the source's attributes; it is registered (saving, then active) by the job.
        await images.InsertAsync(write, QueuedCopy(image, imageId, target.Id, caller, body.Name!, body.Description, body.EnterpriseProjectId, now),
            new ImageProvenance(BackupMadeByImage: image.WholeImage), ct);

        var payload = new CrossRegionCopyPayload(image.Id, image.WholeImage ? image.BackupId! : null, imageId, target.Id, vaultId,
            Ids.NewUuid(), Ids.NewUuid());
        var entities = new JsonObject { ["image_name"] = body.Name, ["image_id"] = imageId, ["process_percent"] = 0.0 };
        var jobId = await jobs.EnqueueAsync(write, "ims", CrossRegionCopyJob.Type, caller.ProjectId, payload, entities, imageId, null, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { job_id = jobId });
    }

    /// <summary>
    /// The project the copy goes to: <c>project_name</c> in the caller's account, which must be in <c>region</c>; without
    /// a name, the account's only project in that region (<c>IMG.0104</c> when it has several).
    /// </summary>
    private static (Project? Project, ApiError? Error) TargetProject(Accounts accounts, Project source, string region, string? projectName)
    {
        if (region == ProjectRegions.RegionOf(source))
            return (null, ImsErrors.Of("IMG.0001", "The destination region must differ from the source region."));
        var inRegion = accounts.ProjectsOf(source.Domain).Where(p => ProjectRegions.RegionOf(p) == region).ToList();
        if (!string.IsNullOrEmpty(projectName))
        {
            var named = inRegion.FirstOrDefault(p => p.Name == projectName);
            return named is null
                ? (null, ImsErrors.Of("IMG.0145", $"The account has no project {projectName} in region {region}."))
                : (named, null);
        }
        return inRegion.Count switch
        {
            0 => (null, ImsErrors.Of("IMG.0108", $"The account has no project in region {region}.")),
            1 => (inRegion[0], null),
            _ => (null, ImsErrors.Of("IMG.0104")),
        };
    }

    /// <summary>An image shared with the caller that the caller has not accepted (its own images are always its own).</summary>
    private static async Task<bool> NotAcceptedAsync(ImageStore images, ImageRow image, string caller, CancellationToken ct)
    {
        if (image.Owner == caller) return false;
        var member = await images.GetMemberAsync(image.Id, caller, ct);
        return member?.Status != MemberStatus.Accepted;
    }

    /// <summary>Name, description and enterprise project of a new image, by the rules of whole-image creation.</summary>
    private static ApiError? NewImageFieldsError(string? name, string? description, string? enterpriseProjectId, ServiceOptions settings)
    {
        var code = WholeImageRules.NameError(name, chineseNames: settings.Profile == CloudProfile.Huawei)
            ?? WholeImageRules.DescriptionError(description ?? "");
        if (code is not null) return ImsErrors.Of(code);
        return string.IsNullOrEmpty(enterpriseProjectId) || WholeImageRules.IsEnterpriseProjectId(enterpriseProjectId)
            ? null
            : ImsErrors.Of("IMG.0155");
    }

    /// <summary>
    /// <c>bucket_url</c> is <c>bucket:file</c> with an OBS bucket name; <c>file_format</c> one of four formats, and
    /// absent with <c>is_quick_export</c> (a quick export is the raw disk here; the real service writes ZVHD2).
    /// </summary>
    private static ApiError? ExportBodyError(ExportRequest body)
    {
        if (string.IsNullOrEmpty(body.BucketUrl)) return ImsErrors.Of("IMG.0001", "bucket_url is required, as bucket-name:file-name.");
        var split = body.BucketUrl.IndexOf(':', StringComparison.Ordinal);
        if (split < 0) return ImsErrors.Of("IMG.0017", "bucket_url must be bucket-name:file-name.");
        var (bucket, file) = (body.BucketUrl[..split], body.BucketUrl[(split + 1)..]);
        if (bucket.Length == 0) return ImsErrors.Of("IMG.0068");
        if (!BucketName().IsMatch(bucket) || bucket.Contains("..", StringComparison.Ordinal)) return ImsErrors.Of("IMG.0109");
        if (file.Length == 0) return ImsErrors.Of("IMG.0073");
        if (file.Length > 1024) return ImsErrors.Of("IMG.0074");
        if (file.Contains(' ', StringComparison.Ordinal)) return ImsErrors.Of("IMG.0175");
        if (file.Any(char.IsControl)) return ImsErrors.Of("IMG.0075");
        if (body.IsQuickExport == true)
        {
            return string.IsNullOrEmpty(body.FileFormat)
                ? null
                : ImsErrors.Of("IMG.0001", "file_format cannot be given with is_quick_export: a quick export writes the disk as it is.");
        }
        if (string.IsNullOrEmpty(body.FileFormat)) return ImsErrors.Of("IMG.0001", "file_format is required: qcow2, vhd, zvhd or vmdk.");
        if (body.FileFormat is "zvhd" or "zvhd2")
            return ImsErrors.Of("IMG.0072", $"Exporting to {body.FileFormat} is not available here: it is Huawei's own format, which no public tool writes. Use qcow2, vhd or vmdk.");
        return ExportFormats.ContainsKey(body.FileFormat) ? null : ImsErrors.Of("IMG.0072");
    }

    /// <summary>OBS bucket names: 3 to 63 lowercase letters, digits, hyphens and periods, starting and ending alphanumeric.</summary>
    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    private static partial Regex BucketName();

    private sealed record CopyRequest
    {
        [JsonPropertyName("name")] public string? Name { get; init; }
        [JsonPropertyName("description")] public string? Description { get; init; }
        [JsonPropertyName("cmk_id")] public string? CmkId { get; init; }
        [JsonPropertyName("enterprise_project_id")] public string? EnterpriseProjectId { get; init; }
    }

    private sealed record CrossRegionCopyRequest
    {
        [JsonPropertyName("name")] public string? Name { get; init; }
        [JsonPropertyName("description")] public string? Description { get; init; }
        [JsonPropertyName("region")] public string? Region { get; init; }
        [JsonPropertyName("project_name")] public string? ProjectName { get; init; }
        [JsonPropertyName("agency_name")] public string? AgencyName { get; init; }
        [JsonPropertyName("vault_id")] public string? VaultId { get; init; }
        [JsonPropertyName("enterprise_project_id")] public string? EnterpriseProjectId { get; init; }
    }

    private sealed record ExportRequest
    {
        [JsonPropertyName("bucket_url")] public string? BucketUrl { get; init; }
        [JsonPropertyName("file_format")] public string? FileFormat { get; init; }
        [JsonPropertyName("is_quick_export")] public bool? IsQuickExport { get; init; }
    }
}
