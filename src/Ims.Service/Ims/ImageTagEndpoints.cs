using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ims.Service.Auth;
using Ims.Service.Http;
using Ims.Service.Storage;

namespace Ims.Service.Ims;

/// <summary>
/// Every image tag API (spec §4.4): the project-scoped v2 family terraform and the SDKs use, the v1 extension pair and
/// the native Glance pair. All of them act on the caller's own images only (another project's, a public or a shared
/// image answers 404) and go through <see cref="ImageTags"/> for their rules.
/// </summary>
public static class ImageTagEndpoints
{
    /// <summary>The tag that names no existing tag of the image (DELETE of an absent key is not idempotent).</summary>
    private const string NoSuchTag = "IMG.0121";

    public static IEndpointRouteBuilder MapImageTags(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("").ForService(ServiceKind.Ims);
        group.MapGet("/v2/{project_id}/images/{image_id}/tags", ListImageTags);
        group.MapPost("/v2/{project_id}/images/{image_id}/tags", AddImageTag);
        group.MapPost("/v2/{project_id}/images/{image_id}/tags/action", BatchImageTags);
        group.MapDelete("/v1/{project_id}/cloudimages/{image_id}/tags/delete", BatchDeleteTags);
        group.MapDelete("/v2/{project_id}/images/{image_id}/tags/{key}", DeleteImageTag);
        group.MapGet("/v2/{project_id}/images/tags", ListProjectTags);
        group.MapPost("/v2/{project_id}/images/resource_instances/action", QueryImagesByTags);
        group.MapPut("/v1/cloudimages/tags", PutTag);
        group.MapGet("/v1/cloudimages/tags", ListTagStrings);
        group.MapPut("/v2/images/{image_id}/tags/{tag}", AddNativeTag);
        group.MapDelete("/v2/images/{image_id}/tags/{tag}", DeleteNativeTag);
        return app;
    }

    // --- v2, project-scoped ----------------------------------------------------------------------------------------

