using System.Data.Common;
using System.Globalization;
using System.Text;
using Dapper;
using Ims.Service.Http;
using Ims.Service.Storage;

namespace Ims.Service.Ims;

/// <summary>Image reads that respect visibility: a project sees public images and its own (later: shared ones).</summary>
public static class ImageQueries
{
    /// <summary>The visibility predicate; <c>@project</c> is the viewer.</summary>
    public const string VisibleTo = "(images.visibility = 'public' OR images.owner = @project)";

    /// <summary>
    /// <see cref="VisibleTo"/> split into two disjoint parts, each of which an index walks in (created_at, id) order
    /// (images_owner_created_id, images_visibility_created_id). A list reads the first page of each and merges them.
    /// With the OR, the database read and sorted every image of every project to answer one page; merging in SQL (IN
    /// over a UNION of limited subqueries) made SQLite build and sort temporary tables on every call.
    /// </summary>
    private static readonly string[] VisibleParts = ["images.owner = @project", "images.visibility = 'public' AND images.owner <> @project"];

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
            $"SELECT {ImageRow.Columns} FROM images WHERE id = @imageId AND status <> 'deleted' AND {VisibleTo}",
            new { imageId, project }, cancellationToken: ct));
    }

    /// <summary>Runs a list query from the request's query string; an unusable parameter yields an error.</summary>
    public static async Task<(IReadOnlyList<ImageRow> Images, ApiError? Error)> ListAsync(Database db, HttpContext http, string project, CancellationToken ct)
    {
        if (!QueryArgs.TryInt(http, "limit", ServiceKind.Ims, out var limit, out var error, min: 0, max: 1000)) return ([], error);
        var where = new List<string> { "status <> 'deleted'" };
        var args = new List<(string Name, object? Value)> { ("@project", project) };

        // Images still being made (or that failed) are not registered, so lists leave them out (spec §3.2).
        where.Add("status = 'active'");
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
            await using var connection = await db.OpenAsync(ct);
            var markerRow = await connection.QuerySingleOrDefaultAsync<ImageRow>(new CommandDefinition(
                $"SELECT {ImageRow.Columns} FROM images WHERE id = @marker AND {VisibleTo}", new { marker, project }, cancellationToken: ct));
            if (markerRow is null) return ([], ApiError.Ims("IMG.0001", $"The marker image {marker} does not exist."));
            // A row value comparison: (a, b) < (x, y) means a < x OR (a = x AND b < y), and lets the index seek to it.
            var op = sortDir == "desc" ? "<" : ">";
            where.Add($"({sortColumn}, id) {op} (@markerValue, @markerId)");
            args.Add(("@markerValue", SortValue(markerRow, sortColumn)));
            args.Add(("@markerId", markerRow.Id));
        }
        var pageSize = limit ?? 25;
        args.Add(("@limit", pageSize));
        // The page is the first `limit` rows of the union, so the first `limit` of each part are all it can hold.
        var filters = string.Join(" AND ", where);
        var order = $"ORDER BY {sortColumn} {sortDir}, id {sortDir}";
        var own = await db.ReadAsync($"SELECT {ImageRow.Columns} FROM images WHERE {VisibleParts[0]} AND {filters} {order} LIMIT @limit",
            args, ReadRows, ct);
        var others = await db.ReadAsync($"SELECT {ImageRow.Columns} FROM images WHERE {VisibleParts[1]} AND {filters} {order} LIMIT @limit",
            args, ReadRows, ct);
        return (Merge(own, others, sortColumn, descending: sortDir == "desc", pageSize), null);
    }

    private static List<ImageRow> ReadRows(DbDataReader reader)
    {
        var rows = new List<ImageRow>();
        while (reader.Read()) rows.Add(ImageRow.Read(reader));
        return rows;
    }

    /// <summary>The first <paramref name="limit"/> rows of two lists that are each sorted as <see cref="CompareForSort"/> says.</summary>
    private static List<ImageRow> Merge(List<ImageRow> a, List<ImageRow> b, string sortColumn, bool descending, int limit)
    {
        if (b.Count == 0) return a;
        if (a.Count == 0) return b;
        var merged = new List<ImageRow>(Math.Min(limit, a.Count + b.Count));
        int i = 0, j = 0;
        while (merged.Count < limit && (i < a.Count || j < b.Count))
        {
            var takeA = j == b.Count || (i < a.Count && CompareForSort(a[i], b[j], sortColumn, descending) <= 0);
            merged.Add(takeA ? a[i++] : b[j++]);
        }
        return merged;
    }

    /// <summary>
    /// Orders two rows as the database's ORDER BY (sort column, id) does: numbers by value, text as SQLite's default
    /// BINARY collation, by code point. (A PostgreSQL port sorts these text columns COLLATE "C" to agree.)
    /// </summary>
    internal static int CompareForSort(ImageRow x, ImageRow y, string sortColumn, bool descending)
    {
        var order = (SortValue(x, sortColumn), SortValue(y, sortColumn)) switch
        {
            (long l, long r) => l.CompareTo(r),
            (string l, string r) => CompareCodePoints(l, r),
            var other => throw new InvalidOperationException($"Sort values {other} are not comparable."),
        };
        if (order == 0) order = CompareCodePoints(x.Id, y.Id);
        return descending ? -order : order;
    }

    /// <summary>By Unicode code point, as UTF-8 bytes compare; ordinal UTF-16 comparison differs beyond U+FFFF.</summary>
    internal static int CompareCodePoints(string x, string y)
    {
        var a = x.AsSpan();
        var b = y.AsSpan();
        while (!a.IsEmpty && !b.IsEmpty)
        {
            Rune.DecodeFromUtf16(a, out var ra, out var na);
            Rune.DecodeFromUtf16(b, out var rb, out var nb);
            if (ra != rb) return ra.Value.CompareTo(rb.Value);
            a = a[na..];
            b = b[nb..];
        }
        // A prefix sorts first.
        return a.IsEmpty ? (b.IsEmpty ? 0 : -1) : 1;
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
