using System.Text.Json;
using System.Text.Json.Nodes;
using Ims.Service.Auth;
using Ims.Service.Eps;
using Ims.Service.Hosting;
using Ims.Service.Http;
using Ims.Service.Jobs;
using Ims.Service.Obs;
using Ims.Service.Storage;
using Microsoft.Extensions.Options;

namespace Ims.Service.Ims;

/// <summary>
/// Images of files in a bucket (<c>bucket:object</c>): a system disk or ISO image (<c>image_url</c> of <c>POST
/// /v2/cloudimages/action</c>, which <see cref="DiskImageEndpoints"/> hands here), a data disk image (<c>POST
/// /v1/cloudimages/dataimages/action</c>), a quick import (<c>POST /v2/cloudimages/quickimport/action</c>) and the
/// registration of a file into a queued image (<c>PUT /v1/cloudimages/{image_id}/upload</c>). Each validates at once
/// (rules, then the bucket and the file through <see cref="IImageFileBuckets"/>), writes its queued images and their job
/// in one transaction and answers 200 <c>{"job_id"}</c>; the job (<see cref="ImageImportJob"/>) reads, converts and
/// registers the files.
/// </summary>
public static class ImageImportEndpoints
{
    public static IEndpointRouteBuilder MapImageImports(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("").ForService(ServiceKind.Ims);
        group.MapPost("/v1/cloudimages/dataimages/action", CreateDataImage);
        group.MapPost("/v2/cloudimages/quickimport/action", QuickImport);
        group.MapPut("/v1/cloudimages/{image_id}/upload", RegisterFile);
        return app;
    }

    /// <summary>What every import needs besides its request; resolved by the endpoints.</summary>
    public sealed record ImportServices(Database Db, ImageStore Images, JobQueue Jobs, IImageFileBuckets Buckets,
        EnterpriseProjectCheck EnterpriseProjects, ServiceOptions Settings, TimeProvider Time);

    private static async Task<IResult> CreateDataImage(HttpContext http, Caller caller, Database db, ImageStore images, JobQueue jobs,
        IImageFileBuckets buckets, EnterpriseProjectCheck enterpriseProjects, IOptions<ServiceOptions> options, TimeProvider time)
    {
        var (body, error) = await JsonBody.ReadAsync<DataImageFileRequest>(http, ServiceKind.Ims);
        if (error is not null) return error;
        var (valid, invalid) = ImageImportRules.ValidateDataImage(body!, chineseNames: options.Value.Profile == CloudProfile.Huawei);
        if (invalid is not null) return invalid;
        return await ImportAsync(http, caller, valid!, new ImportServices(db, images, jobs, buckets, enterpriseProjects, options.Value, time));
    }

    private static async Task<IResult> QuickImport(HttpContext http, Caller caller, Database db, ImageStore images, JobQueue jobs,
        IImageFileBuckets buckets, EnterpriseProjectCheck enterpriseProjects, IOptions<ServiceOptions> options, TimeProvider time)
    {
        var (body, error) = await JsonBody.ReadAsync<QuickImportRequest>(http, ServiceKind.Ims);
        if (error is not null) return error;
        var (valid, invalid) = ImageImportRules.ValidateQuickImport(body!, chineseNames: options.Value.Profile == CloudProfile.Huawei);
        if (invalid is not null) return invalid;
        return await ImportAsync(http, caller, valid!, new ImportServices(db, images, jobs, buckets, enterpriseProjects, options.Value, time));
    }

