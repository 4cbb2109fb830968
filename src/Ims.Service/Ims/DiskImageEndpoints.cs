using System.Text.Json.Nodes;
using Ims.Service.Auth;
using Ims.Service.Backups;
using Ims.Service.Ecs;
using Ims.Service.Eps;
using Ims.Service.Evs;
using Ims.Service.Hosting;
using Ims.Service.Http;
using Ims.Service.Jobs;
using Ims.Service.Obs;
using Ims.Service.Storage;
using Microsoft.Extensions.Options;

namespace Ims.Service.Ims;

/// <summary>
/// <c>POST /v2/cloudimages/action</c> for images of disks: a system disk image of an ECS (with data disk images of the
/// disks <c>data_images</c> names), a system disk image of an EVS disk (<c>volume_id</c>), data disk images of EVS disks
/// (<c>data_images</c> alone). Validates at once, then writes the images (queued) and their job in one transaction and
/// answers 200 <c>{"job_id"}</c>; the job captures the disks' bytes and registers the images.
/// </summary>
public static class DiskImageEndpoints
{
    public static IEndpointRouteBuilder MapDiskImages(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/v2/cloudimages").ForService(ServiceKind.Ims).MapPost("/action", CreateDiskImages);
        return app;
    }

    private static async Task<IResult> CreateDiskImages(HttpContext http, Caller caller, Database db, ImageStore images,
        VolumeStore volumes, JobQueue jobs, BackupCapture capture, EnterpriseProjectCheck enterpriseProjects,
        IImageFileBuckets buckets, IOptions<ServiceOptions> options, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var settings = options.Value;
        var (body, error) = await JsonBody.ReadAsync<DiskImageRequest>(http, ServiceKind.Ims);
        if (error is not null) return error;
        if (body!.ImportsFiles)
        {
            var (import, refused) = ImageImportRules.ValidateAction(body, chineseNames: settings.Profile == CloudProfile.Huawei);
            return refused ?? await ImageImportEndpoints.ImportAsync(http, caller, import!,
                new ImageImportEndpoints.ImportServices(db, images, jobs, buckets, enterpriseProjects, settings, time));
        }
        var (request, invalid) = DiskImageRules.Validate(body!, chineseNames: settings.Profile == CloudProfile.Huawei);
        if (invalid is not null) return invalid;
        var valid = request!;
        if (await enterpriseProjects.ImsRefusalAsync(caller.Domain.Id, valid.EnterpriseProjectId, ct) is { } noProject) return noProject;

        await using var write = await db.BeginWriteAsync(ct);
        if (await images.CountQuotaAsync(write, caller.ProjectId, ct) + valid.ImageCount > settings.ImageQuota)
            return ImsErrors.Of("IMG.0015");

        var dedicatedRefused = settings.Profile == CloudProfile.Huawei;
        ImageRow? sourceImage = null;
        var disks = new List<DiskImageTarget>();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        string? systemVolumeId = null;
        long systemDiskGb = 0;
        switch (valid.Mode)
        {
            case DiskImageMode.FromServer:
            {
                var server = await capture.CheckServerAsync(write, caller.ProjectId, valid.InstanceId!, ct);
                switch (server.Problem)
                {
                    case ServerProblem.NotFound: return ImsErrors.Of("IMG.0005");
                    case ServerProblem.BadStatus: return ImsErrors.Of("IMG.0008", "The ECS must be running or stopped to create an image.");
                    case ServerProblem.Busy: return ImsErrors.Of(server.TaskState == BackupCapture.TaskState ? "IMG.0136" : "IMG.0010");
                    case ServerProblem.NoVolumes: return ImsErrors.Of("IMG.0119");
                    default: break;
                }
                if (await ServerGuards.HasDisksInTransitAsync(write, server.Id, ct)) return ImsErrors.Of("IMG.0010");
                var system = await volumes.GetSystemDiskAsync(write, server.Id, ct);
                if (system is null) return ImsErrors.Of("IMG.0119");
                if (dedicatedRefused && system.VolumeType == DedicatedVolumeType) return ImsErrors.Of("IMG.0153");
                foreach (var data in valid.DataImages)
                {
                    var refusal = await CheckDataDiskAsync(write, volumes, caller.ProjectId, data.VolumeId, server.Id, dedicatedRefused, ct);
                    if (refusal is not null) return refusal;
                }
                // The images are of the ECS at one instant: it is held (no start, stop or system-disk detach) until captured.
                if (!(await ServerGuards.TryClaimAsync(write, caller.ProjectId, server.Id, DiskImageJob.TaskState, now, ct)).Claimed)
                    return ImsErrors.Of("IMG.0010");
                sourceImage = string.IsNullOrEmpty(server.ImageId) ? null : await images.GetAsync(write, server.ImageId, ct);
                systemVolumeId = system.Id;
                systemDiskGb = system.SizeGb;
                break;
            }
            case DiskImageMode.FromVolume:
            {
                var (volume, refusal) = await CheckVolumeAsync(write, volumes, caller.ProjectId, valid.VolumeId!, dedicatedRefused, ct);
                if (refusal is not null) return refusal;
                systemVolumeId = volume!.Id;
                systemDiskGb = volume.SizeGb;
                break;
            }
            default:
            {
                // Disks of one request belong to one ECS at most (or to none).
                string? server = null;
                foreach (var data in valid.DataImages)
                {
                    var (_, refusal) = await CheckVolumeAsync(write, volumes, caller.ProjectId, data.VolumeId, dedicatedRefused, ct);
                    if (refusal is not null) return refusal;
                    var attachedTo = (await volumes.GetAttachmentsAsync(write, [data.VolumeId], ct)).Select(a => a.ServerId).FirstOrDefault();
                    if (attachedTo is null) continue;
                    if (server is not null && server != attachedTo) return ImsErrors.Of("IMG.0140");
                    server = attachedTo;
                }
                break;
            }
        }

        var osVersion = valid.OsVersion ?? sourceImage?.OsVersion ?? "";
        var (osType, platform, osBit) = valid.OsVersion is { } named ? NativeImageRules.DescribeOs(named)
            : sourceImage is not null ? (sourceImage.OsType, sourceImage.Platform, sourceImage.OsBit)
            : ("Linux", "", "64");
        var resourceId = "";
        var entities = new JsonObject();
        if (systemVolumeId is not null)
        {
            var imageId = Ids.NewUuid();
            resourceId = imageId;
            await images.InsertAsync(write, NewImage(caller.ProjectId, imageId, valid.Name, valid.Description, valid.Tags, valid, now) with
            {
                OsType = osType,
                OsVersion = osVersion,
                Platform = platform,
                OsBit = osBit,
                MinDisk = systemDiskGb,
                DataOrigin = valid.InstanceId is not null ? $"instance,{valid.InstanceId}" : $"volume,{systemVolumeId}",
                Properties = SystemDiskProperties(sourceImage),
            }, new ImageProvenance(valid.InstanceId), ct);
            disks.Add(new DiskImageTarget(imageId, systemVolumeId, valid.Name, null));
            entities["image_name"] = valid.Name;
            entities["image_id"] = imageId;
        }

        var subJobs = new JsonArray();
        foreach (var data in valid.DataImages)
        {
            var volume = (await volumes.GetAsync(write, caller.ProjectId, data.VolumeId, ct))!;
            var imageId = Ids.NewUuid();
            if (resourceId.Length == 0) resourceId = imageId;
            var subJobId = Ids.NewHex32();
            await images.InsertAsync(write, NewImage(caller.ProjectId, imageId, data.Name, data.Description, data.Tags, valid, now) with
            {
                // A data disk image carries the OS type of the ECS it came from, as the reference asks of data images.
                OsType = valid.InstanceId is not null ? osType : "Linux",
                OsVersion = "",
                Platform = "",
                OsBit = valid.InstanceId is not null ? osBit : "64",
                MinDisk = volume.SizeGb,
                VirtualEnvType = ImageKinds.DataDisk,
                DataOrigin = $"volume,{data.VolumeId}",
            }, new ImageProvenance(valid.InstanceId), ct);
            disks.Add(new DiskImageTarget(imageId, data.VolumeId, data.Name, subJobId));
            subJobs.Add(new JsonObject
            {
                ["job_id"] = subJobId,
                ["job_type"] = DiskImageJob.DataImageSubJobType,
                ["entities"] = new JsonObject { ["image_id"] = imageId, ["image_name"] = data.Name },
            });
        }
        if (subJobs.Count > 0)
        {
            entities["sub_jobs_result"] = subJobs;
            entities["sub_jobs_list"] = new JsonArray(disks.Where(d => d.SubJobId is not null).Select(d => (JsonNode)d.SubJobId!).ToArray());
        }

        var jobType = valid.Mode switch
        {
            DiskImageMode.FromServer => ImageFromServerJob.Type,
            DiskImageMode.FromVolume => SystemImageFromVolumeJob.Type,
            _ => DataImagesFromVolumesJob.Type,
        };
        var payload = new DiskImagePayload(valid.InstanceId, disks);
        // The captures run where the disks' bytes are (disks of one server share its node).
        var node = (await volumes.GetNodesAsync(write, disks.Select(d => d.VolumeId).ToList(), ct)).FirstOrDefault(n => n is not null);
        var jobId = await jobs.EnqueueAsync(write, "ims", jobType, caller.ProjectId, payload, entities, resourceId, node, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { job_id = jobId });
    }

