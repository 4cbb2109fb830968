using System.Globalization;
using Dapper;
using Ims.Service.Http;
using Ims.Service.Storage;

namespace Ims.Service.Ims;

/// <summary>Image reads that respect visibility: a project sees public images, its own, and those shared with it.</summary>
public static class ImageQueries
{
    /// <summary>
    /// The visibility predicate; <c>@project</c> is the viewer. A member reaches a shared image by id whatever it
    /// answered (Glance lets a pending member look before accepting; IMS lets a rejected one still boot servers from
    /// it); lists narrow that down with <see cref="ListedParts"/>. The subquery is one range of <c>image_members_member</c>.
    /// </summary>
    public const string VisibleTo =
        "(images.visibility = 'public' OR images.owner = @project OR images.id IN " +
        "(SELECT m.image_id FROM image_members m WHERE m.member_id = @project))";

    /// <summary>
    /// What lists show, as three disjoint parts each served by an index of its own: own images, public ones, and images
    /// shared with the viewer whose membership is one of <paramref name="memberStatusParameters"/> (by default only accepted ones: pending and
    /// rejected images stay out of lists).
    /// </summary>
    private static string[] ListedParts(string memberStatusParameters) =>
    [
        "images.owner = @project",
        "images.visibility = 'public' AND images.owner <> @project",
        "images.visibility <> 'public' AND images.owner <> @project AND images.id IN " +
            $"(SELECT m.image_id FROM image_members m WHERE m.member_id = @project AND m.status IN ({memberStatusParameters}))",
    ];

    private static readonly Dictionary<string, string> SortColumns = new(StringComparer.Ordinal)
    {
        ["created_at"] = "created_at",
        ["updated_at"] = "updated_at",
        ["name"] = "name",
        ["id"] = "id",
        ["status"] = "status",
        ["min_disk"] = "min_disk",
        ["min_ram"] = "min_ram",
        ["size"] = "size",
        ["disk_format"] = "disk_format",
        ["container_format"] = "container_format",
    };

    /// <summary>Filters of GET /v2/cloudimages that map one-to-one onto string columns.</summary>
    private static readonly (string Query, string Column)[] StringFilters =
    [
        ("id", "id"), ("name", "name"), ("status", "status"), ("visibility", "visibility"), ("owner", "owner"),
        ("__os_type", "os_type"), ("__platform", "platform"), ("__os_bit", "os_bit"), ("disk_format", "disk_format"),
        ("container_format", "container_format"), ("__os_version", "os_version"), ("__backup_id", "backup_id"),
    ];

    public static async Task<ImageRow?> FindVisibleAsync(Database db, string project, string imageId, CancellationToken ct)
    {
        await using var connection = await db.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<ImageRow>(new CommandDefinition(
            $"SELECT {ImageRow.Columns} FROM images WHERE id = @imageId AND status NOT IN ('deleted', 'killed') AND {VisibleTo}",
            new { imageId, project }, cancellationToken: ct));
    }