    private static async Task<IResult> ListImageTags(string image_id, HttpContext http, Caller caller, ImageStore store)
    {
        var tags = (await store.GetOwnAsync(caller.ProjectId, image_id, http.RequestAborted))?.Tags;
        if (tags is null) return ImsErrors.ImageNotFound(image_id);
        return new JsonWriterResult(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("tags");
            foreach (var tag in ImageTags.Parse(tags)) WriteTag(w, tag);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static async Task<IResult> AddImageTag(string image_id, HttpContext http, Caller caller, Database db, ImageStore store, TimeProvider time)
    {
        var (body, error) = await JsonBody.ReadAsync<AddTagRequest>(http, ServiceKind.Ims);
        if (error is not null) return error;
        if (body!.Tag is null) return ImsErrors.Of("IMG.0001", "tag is required.");
        if (!ImageTags.TryNormalize(body.Tag.Key, body.Tag.Value, out var tag)) return InvalidTag();
        return await ChangeTagsAsync(db, store, time, caller.ProjectId, image_id, tags =>
        {
            ImageTags.Upsert(tags, tag);
            return null;
        }, http.RequestAborted);
    }

    private static async Task<IResult> BatchImageTags(string image_id, HttpContext http, Caller caller, Database db, ImageStore store, TimeProvider time)
    {
        var (body, error) = await JsonBody.ReadAsync<BatchTagRequest>(http, ServiceKind.Ims);
        if (error is not null) return error;
        if (body!.Action is not ("create" or "delete")) return ImsErrors.Of("IMG.0001", "action must be create or delete.");
        if (body.Tags is null) return ImsErrors.Of("IMG.0001", "tags is required.");
        if (body.Action == "create")
        {
            var keys = new HashSet<string>(StringComparer.Ordinal);
            var valid = new List<ImageTags.Tag>();
            foreach (var item in body.Tags)
            {
                if (!ImageTags.TryNormalize(item?.Key, item?.Value, out var tag)) return InvalidTag();
                if (!keys.Add(tag.Key)) return InvalidTag($"The key {tag.Key} appears more than once.");
                valid.Add(tag);
            }
            return await ChangeTagsAsync(db, store, time, caller.ProjectId, image_id, tags =>
            {
                foreach (var tag in valid) ImageTags.Upsert(tags, tag);
                return null;
            }, http.RequestAborted);
        }

        return await DeleteTagsAsync(db, store, time, caller.ProjectId, image_id, body.Tags, http.RequestAborted);
    }

    /// <summary>
    /// <c>DELETE /v1/{project_id}/cloudimages/{image_id}/tags/delete</c> (the SDKs' BatchDeleteTags): the deletion half of
    /// <c>tags/action</c>, with the same rules, 204.
    /// </summary>
    private static async Task<IResult> BatchDeleteTags(string image_id, HttpContext http, Caller caller, Database db, ImageStore store,
        TimeProvider time)
    {
        var (body, error) = await JsonBody.ReadAsync<TagListRequest>(http, ServiceKind.Ims);
        if (error is not null) return error;
        if (body!.Tags is null) return ImsErrors.Of("IMG.0001", "tags is required.");
        return await DeleteTagsAsync(db, store, time, caller.ProjectId, image_id, body.Tags, http.RequestAborted);
    }

    /// <summary>Deletion checks lengths only; a tag the image does not have (or has with another value) is already gone.</summary>
    private static async Task<IResult> DeleteTagsAsync(Database db, ImageStore store, TimeProvider time, string project, string imageId,
        List<TagBody?> items, CancellationToken ct)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        var doomed = new List<(string Key, string? Value)>();
        foreach (var item in items)
        {
            if (!ImageTags.IsValidForDeletion(item?.Key, item?.Value)) return InvalidTag();
            var key = item!.Key!.Trim();
            if (!keys.Add(key)) return InvalidTag($"The key {key} appears more than once.");
            doomed.Add((key, item.Value?.Trim()));
        }
        return await ChangeTagsAsync(db, store, time, project, imageId, tags =>
        {
            tags.RemoveAll(t => doomed.Any(d => d.Key == t.Key && (d.Value is null || d.Value == t.Value)));
            return null;
        }, ct);
    }

    private static Task<IResult> DeleteImageTag(string image_id, string key, HttpContext http, Caller caller, Database db, ImageStore store, TimeProvider time) =>
        ChangeTagsAsync(db, store, time, caller.ProjectId, image_id, tags =>
            tags.RemoveAll(t => t.Key == key) > 0 ? null : ImsErrors.Of(NoSuchTag, $"The image has no tag {key}.", StatusCodes.Status404NotFound),
            http.RequestAborted);

    /// <summary>Every tag of the project's images, one entry per key with its distinct values.</summary>
    private static async Task<IResult> ListProjectTags(HttpContext http, Caller caller, ImageStore store)
    {
        var images = await store.ListOwnAsync(caller.ProjectId, http.RequestAborted);
        var byKey = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var tag in images.SelectMany(i => ImageTags.Parse(i.Tags)))
        {
            if (!byKey.TryGetValue(tag.Key, out var values)) byKey[tag.Key] = values = [];
            if (!values.Contains(tag.Value, StringComparer.Ordinal)) values.Add(tag.Value);
        }
        return new JsonWriterResult(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("tags");
            foreach (var (key, values) in byKey)
            {
                w.WriteStartObject();
                w.WriteString("key", key);
                w.WriteStartArray("values");
                foreach (var value in values) w.WriteStringValue(value);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    /// <summary><c>POST /v2/{project_id}/images/resource_instances/action</c>: filter or count the project's images by tag.</summary>
    private static async Task<IResult> QueryImagesByTags(HttpContext http, Caller caller, ImageStore store)
    {
        var (body, error) = await JsonBody.ReadAsync<ResourceQueryRequest>(http, ServiceKind.Ims);
        if (error is not null) return error;
        var (query, invalid) = TagQuery.From(body!);
        if (invalid is not null) return invalid;

        var images = await store.ListOwnAsync(caller.ProjectId, http.RequestAborted);
        var matching = images.Select(i => (Image: i, Tags: ImageTags.Parse(i.Tags))).Where(x => query!.Matches(x.Image, x.Tags)).ToList();
        var count = query!.Count;
        var page = count ? [] : matching.Skip(query.Offset).Take(query.Limit).ToList();
        return new JsonWriterResult(w =>
        {
            w.WriteStartObject();
            if (!count)
            {
                w.WriteStartArray("resources");
                foreach (var (image, tags) in page)
                {
                    w.WriteStartObject();
                    w.WriteString("resource_id", image.Id);
                    w.WriteStartObject("resource_detail");
                    w.WriteString("status", image.Status);
                    w.WriteEndObject();
                    w.WriteStartArray("tags");
                    foreach (var tag in tags) WriteTag(w, tag);
                    w.WriteEndArray();
                    w.WriteString("resource_name", image.Name);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteNumber("total_count", matching.Count);
            w.WriteEndObject();
        });
    }

    // --- v1 extension ------------------------------------------------------------------------------------------------

    /// <summary><c>PUT /v1/cloudimages/tags</c>: add or change one tag, given old-style (<c>tag</c>) or as <c>image_tag</c>.</summary>
    private static async Task<IResult> PutTag(HttpContext http, Caller caller, Database db, ImageStore store, TimeProvider time)
    {
        var (body, error) = await JsonBody.ReadAsync<PutTagRequest>(http, ServiceKind.Ims);
        if (error is not null) return error;
        if (string.IsNullOrEmpty(body!.ImageId)) return ImsErrors.Of("IMG.0001", "image_id is required.");
        if ((body.Tag is null) == (body.ImageTag is null)) return ImsErrors.Of("IMG.0001", "Give exactly one of tag and image_tag.");
        ImageTags.Tag tag;
        if (body.Tag is not null ? !ImageTags.TryParseOldTag(body.Tag, out tag) : !ImageTags.TryNormalize(body.ImageTag!.Key, body.ImageTag.Value, out tag))
            return InvalidTag();
        return await ChangeTagsAsync(db, store, time, caller.ProjectId, body.ImageId, tags =>
        {
            ImageTags.Upsert(tags, tag);
            return null;
        }, http.RequestAborted);
    }

    /// <summary>
    /// <c>GET /v1/cloudimages/tags</c>: the distinct <c>key=value</c> tags of the images the list filters of
    /// <c>GET /v2/cloudimages</c> select; <c>limit</c> (default 500) and <c>page</c> (from 1) page through those images.
    /// </summary>
    private static async Task<IResult> ListTagStrings(HttpContext http, Caller caller, ImageStore store)
    {
        if (!QueryArgs.TryInt(http, "page", ServiceKind.Ims, out var page, out var pageError, min: 1)) return pageError!;
        if (!QueryArgs.TryInt(http, "limit", ServiceKind.Ims, out var limit, out var limitError, min: 1, max: 1000)) return limitError!;
        var (filter, error) = ImageListFilter.FromQuery(http);
        if (error is not null) return error;
        var images = await store.ListAsync(caller.ProjectId, filter!, http.RequestAborted, rowLimit: int.MaxValue);
        if (images is null) return filter!.UnknownMarker();
        var pageSize = limit ?? 500;
        var tags = images.Skip(((page ?? 1) - 1) * pageSize).Take(pageSize)
            .SelectMany(i => ImageTags.Parse(i.Tags)).Select(t => $"{t.Key}={t.Value}").Distinct(StringComparer.Ordinal).ToList();
        return new JsonWriterResult(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("tags");
            foreach (var tag in tags) w.WriteStringValue(tag);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    // --- native (Glance) -----------------------------------------------------------------------------------------------

    /// <summary>Adds a key with an empty value; a key the image has already keeps its value.</summary>
    private static async Task<IResult> AddNativeTag(string image_id, string tag, HttpContext http, Caller caller, Database db, ImageStore store, TimeProvider time)
    {
        if (!ImageTags.IsValidNativeTag(tag)) return InvalidTag("A tag has 1-255 letters, digits, _ and -.");
        return await ChangeTagsAsync(db, store, time, caller.ProjectId, image_id, tags =>
        {
            if (!tags.Exists(t => t.Key == tag)) tags.Add(new ImageTags.Tag(tag, ""));
            return null;
        }, http.RequestAborted);
    }

    private static Task<IResult> DeleteNativeTag(string image_id, string tag, HttpContext http, Caller caller, Database db, ImageStore store, TimeProvider time) =>
        ChangeTagsAsync(db, store, time, caller.ProjectId, image_id, tags =>
            tags.RemoveAll(t => t.Key == tag) > 0 ? null : ImsErrors.Of(NoSuchTag, $"The image has no tag {tag}.", StatusCodes.Status404NotFound),
            http.RequestAborted);

    // --- shared ---------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Loads the caller's image and its tags in a write transaction, lets <paramref name="change"/> edit them, enforces
    /// the ten-tag limit and stores the result: 204, or the error.
    /// </summary>
    private static async Task<IResult> ChangeTagsAsync(Database db, ImageStore store, TimeProvider time, string project, string imageId,
        Func<List<ImageTags.Tag>, ApiError?> change, CancellationToken ct)
    {
        await using var write = await db.BeginWriteAsync(ct);
        var image = await store.GetOwnAsync(write, project, imageId, ct);
        if (image is null) return ImsErrors.ImageNotFound(imageId);
        var tags = ImageTags.Parse(image.Tags).ToList();
        var before = tags.Count;
        if (change(tags) is { } refused) return refused;
        if (tags.Count > ImageTags.MaxPerImage && tags.Count > before) return ImsErrors.Of("IMG.0116");
        await store.SetTagsAsync(write, image.Id, tags, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
        await write.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    private static void WriteTag(Utf8JsonWriter w, ImageTags.Tag tag)
    {
        w.WriteStartObject();
        w.WriteString("key", tag.Key);
        w.WriteString("value", tag.Value);
        w.WriteEndObject();
    }

    private static ApiError InvalidTag(string? detail = null) => ImsErrors.Of("IMG.0115", detail);

    private sealed record TagBody
    {
        [JsonPropertyName("key")] public string? Key { get; init; }
        [JsonPropertyName("value")] public string? Value { get; init; }
    }

    private sealed record AddTagRequest
    {
        [JsonPropertyName("tag")] public TagBody? Tag { get; init; }
    }

    private sealed record BatchTagRequest
    {
        [JsonPropertyName("action")] public string? Action { get; init; }
        [JsonPropertyName("tags")] public List<TagBody?>? Tags { get; init; }
    }

    private sealed record TagListRequest
    {
        [JsonPropertyName("tags")] public List<TagBody?>? Tags { get; init; }
    }

    private sealed record PutTagRequest
    {
        [JsonPropertyName("image_id")] public string? ImageId { get; init; }
        [JsonPropertyName("tag")] public string? Tag { get; init; }
        [JsonPropertyName("image_tag")] public TagBody? ImageTag { get; init; }
    }
}

/// <summary>The body of <c>POST /v2/{project_id}/images/resource_instances/action</c>.</summary>
public sealed record ResourceQueryRequest
{
    [JsonPropertyName("action")] public string? Action { get; init; }
    [JsonPropertyName("tags")] public List<TagFilterBody?>? Tags { get; init; }
    [JsonPropertyName("tags_any")] public List<TagFilterBody?>? TagsAny { get; init; }
    [JsonPropertyName("not_tags")] public List<TagFilterBody?>? NotTags { get; init; }
    [JsonPropertyName("not_tags_any")] public List<TagFilterBody?>? NotTagsAny { get; init; }
    [JsonPropertyName("without_any_tag")] public bool? WithoutAnyTag { get; init; }
    /// <summary>A string per the reference ("10"); a number is accepted too.</summary>
    [JsonPropertyName("limit")] public JsonElement? Limit { get; init; }
    [JsonPropertyName("offset")] public JsonElement? Offset { get; init; }
    [JsonPropertyName("matches")] public List<MatchBody?>? Matches { get; init; }
}

public sealed record TagFilterBody
{
    [JsonPropertyName("key")] public string? Key { get; init; }
    [JsonPropertyName("values")] public List<string?>? Values { get; init; }
}

public sealed record MatchBody
{
    [JsonPropertyName("key")] public string? Key { get; init; }
    [JsonPropertyName("value")] public string? Value { get; init; }
}

/// <summary>
/// A validated tag query (api-ref "Querying Images by Tag"): <c>tags</c> needs every listed key (with one of its values,
/// or any value when none is listed), <c>tags_any</c> any of them, <c>not_tags</c> excludes images matching all of its
/// entries and <c>not_tags_any</c> those matching any; <c>without_any_tag</c> selects untagged images and ignores the
/// four lists. <c>matches</c>: <c>resource_name</c> is a substring match, <c>resource_id</c> exact.
/// </summary>
public sealed record TagQuery(
    bool Count,
    IReadOnlyList<TagQuery.Filter> All,
    IReadOnlyList<TagQuery.Filter> Any,
    IReadOnlyList<TagQuery.Filter> NotAll,
    IReadOnlyList<TagQuery.Filter> NotAny,
    bool WithoutAnyTag,
    int Limit,
    int Offset,
    string? NameContains,
    string? Id)
{
    public sealed record Filter(string Key, IReadOnlyList<string> Values);

    public const int MaxKeys = 10;
    public const int MaxValues = 10;
    public const int MaxKeyLength = 128;
    public const int MaxValueLength = 255;

    public static (TagQuery? Query, ApiError? Error) From(ResourceQueryRequest body)
    {
        if (body.Action is not ("filter" or "count")) return Fail("IMG.0001", "action must be filter or count.");
        var lists = new List<IReadOnlyList<Filter>>();
        foreach (var (name, list) in new[] { ("tags", body.Tags), ("tags_any", body.TagsAny), ("not_tags", body.NotTags), ("not_tags_any", body.NotTagsAny) })
        {
            var (filters, error) = Filters(name, list);
            if (error is not null) return (null, error);
            lists.Add(filters!);
        }

        int limit = 10, offset = 0;
        if (body.Action == "filter")
        {
            if (!TryCount(body.Limit, 1, 1000, out limit, 10)) return Fail("IMG.0001", "limit must be a number from 1 to 1000 (given as a string).");
            if (!TryCount(body.Offset, 0, int.MaxValue, out offset, 0)) return Fail("IMG.0001", "offset must be a number of at least 0 (given as a string).");
        }

        string? nameContains = null, id = null;
        var matchKeys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var match in body.Matches ?? [])
        {
            if (match?.Key is not ("resource_name" or "resource_id")) return Fail("IMG.0001", "A match key is resource_name or resource_id.");
            if (!matchKeys.Add(match.Key)) return Fail("IMG.0001", $"The match key {match.Key} appears more than once.");
            if (match.Value is not { Length: > 0 and <= MaxValueLength }) return Fail("IMG.0001", "A match value has 1-255 characters.");
            if (match.Key == "resource_name") nameContains = match.Value;
            else id = match.Value;
        }
        return (new TagQuery(body.Action == "count", lists[0], lists[1], lists[2], lists[3], body.WithoutAnyTag == true,
            limit, offset, nameContains, id), null);
    }

    public bool Matches(ImageRow image, IReadOnlyList<ImageTags.Tag> tags)
    {
        if (Id is not null && image.Id != Id) return false;
        if (NameContains is not null && !image.Name.Contains(NameContains, StringComparison.Ordinal)) return false;
        if (WithoutAnyTag) return tags.Count == 0;
        bool Has(Filter f) => tags.Any(t => t.Key == f.Key && (f.Values.Count == 0 || f.Values.Contains(t.Value, StringComparer.Ordinal)));
        if (!All.All(Has)) return false;
        if (Any.Count > 0 && !Any.Any(Has)) return false;
        if (NotAll.Count > 0 && NotAll.All(Has)) return false;
        return !NotAny.Any(Has);
    }

    /// <summary>At most ten unique keys of 1-128 characters, each with at most ten unique values of up to 255; no charset check.</summary>
    private static (IReadOnlyList<Filter>?, ApiError?) Filters(string name, List<TagFilterBody?>? list)
    {
        if (list is null) return ([], null);
        if (list.Count > MaxKeys) return ([], ImsErrors.Of("IMG.0115", $"{name} names more than {MaxKeys} keys."));
        var filters = new List<Filter>();
        foreach (var item in list)
        {
            if (item?.Key is not { Length: > 0 and <= MaxKeyLength } key || key.Trim().Length == 0)
                return ([], ImsErrors.Of("IMG.0115", $"A key in {name} has 1-{MaxKeyLength} characters."));
            if (filters.Exists(f => f.Key == key)) return ([], ImsErrors.Of("IMG.0115", $"The key {key} appears more than once in {name}."));
            var values = item.Values ?? [];
            if (values.Count > MaxValues) return ([], ImsErrors.Of("IMG.0115", $"The key {key} in {name} has more than {MaxValues} values."));
            if (values.Any(v => v is null || v.Length > MaxValueLength)) return ([], ImsErrors.Of("IMG.0115", $"A value of {key} in {name} has more than {MaxValueLength} characters."));
            if (values.Distinct(StringComparer.Ordinal).Count() != values.Count) return ([], ImsErrors.Of("IMG.0115", $"The key {key} in {name} repeats a value."));
            filters.Add(new Filter(key, [.. values.Select(v => v!)]));
        }
        return (filters, null);
    }

    private static bool TryCount(JsonElement? value, int min, int max, out int result, int fallback)
    {
        result = fallback;
        if (value is not { } v || v.ValueKind == JsonValueKind.Null) return true;
        long parsed;
        switch (v.ValueKind)
        {
            case JsonValueKind.String when long.TryParse(v.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out parsed): break;
            case JsonValueKind.Number when v.TryGetInt64(out parsed): break;
            default: return false;
        }
        if (parsed < min || parsed > max) return false;
        result = (int)parsed;
        return true;
    }

    private static (TagQuery?, ApiError?) Fail(string code, string detail) => (null, ImsErrors.Of(code, detail));
}
