using Ims.Service.Hosting;
using Ims.Service.Http;
using Ims.Service.Jobs;
using Ims.Service.Obs;
using Ims.Service.Storage;
using Microsoft.Extensions.Options;
using DamagedChunkException = Ims.DataPlane.DamagedChunkException;
using DataPlaneStore = Ims.DataPlane.DataPlane;
using DiskFormat = Ims.DataPlane.DiskFormat;

namespace Ims.Service.Ims;

/// <summary>What an export needs to know; stored as the job payload. <c>Format</c> is the data plane's name of the file's format.</summary>
public sealed record ExportImagePayload(string ImageId, string DomainId, string Bucket, string Key, DiskFormat Format);

/// <summary>
/// <c>imsNativeExportImageJob</c>: a system or data disk image written to a bucket as an image file. <c>ConvertImage</c>
/// reads the image's disk out of the data plane into a scratch file of this node and converts it with qemu-img;
/// <c>UploadFile</c> writes that file through <see cref="IImageFileBuckets"/>, where the object appears only once it is
/// complete, and removes the scratch file. A job resumed on another node (or after a restart, which empties the scratch
/// folder) finds no scratch file and converts again. The image itself is only read: a failed export leaves it as it was,
/// and no object, partial or whole.
/// </summary>
public sealed class ExportImageJob(ImageStore images, DataPlaneStore dataPlane, IImageFileBuckets buckets, IOptions<ServiceOptions> options)
    : JobHandler
{
    public const string Type = "imsNativeExportImageJob";

    public override string JobType => Type;

    public override string InternalErrorCode => "IMG.0014";

    public override string StorageFullCode => ErrorBodies.StorageFullCode;

    public override IReadOnlyList<JobStep> Steps { get; } =
    [
        JobStep.WithWork("ConvertImage",
            (job, ct) => ConvertAsync(images, dataPlane, ScratchFile(options.Value, job), job.Payload<ExportImagePayload>(), ct),
            (_, _, _) => Task.CompletedTask),
        JobStep.WithWork("UploadFile", async (job, ct) =>
        {
            var payload = job.Payload<ExportImagePayload>();
            var path = ScratchFile(options.Value, job);
            if (!File.Exists(path)) await ConvertAsync(images, dataPlane, path, payload, ct);
            try
            {
                await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1024 * 1024, FileOptions.Asynchronous);
                await buckets.WriteAsync(payload.DomainId, payload.Bucket, payload.Key, file, ct);
            }
            catch (BucketFileException gone)
            {
                throw JobContext.Fail("IMG.0069", gone.Message);
            }
            File.Delete(path);
        }, (_, _, _) => Task.CompletedTask),
    ];

    /// <summary>The scratch files go; the image was never changed, and the bucket got no object.</summary>
    public override Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        var path = ScratchFile(options.Value, job);
        File.Delete(path);
        File.Delete(path + ".raw");
        return Task.CompletedTask;
    }

    private static string ScratchFile(ServiceOptions settings, JobContext job) =>
        Path.Combine(settings.ScratchDir, $"export-{job.JobId}.{job.Payload<ExportImagePayload>().Format.ToString().ToLowerInvariant()}");

    /// <summary>The image's disk as a file of the export's format; an image deleted (or emptied) meanwhile fails the job.</summary>
    private static async Task ConvertAsync(ImageStore images, DataPlaneStore dataPlane, string path, ExportImagePayload payload, CancellationToken ct)
    {
        var image = await images.GetLiveAsync(payload.ImageId, ct);
        if (image is not { Status: "active", ManifestId: { } manifestId })
            throw JobContext.Fail("IMG.0027", $"The image {payload.ImageId} no longer exists.");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        try
        {
            await dataPlane.ExportAsync(manifestId, payload.Format, path, ct);
        }
        catch (DamagedChunkException damaged)
        {
            throw JobContext.Fail("IMG.0014", $"The image's content cannot be read: {damaged.Message}");
        }
    }
}