    /// <summary>EVS's dedicated distributed storage, which IMS cannot image in the Huawei profile.</summary>
    private const string DedicatedVolumeType = "DSS";

    /// <summary>
    /// An EVS disk to image on its own: the caller's (<c>IMG.0120</c>), usable (<c>IMG.0022</c>), not a server's
    /// system disk (<c>IMG.0006</c>), not dedicated storage in the Huawei profile (<c>IMG.0153</c>).
    /// </summary>
    private static async Task<(VolumeRow? Volume, ApiError? Error)> CheckVolumeAsync(WriteScope write, VolumeStore volumes, string project,
        string volumeId, bool dedicatedRefused, CancellationToken ct)
    {
        var volume = await volumes.GetAsync(write, project, volumeId, ct);
        if (volume is null) return (null, ImsErrors.Of("IMG.0120", $"The disk {volumeId} does not exist."));
        if (volume.Status is not (VolumeStatus.Available or VolumeStatus.InUse))
            return (null, ImsErrors.Of("IMG.0022", $"The disk {volumeId} is {volume.Status}."));
        if ((await volumes.GetAttachmentsAsync(write, [volumeId], ct)).Any(a => a.BootIndex == 0))
            return (null, ImsErrors.Of("IMG.0006", $"The disk {volumeId} is the system disk of an ECS: make the image from the ECS (instance_id)."));
        if (dedicatedRefused && volume.VolumeType == DedicatedVolumeType) return (null, ImsErrors.Of("IMG.0153"));
        return (volume, null);
    }

