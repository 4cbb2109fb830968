using System.Globalization;
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
    /// <see cref="VisibleTo"/> split into two disjoint parts, each of which an index walks in created_at order
    /// (images_owner_created, images_visibility_created). A list takes the first page of each and merges them: with the
    /// OR, the database read and sorted every image of every project to answer one page.
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
            var op = sortDir == "desc" ? "<" : ">";
            where.Add($"({sortColumn} {op} @markerValue OR ({sortColumn} = @markerValue AND id {op} @markerId))");
            args.Add(("@markerValue", SortValue(markerRow, sortColumn)));
            args.Add(("@markerId", markerRow.Id));
        }
        args.Add(("@limit", limit ?? 25));
        // The page is the first `limit` rows of the union, so the first `limit` of each part are all it can hold.
        var order = $"ORDER BY {sortColumn} {sortDir}, id {sortDir}";
        var filters = string.Join(" AND ", where);
        var parts = VisibleParts.Select((visible, i) =>
            $"SELECT id FROM (SELECT id FROM images WHERE {visible} AND {filters} {order} LIMIT @limit) AS part{i}");
        var sql = $"SELECT {ImageRow.Columns} FROM images WHERE id IN ({string.Join(" UNION ALL ", parts)}) {order} LIMIT @limit";
        var rows = await db.ReadAsync(sql, args, reader =>
        {
            var page = new List<ImageRow>();
            while (reader.Read()) page.Add(ImageRow.Read(reader));
            return page;
        }, ct);
        return (rows, null);
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
