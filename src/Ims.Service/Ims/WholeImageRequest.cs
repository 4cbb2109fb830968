using System.Globalization;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Ims.Service.Http;

namespace Ims.Service.Ims;

/// <summary>The three ways to make a full-ECS image (spec §1.1).</summary>
public enum WholeImageMode
{
    /// <summary>Mode A: back the ECS up (CBR with a vault, else CSBS), then register the backup.</summary>
    FromServer,
    /// <summary>Mode B: register an existing CSBS backup.</summary>
    FromCsbsBackup,
    /// <summary>Mode C: register an existing CBR backup.</summary>
    FromCbrBackup,
}

/// <summary>The body of <c>POST /v1/cloudimages/wholeimages/action</c>, exactly as clients send it.</summary>
public sealed record WholeImageRequest
{
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
    [JsonPropertyName("tags")] public List<string>? Tags { get; init; }
    [JsonPropertyName("image_tags")] public List<ImageTagRequest>? ImageTags { get; init; }
    [JsonPropertyName("instance_id")] public string? InstanceId { get; init; }
    [JsonPropertyName("backup_id")] public string? BackupId { get; init; }
    [JsonPropertyName("whole_image_type")] public string? WholeImageType { get; init; }
    [JsonPropertyName("vault_id")] public string? VaultId { get; init; }
    [JsonPropertyName("enterprise_project_id")] public string? EnterpriseProjectId { get; init; }
    [JsonPropertyName("min_ram")] public long? MinRam { get; init; }
    [JsonPropertyName("max_ram")] public long? MaxRam { get; init; }
}

public sealed record ImageTagRequest
{
    [JsonPropertyName("key")] public string? Key { get; init; }
    [JsonPropertyName("value")] public string? Value { get; init; }
}

/// <summary>A create request that passed every rule the request alone can decide.</summary>
public sealed record ValidWholeImageRequest(
    WholeImageMode Mode,
    string Name,
    string Description,
    IReadOnlyList<ImageTags.Tag> Tags,
    string? InstanceId,
    string? BackupId,
    string? VaultId,
    string EnterpriseProjectId,
    long MinRam,
    long? MaxRam);

/// <summary>
/// The request-time rules of spec §1.1 and §1.3, in the order the real service applies them. Pure: no storage,
/// so each rule is unit-tested with the exact error code.
/// </summary>
public static partial class WholeImageRules
{
    public static (ValidWholeImageRequest? Request, ApiError? Error) Validate(WholeImageRequest body, bool chineseNames)
    {
        // Mode selection (§1.1).
        var hasInstance = !string.IsNullOrEmpty(body.InstanceId);
        var hasBackup = !string.IsNullOrEmpty(body.BackupId);
        if (hasInstance && hasBackup)
            return Fail("IMG.0001", "Specify either instance_id or backup_id, not both.");
        WholeImageMode mode;
        if (hasBackup)
        {
            mode = body.WholeImageType switch
            {
                null or "" or "CSBS" => WholeImageMode.FromCsbsBackup,
                "CBR" => WholeImageMode.FromCbrBackup,
                _ => (WholeImageMode)(-1),
            };
            if ((int)mode < 0) return Fail("IMG.0021");
        }
        else if (hasInstance)
        {
            mode = WholeImageMode.FromServer;
        }
        else
        {
            return Fail(string.IsNullOrEmpty(body.WholeImageType) ? "IMG.0012" : "IMG.0019");
        }

        // Name (§1.3).
        if (NameError(body.Name, chineseNames) is { } nameError) return Fail(nameError);

        // Description.
        var description = body.Description ?? "";
        if (DescriptionError(description) is { } descriptionError) return Fail(descriptionError);

        var (tags, tagError) = TagsOf(body.Tags, body.ImageTags);
        if (tagError is not null) return Fail(tagError);

        // Memory limits: 0 means "not set"; when both are set the minimum cannot exceed the maximum.
        var minRam = body.MinRam ?? 0;
        var maxRam = body.MaxRam is null or 0 ? (long?)null : body.MaxRam;
        if (body.MaxRam is < 0 or > int.MaxValue || MemoryError(minRam, maxRam) is not null) return Fail("IMG.0055");

        // Enterprise project: "0", empty or absent is the default; anything else must be a UUID.
        var eps = string.IsNullOrEmpty(body.EnterpriseProjectId) ? "0" : body.EnterpriseProjectId;
        if (!IsEnterpriseProjectId(eps)) return Fail("IMG.0155");

        return (new ValidWholeImageRequest(mode, body.Name!, description, tags,
            mode == WholeImageMode.FromServer ? body.InstanceId : null,
            mode == WholeImageMode.FromServer ? null : body.BackupId,
            mode == WholeImageMode.FromServer && !string.IsNullOrEmpty(body.VaultId) ? body.VaultId : null,
            eps, minRam, maxRam), null);
    }