    /// <summary>
    /// Makes the images of a valid import request: the enterprise project and every file are checked, then the images
    /// (queued, counted against the quota from now on) and the job are written in one transaction.
    /// </summary>
    public static async Task<IResult> ImportAsync(HttpContext http, Caller caller, ValidImportRequest valid, ImportServices services)
    {
        var ct = http.RequestAborted;
        if (await services.EnterpriseProjects.ImsRefusalAsync(caller.Domain.Id, valid.EnterpriseProjectId, ct) is { } noProject) return noProject;
        foreach (var image in valid.DataImages.Prepend(valid.Image))
        {
            if (await FileRefusalAsync(services.Buckets, services.Settings, caller.Domain.Id, image.File, ct) is { } refusal) return refusal;
        }

        await using var write = await services.Db.BeginWriteAsync(ct);
        if (await services.Images.CountQuotaAsync(write, caller.ProjectId, ct) + valid.ImageCount > services.Settings.ImageQuota)
            return ImsErrors.Of("IMG.0015");
        var now = services.Time.GetUtcNow().ToUnixTimeMilliseconds();
        var (_, platform, osBit) = valid.OsVersion.Length > 0 ? NativeImageRules.DescribeOs(valid.OsVersion) : ("", "", "64");

        var first = NewImage(caller.ProjectId, valid.Image, valid, now) with
        {
            OsType = valid.OsType,
            OsVersion = valid.OsVersion,
            Platform = platform,
            OsBit = osBit,
            DiskFormat = valid.Kind == ImportKind.Iso ? "iso" : "zvhd2",
            VirtualEnvType = valid.Kind switch
            {
                ImportKind.Iso => ImageKinds.Iso,
                ImportKind.Data => ImageKinds.DataDisk,
                _ => ImageKinds.SystemDisk,
            },
            Properties = valid.Kind == ImportKind.Data ? DataImageProperties : SystemImageProperties(valid),
        };
        await services.Images.InsertAsync(write, first, ImageProvenance.None, ct);
        var targets = new List<ImportTarget> { Target(first.Id, valid.Image, null) };
        var entities = new JsonObject { ["image_name"] = first.Name, ["image_id"] = first.Id };

        var subJobs = new JsonArray();
        foreach (var data in valid.DataImages)
        {
            // A data disk file's image carries the OS type of its system disk image, as the reference asks.
            var row = NewImage(caller.ProjectId, data, valid, now) with
            {
                OsType = valid.OsType,
                OsBit = osBit,
                VirtualEnvType = ImageKinds.DataDisk,
                Properties = DataImageProperties,
            };
            await services.Images.InsertAsync(write, row, ImageProvenance.None, ct);
            var subJobId = Ids.NewHex32();
            targets.Add(Target(row.Id, data, subJobId));
            subJobs.Add(new JsonObject
            {
                ["job_id"] = subJobId,
                ["job_type"] = DataImageImportJob.Type,
                ["entities"] = new JsonObject { ["image_id"] = row.Id, ["image_name"] = row.Name },
            });
        }
        if (subJobs.Count > 0)
        {
            entities["sub_jobs_result"] = subJobs;
            entities["sub_jobs_list"] = new JsonArray(targets.Where(t => t.SubJobId is not null).Select(t => (JsonNode)t.SubJobId!).ToArray());
        }

        var jobType = valid.Kind == ImportKind.Data ? DataImageImportJob.Type : SystemImageImportJob.Type;
        var jobId = await services.Jobs.EnqueueAsync(write, "ims", jobType, caller.ProjectId, new ImportPayload(caller.Domain.Id, targets),
            entities, first.Id, node: null, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { job_id = jobId });
    }

