using System.Buffers;
using System.Security.Cryptography;
using Ims.Service.Data;
using Ims.Service.Hosting;
using Ims.Service.Jobs;
using Ims.Service.Obs;
using Ims.Service.Storage;
using Microsoft.Extensions.Options;
using DataPlaneStore = Ims.DataPlane.DataPlane;
using DiskFormat = Ims.DataPlane.DiskFormat;
using IManifestLease = Ims.DataPlane.IManifestLease;
using InvalidDiskImageException = Ims.DataPlane.InvalidDiskImageException;

namespace Ims.Service.Ims;

/// <summary>
/// One image an import job makes (or registers), the file it is made of and the largest disk it may hold (0: any, for a
/// registration, whose image grows to its disk).
/// </summary>
public sealed record ImportTarget(string ImageId, string Bucket, string Key, DiskFormat Format, long MinDiskGb, string? SubJobId)
{
    public string Url => $"{Bucket}:{Key}";
}

/// <summary>What an import job needs to know; stored as the job payload. <c>DomainId</c> is the account whose buckets are read.</summary>
public sealed record ImportPayload(string DomainId, IReadOnlyList<ImportTarget> Targets);

/// <summary>The data plane's leases on what a step's work stored, per image, until the step's commit has ended.</summary>
public sealed class ImportedManifests(IReadOnlyList<(string ImageId, IManifestLease Lease, long Length, string? Checksum)> items) : IDisposable
{
    public IReadOnlyList<(string ImageId, IManifestLease Lease, long Length, string? Checksum)> Items { get; } = items;

    public void Dispose()
    {
        foreach (var item in Items) item.Lease.Dispose();
    }
}