    /// <summary>
    /// The tags of a new image: old <c>key.value</c> strings or <c>image_tags</c> objects, not both (<c>IMG.0001</c>), each
    /// valid (<c>IMG.0115</c>), at most ten distinct keys (<c>IMG.0116</c>); a repeated key keeps its last value.
    /// </summary>
    public static (List<ImageTags.Tag> Tags, string? Error) TagsOf(List<string>? oldTags, List<ImageTagRequest>? imageTags)
    {
        var tags = new List<ImageTags.Tag>();
        if (oldTags is { Count: > 0 } && imageTags is { Count: > 0 }) return (tags, "IMG.0001");
        foreach (var raw in oldTags ?? [])
        {
            if (raw is null || !ImageTags.TryParseOldTag(raw, out var tag)) return (tags, "IMG.0115");
            ImageTags.Upsert(tags, tag);
        }
        foreach (var item in imageTags ?? [])
        {
            if (!ImageTags.TryNormalize(item?.Key, item?.Value, out var tag)) return (tags, "IMG.0115");
            ImageTags.Upsert(tags, tag);
        }
        return tags.Count > ImageTags.MaxPerImage ? (tags, "IMG.0116") : (tags, null);
    }

    /// <summary>The code a name breaks (<c>IMG.0013</c> missing, <c>IMG.0002</c> too long, <c>IMG.0003</c> format), or null.</summary>
    public static string? NameError(string? name, bool chineseNames)
    {
        if (string.IsNullOrEmpty(name)) return "IMG.0013";
        if (name.EnumerateRunes().Count() > 128) return "IMG.0002";
        return (chineseNames ? ChineseName() : PlainName()).IsMatch(name) ? null : "IMG.0003";
    }

    /// <summary>The code a description breaks (<c>IMG.0004</c> over 1024 characters, <c>IMG.0054</c> CR, LF, &lt; or &gt;), or null.</summary>
    public static string? DescriptionError(string description)
    {
        if (description.EnumerateRunes().Count() > 1024) return "IMG.0004";
        return description.AsSpan().IndexOfAny("\r\n<>") >= 0 ? "IMG.0054" : null;
    }

    /// <summary>
    /// Memory limits in MB (0 or null: not set): within int32, and the minimum cannot exceed a set maximum
    /// (<c>IMG.0055</c>; spec §7 Q3).
    /// </summary>
    public static string? MemoryError(long minRam, long? maxRam)
    {
        if (minRam is < 0 or > int.MaxValue || maxRam is < 0 or > int.MaxValue) return "IMG.0055";
        return maxRam is { } max && max > 0 && minRam > 0 && minRam > max ? "IMG.0055" : null;
    }

    /// <summary>"0" (the default enterprise project) or a UUID; any UUID names an enterprise project.</summary>
    public static bool IsEnterpriseProjectId(string id) => id == "0" || Guid.TryParseExact(id, "D", out _);

    private static (ValidWholeImageRequest?, ApiError?) Fail(string code, string? detail = null) => (null, ImsErrors.Of(code, detail));

    internal static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^[A-Za-z0-9._-](?:[A-Za-z0-9._ -]{0,126}[A-Za-z0-9._-])?$")]
    private static partial Regex PlainName();

    [GeneratedRegex(@"^[A-Za-z0-9._\u4e00-\u9fff-](?:[A-Za-z0-9._ \u4e00-\u9fff-]{0,126}[A-Za-z0-9._\u4e00-\u9fff-])?$")]
    private static partial Regex ChineseName();

}
