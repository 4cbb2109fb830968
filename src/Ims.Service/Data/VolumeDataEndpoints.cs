using System.Buffers;
using System.Globalization;
using Ims.DataPlane;
using Ims.Service.Auth;
using Ims.Service.Evs;
using Ims.Service.Http;
using Ims.Service.Nodes;
using Microsoft.AspNetCore.Http.Features;
using DataPlaneStore = Ims.DataPlane.DataPlane;

namespace Ims.Service.Data;

/// <summary>
/// <c>/data/v1/{project_id}/volumes/{volume_id}/...</c>: the bytes of the caller's own volumes, outside the cloud API.
/// Writes stand for the guest's writes, so they are allowed while the server runs (and while a backup captures it).
/// Authenticated like the cloud API; errors in EVS's shape.
/// </summary>
public static class VolumeDataEndpoints
{
    /// <summary>The most bytes one request writes or reads: two chunks.</summary>
    public const int MaxTransferBytes = 8 * 1024 * 1024;

    private static readonly HashSet<string> UsableStatuses =
        new(StringComparer.Ordinal) { VolumeStatus.Available, VolumeStatus.InUse, VolumeStatus.Attaching, VolumeStatus.Detaching };

    public static IEndpointRouteBuilder MapVolumeData(this IEndpointRouteBuilder app)
    {
        // A volume's bytes are on the node that hosts it: a request reaching another node is forwarded there.
        var volume = app.MapGroup("/data/v1/{project_id}/volumes/{volume_id}").ForService(ServiceKind.Evs)
            .AddEndpointFilter(NodeForwarding.FilterAsync);
        volume.MapPut("/bytes", WriteBytes);
        volume.MapGet("/bytes", ReadBytes);
        volume.MapGet("/sha256", Sha256);
        volume.MapGet("/chunks", Chunks);
        return app;
    }

