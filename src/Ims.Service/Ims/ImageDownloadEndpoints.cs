using Ims.Service.Auth;
using Ims.Service.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;
using DamagedChunkException = Ims.DataPlane.DamagedChunkException;
using DataPlaneStore = Ims.DataPlane.DataPlane;

namespace Ims.Service.Ims;

/// <summary>
/// <c>GET /v2/images/{image_id}/file</c>, as Glance answers it (<c>openstack image save</c>, openstacksdk
/// <c>download_image</c>, <c>glance image-download</c>): the bytes of the uploaded file, streamed from the data plane,
/// with <c>Content-MD5</c> (the image's checksum) and single byte ranges (206). An image whose file has not arrived yet
/// answers 204, as in Glance. Images with no file of their own are refused as IMS refuses exporting them: a whole
/// image (its disks are backups) <c>IMG.0128</c>, a public image <c>IMG.0077</c>.
/// </summary>
public static class ImageDownloadEndpoints
{
    public static IEndpointRouteBuilder MapImageDownloads(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v2/images/{image_id}/file", DownloadImageFile).ForService(ServiceKind.Ims);
        return app;
    }

    private static async Task<IResult> DownloadImageFile(string image_id, HttpContext http, Caller caller, ImageStore images,
        DataPlaneStore dataPlane, ILoggerFactory logs)
    {
        var ct = http.RequestAborted;
        var image = await images.GetVisibleAsync(caller.ProjectId, image_id, ct);
        if (image is null) return ImsErrors.Of("IMG.0027", $"Image {image_id} does not exist.", StatusCodes.Status404NotFound);
        if (image.WholeImage) return ImsErrors.Of("IMG.0128", "A full-ECS image is made of backups and has no image file to download.");
        if (image.Visibility == "public") return ImsErrors.Of("IMG.0077", "Public images cannot be downloaded.");
        // Only an uploaded file has a checksum; until it is active there are no bytes to send.
        if (image.Status != "active" || image.Checksum is null || await images.GetFileManifestAsync(image_id, ct) is not { } manifestId)
            return TypedResults.NoContent();

        var size = image.Size;
        long offset = 0, length = size;
        var partial = false;
        if (SingleRange(http) is { } range)
        {
            if (!range.From.HasValue && !range.To.HasValue || range.From >= size || range.From is null && range.To == 0)
            {
                http.Response.Headers.ContentRange = $"bytes */{size}";
                return ImsErrors.Of("IMG.0001", $"The range is outside the {size}-byte image file.", StatusCodes.Status416RangeNotSatisfiable);
            }
            (offset, var last) = range.From is { } from ? (from, Math.Min(range.To ?? size - 1, size - 1)) : (size - Math.Min(range.To!.Value, size), size - 1);
            length = last - offset + 1;
            partial = true;
        }

        var response = http.Response;
        response.StatusCode = partial ? StatusCodes.Status206PartialContent : StatusCodes.Status200OK;
        response.ContentType = "application/octet-stream";
        response.ContentLength = length;
        response.Headers.AcceptRanges = "bytes";
        if (partial) response.Headers.ContentRange = $"bytes {offset}-{offset + length - 1}/{size}";
        else response.Headers.ContentMD5 = image.Checksum;
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        try
        {
            await dataPlane.ReadManifestAsync(manifestId, offset, length,
                (bytes, token) => new ValueTask(response.Body.WriteAsync(bytes, token).AsTask()), ct);
        }
        catch (DamagedChunkException ex) when (response.HasStarted)
        {
            // The status line is gone: the one honest signal left is a body cut short.
            logs.CreateLogger(typeof(ImageDownloadEndpoints)).LogError("Image {ImageId}: download stopped, {Problem}", image_id, ex.Message);
            http.Abort();
        }
        return Results.Empty;
    }

    /// <summary>The one byte range asked for, or null: no Range header, another unit or several ranges (the whole file then).</summary>
    private static RangeItemHeaderValue? SingleRange(HttpContext http)
    {
        var header = http.Request.Headers.Range.ToString();
        if (header.Length == 0 || !RangeHeaderValue.TryParse(header, out var parsed)) return null;
        if (!string.Equals(parsed.Unit.Value, "bytes", StringComparison.OrdinalIgnoreCase) || parsed.Ranges.Count != 1) return null;
        return parsed.Ranges.First();
    }
}
