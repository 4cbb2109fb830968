using System.Buffers;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Ims.Service.Auth;
using Ims.Service.Hosting;
using Ims.Service.Http;
using Ims.Service.Storage;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using DataPlaneStore = Ims.DataPlane.DataPlane;
using DiskFormat = Ims.DataPlane.DiskFormat;
using IManifestLease = Ims.DataPlane.IManifestLease;
using InvalidDiskImageException = Ims.DataPlane.InvalidDiskImageException;

namespace Ims.Service.Ims;

/// <summary>
/// System-disk images from a file, the native (Glance v2) way: <c>POST /v2/images</c> makes the record (queued), then
/// <c>PUT /v2/images/{image_id}/file</c> takes a file of any format qemu-img reads, stores it in the data plane and makes the image
/// active. The upload is synchronous, as in Glance: the answer (204) comes when the image is active.
/// </summary>
public static class ImageUploadEndpoints
{
    private const string OctetStream = "application/octet-stream";

    /// <summary>Zero blocks of an upload are not written to the scratch file (they stay holes).</summary>
    private const int SparseBlock = 64 * 1024;

    private const int ReadBuffer = 1024 * 1024;

    public static IEndpointRouteBuilder MapImageUploads(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("").ForService(ServiceKind.Ims);
        group.MapPost("/v2/images", CreateImage);
        group.MapPut("/v2/images/{image_id}/file", UploadImageFile);
        return app;
    }