    private static async Task<IResult> WriteBytes(string volume_id, HttpContext http, Caller caller, VolumeStore volumes, DataPlaneStore store,
        DiskFiles files)
    {
        var ct = http.RequestAborted;
        if (!TryLong(http, "offset", out var offset, out var error)) return error!;
        if (http.Request.ContentLength is > MaxTransferBytes) return TooLarge();
        var (volume, problem) = await UsableVolumeAsync(volumes, caller, volume_id, ct);
        if (problem is not null) return problem;
        var size = volume!.SizeGb * DiskFiles.BytesPerGb;

        var buffer = ArrayPool<byte>.Shared.Rent(MaxTransferBytes + 1);
        try
        {
            var length = await ReadBodyAsync(http, buffer, ct);
            if (length > MaxTransferBytes) return TooLarge();
            if (length == 0) return Invalid("The request body is empty: send the bytes to write (application/octet-stream).");
            if (offset > size - length)
                return Invalid($"The range {offset}+{length} ends past the end of volume {volume_id} ({size} bytes).");
            await files.EnsureAsync(volume_id, size, ct);
            await store.WriteAsync(volume_id, offset, buffer.AsMemory(0, length), ct);
            return TypedResults.NoContent();
        }
        catch (VolumeRangeException ex)
        {
            return Invalid(ex.Message);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task<IResult> ReadBytes(string volume_id, HttpContext http, Caller caller, VolumeStore volumes, DataPlaneStore store,
        DiskFiles files)
    {
        var ct = http.RequestAborted;
        if (!TryLong(http, "offset", out var offset, out var error)) return error!;
        if (!TryLong(http, "length", out var length, out error)) return error!;
        if (length is < 1 or > MaxTransferBytes) return Invalid($"length must be between 1 and {MaxTransferBytes}.");
        var (volume, problem) = await UsableVolumeAsync(volumes, caller, volume_id, ct);
        if (problem is not null) return problem;
        var size = volume!.SizeGb * DiskFiles.BytesPerGb;
        if (offset > size - length) return Invalid($"The range {offset}+{length} ends past the end of volume {volume_id} ({size} bytes).");

        await files.EnsureAsync(volume_id, size, ct);
        var bytes = new byte[length];
        try
        {
            var filled = 0;
            while (filled < length)
            {
                var read = await store.ReadAsync(volume_id, offset + filled, bytes.AsMemory(filled), ct);
                if (read == 0) break;
                filled += read;
            }
            return TypedResults.Bytes(filled == length ? bytes : bytes[..filled], "application/octet-stream");
        }
        catch (VolumeRangeException ex)
        {
            return Invalid(ex.Message);
        }
    }

    private static async Task<IResult> Sha256(string volume_id, HttpContext http, Caller caller, VolumeStore volumes, DataPlaneStore store,
        DiskFiles files)
    {
        var ct = http.RequestAborted;
        var (size, problem) = await VolumeWithFileAsync(volumes, files, caller, volume_id, ct);
        if (problem is not null) return problem;
        var hash = await store.HashVolumeAsync(volume_id, ct);
        return TypedResults.Json(new { volume_id, size, sha256 = hash });
    }

    private static async Task<IResult> Chunks(string volume_id, HttpContext http, Caller caller, VolumeStore volumes, DataPlaneStore store,
        DiskFiles files)
    {
        var ct = http.RequestAborted;
        var (size, problem) = await VolumeWithFileAsync(volumes, files, caller, volume_id, ct);
        if (problem is not null) return problem;
        var chunks = await store.ListChunksAsync(volume_id, ct);
        return TypedResults.Json(new
        {
            volume_id,
            size,
            chunk_size = DataPlaneStore.ChunkSize,
            chunks = chunks.Select(c => new { index = c.Index, sha256 = c.Sha256 }),
        });
    }

    /// <summary>The size of the caller's usable volume, whose file exists once this returns without a problem.</summary>
    private static async Task<(long Size, ApiError? Problem)> VolumeWithFileAsync(VolumeStore volumes, DiskFiles files, Caller caller,
        string volumeId, CancellationToken ct)
    {
        var (volume, problem) = await UsableVolumeAsync(volumes, caller, volumeId, ct);
        if (problem is not null) return (0, problem);
        var size = volume!.SizeGb * DiskFiles.BytesPerGb;
        await files.EnsureAsync(volumeId, size, ct);
        return (size, null);
    }

    /// <summary>The caller's volume, if its bytes can be used now (not while it is created, deleted or failed).</summary>
    private static async Task<(VolumeRow? Volume, ApiError? Problem)> UsableVolumeAsync(VolumeStore volumes, Caller caller, string volumeId,
        CancellationToken ct)
    {
        var volume = await volumes.GetAsync(caller.ProjectId, volumeId, ct);
        if (volume is null) return (null, ApiError.NotFound(ServiceKind.Evs, $"Volume {volumeId} could not be found."));
        if (!UsableStatuses.Contains(volume.Status))
            return (null, Invalid($"Volume {volumeId} is {volume.Status}: its data can be used once it is available or in-use."));
        return (volume, null);
    }

    /// <summary>Reads the body into <paramref name="buffer"/>; returns more than the cap when the body is longer.</summary>
    private static async Task<int> ReadBodyAsync(HttpContext http, byte[] buffer, CancellationToken ct)
    {
        // An AK/SK request was read already, to check its signature.
        var signed = await CachedBodyAsync(http);
        if (signed is { } raw)
        {
            raw.Span[..Math.Min(raw.Length, buffer.Length)].CopyTo(buffer);
            return raw.Length;
        }
        var feature = http.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (feature is { IsReadOnly: false }) feature.MaxRequestBodySize = null; // the cap is enforced below, in EVS's shape
        var filled = 0;
        while (filled < buffer.Length)
        {
            var read = await http.Request.Body.ReadAsync(buffer.AsMemory(filled), ct);
            if (read == 0) break;
            filled += read;
        }
        return filled;
    }

    private static async Task<ReadOnlyMemory<byte>?> CachedBodyAsync(HttpContext http)
    {
        if (http.Request.Headers.Authorization.Count == 0 || http.Request.Headers["X-Auth-Token"].Count > 0) return null;
        return await JsonBody.RawAsync(http);
    }

    private static bool TryLong(HttpContext http, string name, out long value, out ApiError? error)
    {
        value = 0;
        error = null;
        var raw = QueryArgs.String(http, name);
        if (raw is null or "")
        {
            error = Invalid($"The query parameter {name} is required.");
            return false;
        }
        if (!long.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out value))
        {
            error = Invalid($"Invalid value '{raw}' for query parameter {name}: use a non-negative integer.");
            return false;
        }
        return true;
    }

    private static ApiError Invalid(string message) => ApiError.BadBody(ServiceKind.Evs, message);

    private static ApiError TooLarge() => new(ServiceKind.Evs, StatusCodes.Status413PayloadTooLarge, ErrorBodies.BadRequestCode(ServiceKind.Evs),
        $"A request writes at most {MaxTransferBytes} bytes: split larger writes.");
}