    /// <summary>
    /// Registers a file into an image made by <c>POST /v2/images</c>: the caller's own image (<c>IMG.0047</c>), not made
    /// by a job (<c>IMG.0105</c>), still queued (<c>IMG.0046</c>, also while a file is being registered into it). The image is <c>saving</c> until the job ends; a
    /// failed registration leaves it queued again.
    /// </summary>
    private static async Task<IResult> RegisterFile(string image_id, HttpContext http, Caller caller, Database db, ImageStore images, JobQueue jobs,
        IImageFileBuckets buckets, IOptions<ServiceOptions> options, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (body, error) = await JsonBody.ReadAsync<RegisterImageFileRequest>(http, ServiceKind.Ims);
        if (error is not null) return error;
        var (url, invalid) = ImageImportRules.ParseUrl(body!.ImageUrl);
        if (invalid is not null) return invalid;

        var image = await images.GetVisibleAsync(caller.ProjectId, image_id, ct);
        if (image is null) return ImsErrors.ImageNotFound(image_id);
        if (image.Owner != caller.ProjectId) return ImsErrors.Of("IMG.0047");
        if (image.WholeImage) return ImsErrors.Of("IMG.0105", "A full-ECS image is made of backups; no image file can be registered into it.");
        if (image.Status != "queued") return ImsErrors.Of("IMG.0046", $"The image is {image.Status}: only a queued image takes an image file.");
        if (image.IsMadeByJob) return ImsErrors.Of("IMG.0105", "The image is made from a disk, a file or another image; no image file can be registered into it.");
        if (await FileRefusalAsync(buckets, options.Value, caller.Domain.Id, url!, ct) is { } refusal) return refusal;

        await using var write = await db.BeginWriteAsync(ct);
        if (!await images.BeginRegistrationAsync(write, image_id, $"file,{url}", time.GetUtcNow().ToUnixTimeMilliseconds(), ct))
            return ImsErrors.Of("IMG.0046", "The image is no longer queued: another file is being uploaded or registered.");
        // A registered image has no min_disk to respect: like an upload, it grows to the disk's size (MinDiskGb 0).
        var target = new ImportTarget(image_id, url!.Bucket, url.Key, url.Format, MinDiskGb: 0, SubJobId: null);
        var entities = new JsonObject { ["image_name"] = image.Name, ["image_id"] = image_id };
        var jobId = await jobs.EnqueueAsync(write, "ims", RegisterImageFileJob.Type, caller.ProjectId, new ImportPayload(caller.Domain.Id, [target]),
            entities, image_id, node: null, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { job_id = jobId });
    }

    /// <summary>
    /// Whether the file can be read now: the bucket is the caller's (<c>IMG.0069</c>), the object exists and is not empty
    /// (<c>IMG.0057</c>, whose text covers a missing file) nor too large (<c>IMG.0059</c>). The job checks again.
    /// </summary>
    private static async Task<ApiError?> FileRefusalAsync(IImageFileBuckets buckets, ServiceOptions settings, string domainId, ImageFileUrl url,
        CancellationToken ct)
    {
        var (file, problem) = await buckets.OpenAsync(domainId, url.Bucket, url.Key, ct);
        switch (problem)
        {
            case BucketFileProblem.BucketInaccessible: return ImsErrors.Of("IMG.0069", $"The bucket {url.Bucket} cannot be accessed.");
            case BucketFileProblem.NoSuchObject: return ImsErrors.Of("IMG.0057", $"The image file {url} does not exist.");
            default: break;
        }
        await using var opened = file!;
        if (opened.Size == 0) return ImsErrors.Of("IMG.0057", $"The image file {url} is empty.");
        if (opened.Size > settings.MaxImageFileBytes) return ImsErrors.Of("IMG.0059", $"The image file must be smaller than {settings.MaxImageFileBytes} bytes.");
        return null;
    }

    private static ImportTarget Target(string imageId, ImportedImage image, string? subJobId) =>
        new(imageId, image.File.Bucket, image.File.Key, image.File.Format, image.MinDisk, subJobId);

    private static ImageRow NewImage(string owner, ImportedImage image, ValidImportRequest request, long now) => new()
    {
        Id = Ids.NewUuid(),
        Owner = owner,
        Name = image.Name,
        Status = "queued",
        Visibility = "private",
        Imagetype = "private",
        OsVersion = "",
        Platform = "",
        MinDisk = image.MinDisk,
        MinRam = request.MinRam,
        MaxRam = request.MaxRam,
        Description = image.Description,
        EnterpriseProjectId = request.EnterpriseProjectId,
        Tags = ImageTags.Serialize(image.Tags),
        DiskFormat = "zvhd2",
        DataOrigin = $"file,{image.File}",
        CreatedAt = now,
        UpdatedAt = now,
    };

    private const string DataImageProperties = """{"__root_origin":"file"}""";

    /// <summary>What a system disk or ISO image of a file reports: its origin, boot mode, architecture and configuration.</summary>
    private static string SystemImageProperties(ValidImportRequest request)
    {
        var properties = new Dictionary<string, string>
        {
            ["__root_origin"] = "file",
            ["__support_kvm"] = "true",
            ["hw_firmware_type"] = request.FirmwareType,
            ["__is_config_init"] = request.IsConfig ? "true" : "false",
        };
        if (request.Architecture == "arm") properties["__support_arm"] = "true";
        return JsonSerializer.Serialize(properties);
    }
}