    /// <summary>
    /// At start-up: an upload the previous process did not finish left its image <c>saving</c> and its scratch file
    /// behind. Nobody is receiving those files any more (scratch files are local to this process's data folder), so the
    /// images are <c>queued</c> again, ready for another upload, and the files go.
    /// </summary>
    public static async Task RecoverInterruptedAsync(Database db, ImageStore images, string scratchDir, TimeProvider time, CancellationToken ct)
    {
        if (Directory.Exists(scratchDir))
        {
            foreach (var leftover in Directory.EnumerateFiles(scratchDir)) File.Delete(leftover);
        }
        await using var write = await db.BeginWriteAsync(ct);
        await images.RequeueInterruptedUploadsAsync(write, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
        await write.CommitAsync(ct);
    }

    /// <summary>201 with the image record, <c>queued</c> until its file is uploaded. Counts against the quota at once.</summary>
    private static async Task<IResult> CreateImage(HttpContext http, Caller caller, Database db, ImageStore images,
        IOptions<ServiceOptions> options, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var settings = options.Value;
        var (body, error) = await JsonBody.ReadAsync<NativeImageRequest>(http, ServiceKind.Ims);
        if (error is not null) return error;
        var (request, invalid) = NativeImageRules.Validate(body!, chineseNames: settings.Profile == CloudProfile.Huawei);
        if (invalid is not null) return invalid;
        var valid = request!;

        await using var write = await db.BeginWriteAsync(ct);
        if (await images.CountQuotaAsync(write, caller.ProjectId, ct) >= settings.ImageQuota)
            return ImsErrors.Of("IMG.0015");
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var image = new ImageRow
        {
            Id = Ids.NewUuid(),
            Owner = caller.ProjectId,
            Name = valid.Name,
            Status = "queued",
            Visibility = "private",
            Imagetype = "private",
            OsType = valid.OsType,
            OsVersion = valid.OsVersion,
            Platform = valid.Platform,
            OsBit = valid.OsBit,
            MinDisk = valid.MinDisk,
            MinRam = valid.MinRam,
            DiskFormat = valid.DiskFormat,
            ContainerFormat = valid.ContainerFormat,
            Protected = valid.Protected,
            Properties = """{"__root_origin":"file"}""",
            Tags = ImageTags.Serialize(valid.Tags),
            CreatedAt = now,
            UpdatedAt = now,
        };
        await images.InsertAsync(write, image, ImageProvenance.None, ct);
        await write.CommitAsync(ct);
        return new JsonWriterResult(w => ImageWire.Write(w, image, caller.ProjectId), StatusCodes.Status201Created);
    }

    /// <summary>
    /// Streams the body to a scratch file under the data folder (zero blocks left as holes, MD5 on the way), imports it
    /// into the data plane and makes the image active with its size, checksum, virtual size and manifest. The image is
    /// <c>saving</c> meanwhile, so a second upload gets 409; if the file is unusable or the client goes away it is
    /// <c>queued</c> again, ready for another try (as in Glance).
    /// </summary>
    private static async Task<IResult> UploadImageFile(string image_id, HttpContext http, Caller caller, Database db,
        ImageStore images, DataPlaneStore dataPlane, SpaceReserve reserve, IOptions<ServiceOptions> options, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var settings = options.Value;
        if (!MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var mediaType)
            || !string.Equals(mediaType.MediaType, OctetStream, StringComparison.OrdinalIgnoreCase))
            return ImsErrors.Of("IMG.0001", $"The image file must be sent as {OctetStream}.", StatusCodes.Status415UnsupportedMediaType);

        DiskFormat format;
        await using (var write = await db.BeginWriteAsync(ct))
        {
            var image = await images.GetVisibleAsync(write, caller.ProjectId, image_id, ct);
            if (image is null) return ImsErrors.ImageNotFound(image_id);
            if (image.Owner != caller.ProjectId) return ImsErrors.Of("IMG.0047", status: StatusCodes.Status403Forbidden);
            if (image.WholeImage)
                return ImsErrors.Of("IMG.0105", "A full-ECS image is made of backups; no image file can be uploaded to it.");
            if (image.IsMadeByJob)
                return ImsErrors.Of("IMG.0105", "The image is made from a disk or another image; no image file can be uploaded to it.");
            if (image.Status != "queued")
                return ImsErrors.Of("IMG.0046", $"The image is {image.Status}: only a queued image takes an image file.", StatusCodes.Status409Conflict);
            if (!NativeImageRules.UploadableFormats.TryGetValue(image.DiskFormat, out format))
                return ImsErrors.Of("IMG.0072", image.DiskFormat is "zvhd" or "zvhd2"
                    ? $"Image files of disk_format '{image.DiskFormat}' cannot be uploaded here: it is Huawei's own format, which no public tool reads. Use qcow2, vhd, vhdx, vmdk, qed, vdi, raw or iso."
                    : $"Image files of disk_format '{image.DiskFormat}' cannot be uploaded here. Use qcow2, vhd, vhdx, vmdk, qed, vdi, raw or iso.");
            if (http.Request.ContentLength is 0) return ImsErrors.Of("IMG.0057", "The image file is empty.");
            if (http.Request.ContentLength > settings.MaxImageFileBytes) return TooLarge(settings);

            await images.MarkSavingAsync(write, image_id, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            await write.CommitAsync(ct);
        }

        Directory.CreateDirectory(settings.ScratchDir);
        var path = Path.Combine(settings.ScratchDir, $"upload-{image_id}-{Guid.NewGuid():N}.{format.ToString().ToLowerInvariant()}");
        var activated = false;
        try
        {
            var received = await ReceiveAsync(http, path, settings.MaxImageFileBytes, ct);
            if (received is null) return TooLarge(settings);
            var (length, checksum) = received.Value;
            if (length == 0) return ImsErrors.Of("IMG.0057", "The image file is empty.");

            IManifestLease lease;
            try
            {
                lease = await dataPlane.ImportAsync(path, format, ct);
            }
            catch (InvalidDiskImageException ex)
            {
                return ImsErrors.Of("IMG.0057", $"The image file is not a readable {format.ToString().ToLowerInvariant()} disk: {ex.Message}");
            }
            using (lease)
            {
                // A converted file is kept as it came too, so that a download answers the bytes that were uploaded.
                using var fileLease = format is DiskFormat.Raw or DiskFormat.Iso ? null : await ImportFileAsync(dataPlane, path, length, ct);
                var disk = lease.Disks[0];
                await using var write = await db.BeginWriteAsync(CancellationToken.None);
                await images.ActivateUploadAsync(write, image_id,
                    new UploadedContent(disk.ManifestId, length, checksum, disk.SizeBytes, fileLease?.Disks[0].ManifestId),
                    time.GetUtcNow().ToUnixTimeMilliseconds(), CancellationToken.None);
                await write.CommitAsync(CancellationToken.None);
                activated = true;
            }
            return TypedResults.NoContent();
        }
        catch (Exception ex) when (db.StorageFull(ex) is not null)
        {
            // Out of space (the scratch file, the chunks or the database): the image goes back to queued below, in a
            // transaction that needs room of its own. The error middleware answers the out-of-space error.
            reserve.Release();
            throw;
        }
        finally
        {
            File.Delete(path);
            if (!activated)
            {
                await using var write = await db.BeginWriteAsync(CancellationToken.None);
                await images.RequeueUploadAsync(write, image_id, time.GetUtcNow().ToUnixTimeMilliseconds(), CancellationToken.None);
                await write.CommitAsync(CancellationToken.None);
            }
        }
    }

    /// <summary>
    /// Stores the uploaded file itself in the data plane, as a disk of whole sectors (the scratch file is padded with
    /// zeros; <c>images.size</c> keeps its real length).
    /// </summary>
    private static async Task<IManifestLease> ImportFileAsync(DataPlaneStore dataPlane, string path, long length, CancellationToken ct)
    {
        const long sector = 512;
        using (var file = File.OpenHandle(path, FileMode.Open, FileAccess.Write))
            RandomAccess.SetLength(file, (length + sector - 1) / sector * sector);
        return await dataPlane.ImportAsync(path, DiskFormat.Raw, ct);
    }

    private static ApiError TooLarge(ServiceOptions settings) =>
        ImsErrors.Of("IMG.0059", $"The image file must be smaller than {settings.MaxImageFileBytes} bytes.");

    /// <summary>
    /// Copies the body to <paramref name="path"/>, skipping zero blocks, and returns its length and MD5 (lowercase hex);
    /// null when it exceeds <paramref name="maxBytes"/>. A body an AK/SK check has already read is taken from memory.
    /// </summary>
    private static async Task<(long Length, string Checksum)?> ReceiveAsync(HttpContext http, string path, long maxBytes, CancellationToken ct)
    {
        // Glance reports the MD5 of the uploaded data as the image's checksum: a wire contract, not a security measure.
#pragma warning disable CA5351
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
#pragma warning restore CA5351
        using var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.Asynchronous);
        long length = 0;
        if (JsonBody.TryGetBuffered(http, out var buffered))
        {
            if (buffered.Length > maxBytes) return null;
            md5.AppendData(buffered.Span);
            await WriteSparseAsync(file, buffered, 0, ct);
            length = buffered.Length;
        }
        else
        {
            // The body limit is ours to enforce (IMG.0059), not Kestrel's default of 30 MB.
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = null;
            var buffer = ArrayPool<byte>.Shared.Rent(ReadBuffer);
            try
            {
                while (true)
                {
                    var filled = await FillAsync(http.Request.Body, buffer.AsMemory(0, ReadBuffer), ct);
                    if (filled == 0) break;
                    if (length + filled > maxBytes) return null;
                    md5.AppendData(buffer, 0, filled);
                    await WriteSparseAsync(file, buffer.AsMemory(0, filled), length, ct);
                    length += filled;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        RandomAccess.SetLength(file, length);
        return (length, Convert.ToHexStringLower(md5.GetHashAndReset()));
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the body ends, so sparse blocks stay aligned.</summary>
    internal static async Task<int> FillAsync(Stream body, Memory<byte> buffer, CancellationToken ct)
    {
        var filled = 0;
        while (filled < buffer.Length)
        {
            var read = await body.ReadAsync(buffer[filled..], ct);
            if (read == 0) break;
            filled += read;
        }
        return filled;
    }

    internal static async Task WriteSparseAsync(Microsoft.Win32.SafeHandles.SafeFileHandle file, ReadOnlyMemory<byte> data, long offset,
        CancellationToken ct)
    {
        for (var at = 0; at < data.Length; at += SparseBlock)
        {
            var block = data.Slice(at, Math.Min(SparseBlock, data.Length - at));
            if (block.Span.ContainsAnyExcept((byte)0)) await RandomAccess.WriteAsync(file, block, offset + at, ct);
        }
    }
}
