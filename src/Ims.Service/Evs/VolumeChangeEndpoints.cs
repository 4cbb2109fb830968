using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Ims.Service.Auth;
using Ims.Service.Http;
using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Evs;

/// <summary>
/// The changes terraform's <c>huaweicloud_evs_volume</c> update makes besides rename (<see cref="VolumeEndpoints"/>):
/// expand (<c>os-extend</c>, a job) and tags (batch create/delete and list).
/// </summary>
public static class VolumeChangeEndpoints
{
    public const int MaxTags = 20;
    public const int MaxSizeGb = 32768;

    public static IEndpointRouteBuilder MapVolumeChanges(this IEndpointRouteBuilder app)
    {
        // terraform expands through v2.1; the v2 path of the same API answers alike.
        app.MapPost("/v2.1/{project_id}/cloudvolumes/{volume_id}/action", VolumeAction).ForService(ServiceKind.Evs);
        app.MapPost("/v2/{project_id}/cloudvolumes/{volume_id}/action", VolumeAction).ForService(ServiceKind.Evs);
        var v2 = app.MapGroup("/v2/{project_id}/cloudvolumes/{volume_id}").ForService(ServiceKind.Evs);
        v2.MapPost("/tags/action", TagAction);
        v2.MapGet("/tags", ListTags);
        return app;
    }

    /// <summary>
    /// <c>{"os-extend":{"new_size":N}}</c>: grows the disk (available or in-use, as EVS allows) to a larger size, as a job
    /// (<c>extendVolume</c>) whose work grows the disk's bytes; the disk is <c>extending</c> meanwhile. Yearly/monthly
    /// billing (<c>bssParam.isAutoPay</c>) is accepted and has nothing to pay.
    /// </summary>
    private static async Task<IResult> VolumeAction(string volume_id, Caller caller, Database db, VolumeStore volumes, JobQueue jobs,
        HttpContext http)
    {
        var (body, error) = await JsonBody.ReadAsync<VolumeActionRequest>(http, ServiceKind.Evs);
        if (error is not null) return error;
        if (body!.Extend is not { } extend) return ApiError.BadBody(ServiceKind.Evs, "The request body must hold os-extend.");
        if (extend.NewSize is not { } newSize) return ApiError.BadBody(ServiceKind.Evs, "os-extend.new_size is required.");
        if (newSize > MaxSizeGb) return ApiError.BadBody(ServiceKind.Evs, $"os-extend.new_size cannot exceed {MaxSizeGb} GB.");

        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        var row = await volumes.GetAsync(write, caller.ProjectId, volume_id, ct);
        if (row is null) return NotFound(volume_id);
        if (newSize <= row.SizeGb)
            return ApiError.BadBody(ServiceKind.Evs, $"os-extend.new_size ({newSize} GB) must be larger than the disk's size ({row.SizeGb} GB).");
        var moved = await volumes.SetStatusAsync(write, [volume_id], VolumeStatus.Extending, [VolumeStatus.Available, VolumeStatus.InUse], ct);
        if (moved == 0)
            return new ApiError(ServiceKind.Evs, StatusCodes.Status400BadRequest, "EVS.2002",
                $"Volume [{volume_id}] is {row.Status}; only an available or in-use disk can be expanded.");
        var jobId = await jobs.EnqueueAsync(write, "evs", ExtendVolumeJob.Type, caller.ProjectId, new ExtendPayload(volume_id, newSize),
            new JsonObject { ["volume_id"] = volume_id }, volume_id, (await volumes.GetNodesAsync(write, [volume_id], ct)).FirstOrDefault(), ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new VolumeJobAccepted(jobId));
    }

    /// <summary>
    /// The EVS batch tag API, <c>{"action":"create"|"delete","tags":[{"key","value"}]}</c>, 204: create adds or replaces
    /// keys (at most 20 per disk); delete removes the keys given, ignoring keys the disk does not have.
    /// </summary>
    private static async Task<IResult> TagAction(string volume_id, Caller caller, Database db, VolumeStore volumes, HttpContext http)
    {
        var (body, error) = await JsonBody.ReadAsync<VolumeTagActionRequest>(http, ServiceKind.Evs);
        if (error is not null) return error;
        if (body!.Action is not ("create" or "delete")) return ApiError.BadBody(ServiceKind.Evs, "action must be create or delete.");
        if (body.Tags is not { Count: > 0 } tags) return ApiError.BadBody(ServiceKind.Evs, "tags must list at least one tag.");
        foreach (var tag in tags)
        {
            if (tag is null || string.IsNullOrEmpty(tag.Key) || tag.Key.Length > 36)
                return ApiError.BadBody(ServiceKind.Evs, "Each tag needs a key of 1 to 36 characters.");
            if (tag.Value is { Length: > 43 }) return ApiError.BadBody(ServiceKind.Evs, $"The value of tag '{tag.Key}' cannot exceed 43 characters.");
        }

        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        var row = await volumes.GetAsync(write, caller.ProjectId, volume_id, ct);
        if (row is null) return NotFound(volume_id);
        var current = row.TagMap();
        if (body.Action == "create")
        {
            foreach (var tag in tags) current[tag!.Key!] = tag.Value ?? "";
            if (current.Count > MaxTags) return ApiError.BadBody(ServiceKind.Evs, $"A disk can have at most {MaxTags} tags.");
        }
        else
        {
            foreach (var tag in tags) current.Remove(tag!.Key!);
        }
        await volumes.SetTagsAsync(write, caller.ProjectId, volume_id, JsonSerializer.Serialize(current), ct);
        await write.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    private static async Task<IResult> ListTags(string volume_id, Caller caller, VolumeStore volumes, HttpContext http)
    {
        var row = await volumes.GetAsync(caller.ProjectId, volume_id, http.RequestAborted);
        if (row is null) return NotFound(volume_id);
        return TypedResults.Json(new { tags = row.TagMap().OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => new { key = t.Key, value = t.Value }) });
    }

    private static ApiError NotFound(string volumeId) => ApiError.NotFound(ServiceKind.Evs, $"Volume [{volumeId}] could not be found.");
}

public sealed record VolumeActionRequest
{
    [JsonPropertyName("os-extend")] public ExtendSpec? Extend { get; init; }
    [JsonPropertyName("bssParam")] public JsonElement? BssParam { get; init; }
}

public sealed record ExtendSpec([property: JsonPropertyName("new_size")] int? NewSize);

public sealed record VolumeTagActionRequest
{
    [JsonPropertyName("action")] public string? Action { get; init; }
    [JsonPropertyName("tags")] public List<VolumeTagSpec?>? Tags { get; init; }
}

public sealed record VolumeTagSpec(
    [property: JsonPropertyName("key")] string? Key,
    [property: JsonPropertyName("value")] string? Value);
