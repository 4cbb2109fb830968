using Ims.Service.Http;

namespace Ims.Service.Ims;

/// <summary>
/// The list filters of <c>GET /v2/cloudimages</c> and <c>GET /v2/images</c> (and of <c>GET /v1/cloudimages/tags</c>),
/// parsed from the query string at the edge; <see cref="ImageStore.ListAsync"/> turns them into SQL.
/// </summary>
public sealed record ImageListFilter
{
    /// <summary>The attributes a list can be sorted by; each is the column of the same name.</summary>
    public static readonly IReadOnlySet<string> SortKeys = new HashSet<string>(StringComparer.Ordinal)
    {
        "created_at", "updated_at", "name", "id", "status", "min_disk", "min_ram", "size", "disk_format", "container_format",
    };

    /// <summary>The filters that compare one attribute with a value, by query parameter (spec §4.1).</summary>
    public static readonly IReadOnlyList<string> EqualityParameters =
    [
        "id", "name", "status", "visibility", "owner", "__os_type", "__platform", "__os_bit", "disk_format",
        "container_format", "__os_version", "__backup_id",
    ];

    public int? Limit { get; init; }
    /// <summary>Which memberships of the viewer list its shared images (Glance's <c>member_status</c>; default accepted).</summary>
    public IReadOnlyList<string> MemberStatuses { get; init; } = [MemberStatus.Accepted];
    /// <summary>Equality filters, as (query parameter of <see cref="EqualityParameters"/>, value).</summary>
    public IReadOnlyList<(string Parameter, string Value)> Equal { get; init; } = [];
    /// <summary><c>__imagetype</c>: gold, private, shared or market.</summary>
    public string? ImageType { get; init; }
    public bool? WholeImage { get; init; }
    public bool? Protected { get; init; }
    /// <summary><c>tag=key=value</c> (an old <c>key.value</c> tag is asked for as <c>key=value</c>).</summary>
    public ImageTags.Tag? Tag { get; init; }
    /// <summary>One enterprise project; null for all the caller may see (absent or <c>all_granted_eps</c>).</summary>
    public string? EnterpriseProjectId { get; init; }
    public string SortKey { get; init; } = "created_at";
    public bool Descending { get; init; } = true;
    public string? Marker { get; init; }

    /// <summary>Reads the filters of a list request; an unusable parameter yields its IMS error.</summary>
    public static (ImageListFilter? Filter, ApiError? Error) FromQuery(HttpContext http)
    {
        if (!QueryArgs.TryInt(http, "limit", ServiceKind.Ims, out var limit, out var error, min: 0, max: 1000)) return (null, error);
        string[] memberStatuses = QueryArgs.String(http, "member_status") switch
        {
            null or "" or "accepted" => [MemberStatus.Accepted],
            "pending" => [MemberStatus.Pending],
            "rejected" => [MemberStatus.Rejected],
            "all" => [MemberStatus.Accepted, MemberStatus.Pending, MemberStatus.Rejected],
            _ => [],
        };
        if (memberStatuses.Length == 0)
            return (null, ApiError.Ims("IMG.0001", "member_status must be accepted, pending, rejected or all."));
        var equal = EqualityParameters.Select(p => (Parameter: p, Value: QueryArgs.String(http, p)))
            .Where(f => f.Value is not null).Select(f => (f.Parameter, f.Value!)).ToList();
        var imageType = QueryArgs.String(http, "__imagetype");
        if (imageType is not (null or "gold" or "private" or "shared" or "market"))
            return (null, ApiError.Ims("IMG.0024", "The image type in the request is incorrect."));
        if (!TryFlag(http, "__whole_image", out var wholeImage, out error)) return (null, error);
        if (!TryFlag(http, "protected", out var isProtected, out error)) return (null, error);
        ImageTags.Tag? tag = null;
        if (QueryArgs.String(http, "tag") is { Length: > 0 } rawTag)
        {
            var split = rawTag.IndexOf('=', StringComparison.Ordinal);
            tag = split < 0 ? new ImageTags.Tag(rawTag, "") : new ImageTags.Tag(rawTag[..split], rawTag[(split + 1)..]);
        }
        // Absent or all_granted_eps: every enterprise project the caller may see (terraform relies on this).
        var eps = QueryArgs.String(http, "enterprise_project_id") is { } e and not "all_granted_eps" ? e : null;
        var sortKey = QueryArgs.String(http, "sort_key") ?? "created_at";
        if (!SortKeys.Contains(sortKey)) return (null, ApiError.Ims("IMG.0001", $"Unsupported sort_key '{sortKey}'."));
        var sortDir = QueryArgs.String(http, "sort_dir") ?? "desc";
        if (sortDir is not ("asc" or "desc")) return (null, ApiError.Ims("IMG.0001", "sort_dir must be asc or desc."));
        return (new ImageListFilter
        {
            Limit = limit,
            MemberStatuses = memberStatuses,
            Equal = equal,
            ImageType = imageType,
            WholeImage = wholeImage,
            Protected = isProtected,
            Tag = tag,
            EnterpriseProjectId = eps,
            SortKey = sortKey,
            Descending = sortDir == "desc",
            Marker = QueryArgs.String(http, "marker") is { Length: > 0 } marker ? marker : null,
        }, null);
    }

    /// <summary>The error for a marker that names no image the viewer can see.</summary>
    public ApiError UnknownMarker() => ApiError.Ims("IMG.0001", $"The marker image {Marker} does not exist.");

    private static bool TryFlag(HttpContext http, string name, out bool? value, out ApiError? error)
    {
        (value, error) = QueryArgs.String(http, name) switch
        {
            null => ((bool?)null, (ApiError?)null),
            "true" => (true, null),
            "false" => (false, null),
            _ => (null, ApiError.Ims("IMG.0001", $"{name} must be true or false.")),
        };
        return error is null;
    }
}