    /// <summary>A data disk named with <c>instance_id</c>: one of that ECS's data disks (<c>IMG.0140</c> another's).</summary>
    private static async Task<ApiError?> CheckDataDiskAsync(WriteScope write, VolumeStore volumes, string project, string volumeId,
        string serverId, bool dedicatedRefused, CancellationToken ct)
    {
        var (_, refusal) = await CheckVolumeAsync(write, volumes, project, volumeId, dedicatedRefused, ct);
        if (refusal is not null) return refusal;
        var attachments = await volumes.GetAttachmentsAsync(write, [volumeId], ct);
        if (attachments.Any(a => a.ServerId == serverId)) return null;
        return attachments.Count > 0
            ? ImsErrors.Of("IMG.0140", $"The disk {volumeId} is attached to another ECS.")
            : ImsErrors.Of("IMG.0120", $"The disk {volumeId} is not attached to the ECS {serverId}.");
    }

    private static ImageRow NewImage(string owner, string imageId, string name, string description, IReadOnlyList<ImageTags.Tag> tags,
        ValidDiskImageRequest request, long now) => new()
    {
        Id = imageId,
        Owner = owner,
        Name = name,
        Status = "queued",
        Visibility = "private",
        Imagetype = "private",
        MinRam = request.MinRam,
        MaxRam = request.MaxRam,
        Description = description,
        EnterpriseProjectId = request.EnterpriseProjectId,
        Tags = ImageTags.Serialize(tags),
        DiskFormat = "zvhd2",
        CreatedAt = now,
        UpdatedAt = now,
    };

    /// <summary>What a system disk image inherits from the image its ECS was made from, as IMS reports it.</summary>
    private static string SystemDiskProperties(ImageRow? source)
    {
        var properties = new Dictionary<string, string>
        {
            ["__support_kvm"] = "true",
            ["hw_firmware_type"] = "bios",
        };
        if (source is not null)
        {
            properties["__originalimagename"] = source.Id;
            var inherited = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, System.Text.Json.JsonElement>>(source.Properties) ?? [];
            if (inherited.TryGetValue("hw_firmware_type", out var firmware) && firmware.ValueKind == System.Text.Json.JsonValueKind.String)
                properties["hw_firmware_type"] = firmware.GetString()!;
        }
        return System.Text.Json.JsonSerializer.Serialize(properties);
    }
}