    /// <summary>
    /// Runs a list query from the request's query string; an unusable parameter yields an error. <paramref name="rowLimit"/>,
    /// when given, replaces the page size of the <c>limit</c> parameter (for callers that page differently).
    /// </summary>
    public static async Task<(IReadOnlyList<ImageRow> Images, ApiError? Error)> ListAsync(Database db, HttpContext http, string project,
        CancellationToken ct, int? rowLimit = null)
    {
        if (!QueryArgs.TryInt(http, "limit", ServiceKind.Ims, out var limit, out var error, min: 0, max: 1000)) return ([], error);
        // Glance's member_status (IMS documents it with visibility=shared): which memberships of the viewer list.
        string[] memberStatuses = QueryArgs.String(http, "member_status") switch
        {
            null or "" or "accepted" => ["accepted"],
            "pending" => ["pending"],
            "rejected" => ["rejected"],
            "all" => ["accepted", "pending", "rejected"],
            _ => [],
        };
        if (memberStatuses.Length == 0)
            return ([], ApiError.Ims("IMG.0001", "member_status must be accepted, pending, rejected or all."));
        var where = new List<string> { "status <> 'deleted'" };
        var args = new List<(string Name, object? Value)> { ("@project", project) };
        var memberStatusNames = new string[memberStatuses.Length];
        for (var i = 0; i < memberStatuses.Length; i++)
        {
            memberStatusNames[i] = $"@memberStatus{i}";
            args.Add((memberStatusNames[i], memberStatuses[i]));
        }

        // Whole images still being made (or that failed) are not registered, so lists leave them out (spec §3.2). An
        // image made by POST /v2/images is registered from the start and lists while it waits for its file, as in Glance.
        where.Add("(status = 'active' OR whole_image = 0 AND status IN ('queued', 'saving'))");
        foreach (var (query, column) in StringFilters)
        {
            if (QueryArgs.String(http, query) is not { } value) continue;
            where.Add($"{column} = @f_{column}");
            args.Add(($"@f_{column}", value));
        }
        switch (QueryArgs.String(http, "__imagetype"))
        {
            case null: break;
            case "gold": where.Add("visibility = 'public'"); break;
            case "private": where.Add("owner = @project AND imagetype = 'private'"); break;
            case "shared": where.Add("(owner <> @project AND visibility <> 'public' OR owner = @project AND imagetype = 'shared')"); break;
            case "market": where.Add("1 = 0"); break;
            default: return ([], ApiError.Ims("IMG.0024", "The image type in the request is incorrect."));
        }
        switch (QueryArgs.String(http, "__whole_image"))
        {
            case null: break;
            case "true": where.Add("whole_image = 1"); break;
            case "false": where.Add("whole_image = 0"); break;
            default: return ([], ApiError.Ims("IMG.0001", "__whole_image must be true or false."));
        }
        switch (QueryArgs.String(http, "protected"))
        {
            case null: break;
            case "true": where.Add("protected = 1"); break;
            case "false": where.Add("protected = 0"); break;
            default: return ([], ApiError.Ims("IMG.0001", "protected must be true or false."));
        }
        // tag=key=value (old key.value tags are asked for as key=value, spec §4.1), tag=key for a bare tag: the tag as
        // the image's tags show it. The stored JSON is searched for the tag exactly as ImageTags writes it; LIKE may
        // ignore case, so the rows are checked exactly below.
        ImageTags.Tag? tagFilter = null;
        if (QueryArgs.String(http, "tag") is { Length: > 0 } rawTag)
        {
            tagFilter = ImageTags.FromString(rawTag);
            var stored = ImageTags.Serialize([tagFilter])[1..^1];
            where.Add(@"tags LIKE @tagPattern ESCAPE '\'");
            args.Add(("@tagPattern", "%" + stored.Replace(@"\", @"\\", StringComparison.Ordinal)
                .Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal) + "%"));
        }
        // Absent or all_granted_eps: every enterprise project the caller may see (terraform relies on this).
        if (QueryArgs.String(http, "enterprise_project_id") is { } eps and not "all_granted_eps")
        {
            where.Add("enterprise_project_id = @eps");
            args.Add(("@eps", eps));
        }

        var sortKey = QueryArgs.String(http, "sort_key") ?? "created_at";
        if (!SortColumns.TryGetValue(sortKey, out var sortColumn))
            return ([], ApiError.Ims("IMG.0001", $"Unsupported sort_key '{sortKey}'."));
        var sortDir = QueryArgs.String(http, "sort_dir") ?? "desc";
        if (sortDir is not ("asc" or "desc")) return ([], ApiError.Ims("IMG.0001", "sort_dir must be asc or desc."));

        if (QueryArgs.String(http, "marker") is { Length: > 0 } marker)
        {
            // Keyset pagination: continue strictly after the marker in (sort column, id) order, so it terminates.
            var markerRow = await db.ReadAsync(MarkerSql, [("@marker", marker), ("@project", project)],
                reader => reader.Read() ? ImageRow.Read(reader) : null, ct);
            if (markerRow is null) return ([], ApiError.Ims("IMG.0001", $"The marker image {marker} does not exist."));
            var op = sortDir == "desc" ? "<" : ">";
            where.Add($"({sortColumn} {op} @markerValue OR ({sortColumn} = @markerValue AND id {op} @markerId))");
            args.Add(("@markerValue", SortValue(markerRow, sortColumn)));
            args.Add(("@markerId", markerRow.Id));
        }
        // The page size is part of the text, not a parameter: SQLite recompiles a statement whenever a value its LIMIT
        // reads is bound again, which made every list pay the compilation of this long query.
        var pageSize = Invariant(rowLimit ?? limit ?? 25);
        // One ordered, limited walk per way of seeing an image (own, public, shared with the viewer), each along its own
        // index, then the page of their union: never an OR evaluated over every image. The walks and the union carry
        // only each image's id and sort value; the whole rows are read for the page alone (sorting the union's whole
        // rows cost as much again as the rest of the query).
        var filters = string.Join(" AND ", where);
        var parts = ListedParts(string.Join(", ", memberStatusNames)).Select(part =>
            $"SELECT * FROM (SELECT id AS page_id, {sortColumn} AS page_key FROM images WHERE {part} AND {filters} " +
            $"ORDER BY {sortColumn} {sortDir}, id {sortDir} LIMIT {pageSize}) AS part");
        var sql = $"SELECT {ImageRow.Columns} FROM (SELECT * FROM ({string.Join(" UNION ALL ", parts)}) AS listed " +
                  $"ORDER BY page_key {sortDir}, page_id {sortDir} LIMIT {pageSize}) AS page " +
                  $"JOIN images ON images.id = page.page_id ORDER BY page.page_key {sortDir}, page.page_id {sortDir}";
        var rows = await db.ReadAsync(sql, args, ReadRows, ct);
        if (tagFilter is not null) rows = rows.FindAll(r => ImageTags.Parse(r.Tags).Contains(tagFilter));
        return (rows, null);
    }

    private const string MarkerSql = $"SELECT {ImageRow.Columns} FROM images WHERE id = @marker AND {VisibleTo}";

    private static List<ImageRow> ReadRows(System.Data.Common.DbDataReader reader)
    {
        var rows = new List<ImageRow>();
        while (reader.Read()) rows.Add(ImageRow.Read(reader));
        return rows;
    }

    private static object SortValue(ImageRow row, string column) => column switch
    {
        "created_at" => row.CreatedAt,
        "updated_at" => row.UpdatedAt,
        "name" => row.Name,
        "id" => row.Id,
        "status" => row.Status,
        "min_disk" => row.MinDisk,
        "min_ram" => row.MinRam,
        "size" => row.Size,
        "disk_format" => row.DiskFormat,
        "container_format" => row.ContainerFormat,
        _ => throw new ArgumentOutOfRangeException(nameof(column), column, null),
    };

    internal static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);
}