/// <summary>
/// The jobs that make images of files in a bucket, one wire <c>job_type</c> per way of asking, all with the same steps:
/// <list type="number">
/// <item><c>FetchFile</c>: each file is read from its bucket through <see cref="IImageFileBuckets"/> into a scratch file
/// (zero blocks left as holes, MD5 on the way) and stored in the data plane as it came (work); the commit records it as
/// the image's file (<c>size</c>, <c>checksum</c>; the image <c>saving</c>).</item>
/// <item><c>ConvertDisk</c>: the stored file is read back and converted to the disk it holds with the uploads' qemu-img
/// path (<see cref="DataPlaneStore.ImportAsync"/>: a file that is not what its name says, or that names a backing file,
/// is refused with <c>IMG.0057</c>; a disk larger than <c>min_disk</c> with <c>IMG.0055</c>); the commit records the disk.</item>
/// <item><c>RegisterImage</c>: the images become <c>active</c>.</item>
/// </list>
/// Each step's result is in the data plane and the database, so a job resumed on another node after its lease expired
/// goes on from there (scratch files are local and never outlive a step). A failed job kills its images (neither listed
/// nor counted against the quota; a registration's image is queued again instead) and asks for a collection.
/// </summary>
public abstract class ImageImportJob(ImageStore images, IImageFileBuckets buckets, DataPlaneStore dataPlane, IOptions<ServiceOptions> options)
    : JobHandler
{
    public const string FetchFile = "FetchFile";
    public const string ConvertDisk = "ConvertDisk";
    public const string RegisterImage = "RegisterImage";

    private const long Sector = 512;

    private IReadOnlyList<JobStep>? _steps;

    public override string InternalErrorCode => "IMG.1075";

    public override IReadOnlyList<JobStep> Steps => _steps ??=
    [
        JobStep.WithWork(FetchFile, FetchAsync, async (job, fetched, write, ct) =>
        {
            foreach (var (imageId, lease, length, checksum) in fetched.Items)
                await images.SetImportedFileAsync(write, imageId, lease.Disks[0].ManifestId, length, checksum!, job.NowMs, ct);
            job.Entities["process_percent"] = 50.0;
        }),
        JobStep.WithWork(ConvertDisk, ConvertAsync, async (job, converted, write, ct) =>
        {
            foreach (var (imageId, lease, _, _) in converted.Items)
                await images.SetImportedDiskAsync(write, imageId, lease.Disks[0].ManifestId, lease.Disks[0].SizeBytes, job.NowMs, ct);
            job.Entities["process_percent"] = 90.0;
        }),
        new(RegisterImage, async (job, write, ct) =>
        {
            foreach (var target in job.Payload<ImportPayload>().Targets) await images.ActivateImportAsync(write, target.ImageId, job.NowMs, ct);
            job.Entities["process_percent"] = 100.0;
        }),
    ];

    /// <summary>Whether a failure puts the image back to <c>queued</c> (a registration) instead of killing it.</summary>
    protected virtual bool RequeuesOnFailure => false;

    public override async Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        foreach (var target in job.Payload<ImportPayload>().Targets)
        {
            if (RequeuesOnFailure) await images.RequeueRegistrationAsync(write, target.ImageId, job.NowMs, ct);
            else await images.KillAsync(write, target.ImageId, forgetBackup: false, job.NowMs, ct);
        }
        // Whatever the steps stored is garbage now.
        await DataJanitor.RequestCollectionAsync(write, ct);
    }

    private async Task<ImportedManifests> FetchAsync(JobContext job, CancellationToken ct)
    {
        var payload = job.Payload<ImportPayload>();
        var stored = new List<(string, IManifestLease, long, string?)>();
        try
        {
            foreach (var target in payload.Targets)
            {
                var (lease, length, checksum) = await FetchOneAsync(job, payload.DomainId, target, ct);
                stored.Add((target.ImageId, lease, length, checksum));
            }
            return new ImportedManifests(stored);
        }
        catch
        {
            new ImportedManifests(stored).Dispose();
            throw;
        }
    }

    private async Task<(IManifestLease Lease, long Length, string Checksum)> FetchOneAsync(JobContext job, string domainId, ImportTarget target,
        CancellationToken ct)
    {
        var settings = options.Value;
        var (file, problem) = await buckets.OpenAsync(domainId, target.Bucket, target.Key, ct);
        switch (problem)
        {
            case BucketFileProblem.BucketInaccessible: throw JobContext.Fail("IMG.0069", $"The bucket {target.Bucket} cannot be accessed.");
            case BucketFileProblem.NoSuchObject: throw JobContext.Fail("IMG.0057", $"The image file {target.Url} does not exist.");
            default: break;
        }
        await using var opened = file!;
        if (opened.Size == 0) throw JobContext.Fail("IMG.0057", $"The image file {target.Url} is empty.");
        if (opened.Size > settings.MaxImageFileBytes)
            throw JobContext.Fail("IMG.0059", $"The image file {target.Url} is larger than {settings.MaxImageFileBytes} bytes.");

        Directory.CreateDirectory(settings.ScratchDir);
        var path = Path.Combine(settings.ScratchDir, $"import-{job.JobId}-{Guid.NewGuid():N}");
        try
        {
            // The import's checksum is the MD5 of the file, as for an upload: a wire contract, not a security measure.
#pragma warning disable CA5351
            using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
#pragma warning restore CA5351
            long length;
            using (var scratch = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.Asynchronous))
            {
                length = await CopySparseAsync(opened.Content, scratch, md5, settings.MaxImageFileBytes, ct);
                if (length != opened.Size)
                    throw new IOException($"The image file {target.Url} ended after {length} of its {opened.Size} bytes.");
                // Kept as a disk of whole sectors; images.size keeps the real length.
                RandomAccess.SetLength(scratch, (length + Sector - 1) / Sector * Sector);
            }
            var lease = await dataPlane.ImportAsync(path, DiskFormat.Raw, ct);
            return (lease, length, Convert.ToHexStringLower(md5.GetHashAndReset()));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private async Task<ImportedManifests> ConvertAsync(JobContext job, CancellationToken ct)
    {
        var payload = job.Payload<ImportPayload>();
        var converted = new List<(string, IManifestLease, long, string?)>();
        try
        {
            foreach (var target in payload.Targets)
            {
                var lease = await ConvertOneAsync(job, target, ct);
                converted.Add((target.ImageId, lease, lease.Disks[0].SizeBytes, null));
            }
            return new ImportedManifests(converted);
        }
        catch
        {
            new ImportedManifests(converted).Dispose();
            throw;
        }
    }

    private async Task<IManifestLease> ConvertOneAsync(JobContext job, ImportTarget target, CancellationToken ct)
    {
        var settings = options.Value;
        var image = await images.GetLiveAsync(target.ImageId, ct);
        if (image?.FileManifestId is not { } fileManifest) throw JobContext.Fail("IMG.1075", $"The image {target.ImageId} has no imported file.");

        Directory.CreateDirectory(settings.ScratchDir);
        var path = Path.Combine(settings.ScratchDir, $"convert-{job.JobId}-{Guid.NewGuid():N}");
        try
        {
            using (var scratch = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.Asynchronous))
            {
                long offset = 0;
                await dataPlane.ReadManifestAsync(fileManifest, 0, image.Size, async (piece, token) =>
                {
                    await ImageUploadEndpoints.WriteSparseAsync(scratch, piece, offset, token);
                    offset += piece.Length;
                }, ct);
                RandomAccess.SetLength(scratch, image.Size);
            }

            IManifestLease lease;
            try
            {
                lease = await dataPlane.ImportAsync(path, target.Format, ct);
            }
            catch (InvalidDiskImageException ex)
            {
                throw JobContext.Fail("IMG.0057", $"The image file {target.Url} is not a readable {target.Format.ToString().ToLowerInvariant()} disk: {ex.Message}");
            }
            var diskBytes = lease.Disks[0].SizeBytes;
            if (target.MinDiskGb > 0 && diskBytes > target.MinDiskGb << 30)
            {
                lease.Dispose();
                throw JobContext.Fail("IMG.0055",
                    $"The disk in {target.Url} holds {diskBytes} bytes, more than min_disk ({target.MinDiskGb} GB).");
            }
            return lease;
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Copies <paramref name="source"/> into <paramref name="file"/>, zero blocks left as holes; its length.</summary>
    private static async Task<long> CopySparseAsync(Stream source, Microsoft.Win32.SafeHandles.SafeFileHandle file, IncrementalHash md5, long maxBytes,
        CancellationToken ct)
    {
        const int bufferSize = 1024 * 1024;
        var buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
        try
        {
            long length = 0;
            while (true)
            {
                var filled = await ImageUploadEndpoints.FillAsync(source, buffer.AsMemory(0, bufferSize), ct);
                if (filled == 0) return length;
                if (length + filled > maxBytes) throw new IOException($"The image file grew past {maxBytes} bytes while it was read.");
                md5.AppendData(buffer, 0, filled);
                await ImageUploadEndpoints.WriteSparseAsync(file, buffer.AsMemory(0, filled), length, ct);
                length += filled;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>A system disk image (with data disk images of the files <c>data_images</c> names) or an ISO image of a file.</summary>
public sealed class SystemImageImportJob(ImageStore images, IImageFileBuckets buckets, DataPlaneStore dataPlane, IOptions<ServiceOptions> options)
    : ImageImportJob(images, buckets, dataPlane, options)
{
    public const string Type = "imsImportImageJob";

    public override string JobType => Type;
}

/// <summary>A data disk image of a file (<c>POST /v1/cloudimages/dataimages/action</c>, quick import of a data disk).</summary>
public sealed class DataImageImportJob(ImageStore images, IImageFileBuckets buckets, DataPlaneStore dataPlane, IOptions<ServiceOptions> options)
    : ImageImportJob(images, buckets, dataPlane, options)
{
    public const string Type = "imsImportDataImageJob";

    public override string JobType => Type;
}

/// <summary>A file registered into an image made by <c>POST /v2/images</c> (<c>PUT /v1/cloudimages/{image_id}/upload</c>).</summary>
public sealed class RegisterImageFileJob(ImageStore images, IImageFileBuckets buckets, DataPlaneStore dataPlane, IOptions<ServiceOptions> options)
    : ImageImportJob(images, buckets, dataPlane, options)
{
    public const string Type = "imsNativeImportImageJob";

    public override string JobType => Type;

    protected override bool RequeuesOnFailure => true;
}
