using System.Globalization;
using Ims.Service.Storage;

namespace Ims.Service.Ims;

/// <summary>Where an image came from, beyond its row: what a whole image records of its making.</summary>
public sealed record ImageProvenance(string? SourceServerId = null, bool BackupMadeByImage = false)
{
    public static readonly ImageProvenance None = new();
}

/// <summary>
/// The images aggregate: <c>images</c> (with their tags, a column of the row) and <c>image_members</c>. The only code
/// that touches those tables; "an image the caller may see", the image quota count and every state transition of an
/// image are written here once.
/// </summary>
public sealed class ImageStore(Database db)
{
    /// <summary>Images that exist for callers: being made or active (killed and deleted ones answer 404).</summary>
    private const string Live = "images.status IN ('queued', 'saving', 'active')";

    /// <summary>
    /// The visibility predicate; <c>@project</c> is the viewer. A member reaches a shared image by id whatever it
    /// answered (Glance lets a pending member look before accepting; IMS lets a rejected one still boot servers from
    /// it); lists narrow that down with <see cref="ListedParts"/>. The subquery is one range of <c>image_members_member</c>.
    /// </summary>
    private const string VisibleTo =
        "(images.visibility = 'public' OR images.owner = @project OR images.id IN " +
        "(SELECT m.image_id FROM image_members m WHERE m.member_id = @project))";

    private const string SelectVisible = $"SELECT {ImageRow.Columns} FROM images WHERE id = @imageId AND {Live} AND {VisibleTo}";
    private const string SelectOwn = $"SELECT {ImageRow.Columns} FROM images WHERE id = @imageId AND owner = @project AND {Live}";

    // ----- reads --------------------------------------------------------------------------------------------------

    /// <summary>A live image <paramref name="viewer"/> may see (its own, public, or shared with it in any member state), or null.</summary>
    public Task<ImageRow?> GetVisibleAsync(string viewer, string imageId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<ImageRow>(SelectVisible, new { imageId, project = viewer }, ct);

    /// <summary><see cref="GetVisibleAsync(string, string, CancellationToken)"/> inside a transaction.</summary>
    public Task<ImageRow?> GetVisibleAsync(WriteScope tx, string viewer, string imageId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<ImageRow>(SelectVisible, new { imageId, project = viewer }, ct);

    /// <summary>A live image <paramref name="owner"/> owns, or null: what tag and enterprise-project calls act on.</summary>
    public Task<ImageRow?> GetOwnAsync(string owner, string imageId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<ImageRow>(SelectOwn, new { imageId, project = owner }, ct);

    public Task<ImageRow?> GetOwnAsync(WriteScope tx, string owner, string imageId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<ImageRow>(SelectOwn, new { imageId, project = owner }, ct);

    /// <summary>A live image whoever owns it (for jobs, which act for a request that already checked the caller).</summary>
    public Task<ImageRow?> GetLiveAsync(WriteScope tx, string imageId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<ImageRow>($"SELECT {ImageRow.Columns} FROM images WHERE id = @imageId AND {Live}", new { imageId }, ct);

    /// <summary>An image in any state, or null.</summary>
    public Task<ImageRow?> GetAsync(WriteScope tx, string imageId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<ImageRow>($"SELECT {ImageRow.Columns} FROM images WHERE id = @imageId", new { imageId }, ct);

    /// <summary>Images by id in any state (for views that name the image a resource was made from).</summary>
    public async Task<IReadOnlyDictionary<string, ImageRow>> GetManyAsync(IReadOnlyCollection<string> imageIds, CancellationToken ct) =>
        imageIds.Count == 0
            ? new Dictionary<string, ImageRow>()
            : (await db.QueryAsync<ImageRow>($"SELECT {ImageRow.Columns} FROM images WHERE id IN @imageIds", new { imageIds }, ct))
                .ToDictionary(i => i.Id, StringComparer.Ordinal);

    /// <summary>The live images of <paramref name="owner"/>, newest first.</summary>
    public async Task<IReadOnlyList<ImageRow>> ListOwnAsync(string owner, CancellationToken ct) =>
        await db.QueryAsync<ImageRow>(
            $"SELECT {ImageRow.Columns} FROM images WHERE owner = @owner AND {Live} ORDER BY created_at DESC, id DESC", new { owner }, ct);

    /// <summary>The live images of <paramref name="owners"/> in an enterprise project, oldest first.</summary>
    public async Task<IReadOnlyList<ImageRow>> ListInEnterpriseProjectAsync(IReadOnlyCollection<string> owners, string enterpriseProjectId,
        CancellationToken ct) =>
        await db.QueryAsync<ImageRow>(
            $"SELECT {ImageRow.Columns} FROM images WHERE owner IN @owners AND enterprise_project_id = @eps AND {Live} ORDER BY created_at, id",
            new { owners, eps = enterpriseProjectId }, ct);

    /// <summary>
    /// What the image quota counts (spec §4.8): images of <paramref name="owner"/> from the moment their create request was
    /// accepted (<c>queued</c>, <c>saving</c>) while they live (<c>active</c>).
    /// </summary>
    public async Task<long> CountQuotaAsync(string owner, CancellationToken ct) =>
        await db.ExecuteScalarAsync<long>(CountQuota, new { owner }, ct);

    /// <summary>
    /// The same count in a write transaction, where it decides whether one more image fits: it takes the owner's quota
    /// lock first (held until the transaction ends), so concurrent creators take turns and cannot both see the last
    /// free slot (on PostgreSQL; SQLite's single writer already serialises them).
    /// </summary>
    public async Task<long> CountQuotaAsync(WriteScope tx, string owner, CancellationToken ct)
    {
        await tx.LockAsync($"image-quota:{owner}", ct);
        return await tx.ExecuteScalarAsync<long>(CountQuota, new { owner }, ct);
    }

    private const string CountQuota = $"SELECT COUNT(*) FROM images WHERE owner = @owner AND {Live}";

    /// <summary>Whether a live image was registered from any of <paramref name="backupIds"/> (such backups cannot go).</summary>
    public async Task<bool> AnyLiveFromBackupsAsync(WriteScope tx, IReadOnlyCollection<string> backupIds, CancellationToken ct) =>
        backupIds.Count > 0
        && await tx.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM images WHERE backup_id IN @backupIds AND {Live}", new { backupIds }, ct) > 0;

    /// <summary>Whether a live whole image was registered from the backup (a backup makes one whole image).</summary>
    public async Task<bool> AnyLiveWholeImageOfBackupAsync(WriteScope tx, string backupId, CancellationToken ct) =>
        await tx.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM images WHERE backup_id = @backupId AND whole_image = 1 AND {Live}",
            new { backupId }, ct) > 0;

    /// <summary>Ids of the (not deleted) images registered from each backup, oldest first.</summary>
    public async Task<ILookup<string, string>> ImagesOfBackupsAsync(IReadOnlyCollection<string> backupIds, CancellationToken ct)
    {
        if (backupIds.Count == 0) return Array.Empty<(string, string)>().ToLookup(r => r.Item1, r => r.Item2);
        var rows = await db.QueryAsync<(string BackupId, string ImageId)>(
            "SELECT backup_id, id FROM images WHERE backup_id IN @backupIds AND status <> 'deleted' ORDER BY created_at, id",
            new { backupIds }, ct);
        return rows.ToLookup(r => r.BackupId, r => r.ImageId);
    }

    /// <summary>The manifests that live images name, disks and kept upload files (garbage collection keeps them): a statement to union with the other stores'.</summary>
    public const string LiveManifestsSql = $"SELECT manifest_id FROM images WHERE manifest_id IS NOT NULL AND {Live} " +
        $"UNION SELECT file_manifest_id FROM images WHERE file_manifest_id IS NOT NULL AND {Live}";

    /// <summary>
    /// The manifest holding the bytes of an image's uploaded file: the file's own when it was converted on upload,
    /// else the disk's (a raw upload's disk is its file). Null for an image without content.
    /// </summary>
    public Task<string?> GetFileManifestAsync(string imageId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<string?>("SELECT COALESCE(file_manifest_id, manifest_id) FROM images WHERE id = @imageId", new { imageId }, ct);

    /// <summary>A live image whoever owns it (for the admin API), or null.</summary>
    public Task<ImageRow?> GetLiveAsync(string imageId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<ImageRow>($"SELECT {ImageRow.Columns} FROM images WHERE id = @imageId AND {Live}", new { imageId }, ct);

    /// <summary>Public images among <paramref name="imageIds"/> that have no content yet.</summary>
    public async Task<IReadOnlySet<string>> WithoutContentAsync(IReadOnlyCollection<string> imageIds, CancellationToken ct) =>
        (await db.QueryAsync<string>("SELECT id FROM images WHERE id IN @imageIds AND manifest_id IS NULL", new { imageIds }, ct))
            .ToHashSet(StringComparer.Ordinal);

    // ----- the list -----------------------------------------------------------------------------------------------

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

    /// <summary>The column each equality filter of <see cref="ImageListFilter.EqualityParameters"/> compares.</summary>
    private static readonly Dictionary<string, string> FilterColumns = new(StringComparer.Ordinal)
    {
        ["id"] = "id", ["name"] = "name", ["status"] = "status", ["visibility"] = "visibility", ["owner"] = "owner",
        ["__os_type"] = "os_type", ["__platform"] = "platform", ["__os_bit"] = "os_bit", ["disk_format"] = "disk_format",
        ["container_format"] = "container_format", ["__os_version"] = "os_version", ["__backup_id"] = "backup_id",
    };

    private const string MarkerSql = $"SELECT {ImageRow.Columns} FROM images WHERE id = @marker AND {VisibleTo}";

    /// <summary>
    /// A page of the images <paramref name="viewer"/> lists under <paramref name="filter"/>; null when the filter's marker
    /// names no image the viewer can see. <paramref name="rowLimit"/>, when given, replaces the filter's page size.
    /// </summary>
    public async Task<IReadOnlyList<ImageRow>?> ListAsync(string viewer, ImageListFilter filter, CancellationToken ct, int? rowLimit = null)
    {
        var where = new List<string> { "status <> 'deleted'" };
        var args = new List<(string Name, object? Value)> { ("@project", viewer) };
        var memberStatusNames = new string[filter.MemberStatuses.Count];
        for (var i = 0; i < memberStatusNames.Length; i++)
        {
            memberStatusNames[i] = $"@memberStatus{i}";
            args.Add((memberStatusNames[i], filter.MemberStatuses[i]));
        }

        // Whole images still being made (or that failed) are not registered, so lists leave them out (spec §3.2). An
        // image made by POST /v2/images is registered from the start and lists while it waits for its file, as in Glance.
        where.Add("(status = 'active' OR whole_image = 0 AND status IN ('queued', 'saving'))");
        foreach (var (parameter, value) in filter.Equal)
        {
            var column = FilterColumns[parameter];
            where.Add($"{column} = @f_{column}");
            args.Add(($"@f_{column}", value));
        }
        switch (filter.ImageType)
        {
            case null: break;
            case "gold": where.Add("visibility = 'public'"); break;
            case "private": where.Add("owner = @project AND imagetype = 'private'"); break;
            case "shared": where.Add("(owner <> @project AND visibility <> 'public' OR owner = @project AND imagetype = 'shared')"); break;
            default: where.Add("1 = 0"); break; // market: none here
        }
        if (filter.WholeImage is { } wholeImage) where.Add(wholeImage ? "whole_image = 1" : "whole_image = 0");
        if (filter.Protected is { } isProtected) where.Add(isProtected ? "protected = 1" : "protected = 0");
        // The stored JSON is searched for the tag exactly as ImageTags writes it; LIKE may ignore case, so the rows are
        // checked exactly below.
        if (filter.Tag is { } tag)
        {
            var stored = ImageTags.Serialize([tag])[1..^1];
            where.Add(@"tags LIKE @tagPattern ESCAPE '\'");
            args.Add(("@tagPattern", "%" + stored.Replace(@"\", @"\\", StringComparison.Ordinal)
                .Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal) + "%"));
        }
        if (filter.EnterpriseProjectId is { } eps)
        {
            where.Add("enterprise_project_id = @eps");
            args.Add(("@eps", eps));
        }

        if (!ImageListFilter.SortKeys.Contains(filter.SortKey)) throw new ArgumentException($"Unknown sort key {filter.SortKey}.", nameof(filter));
        var sortColumn = filter.SortKey;
        var sortDir = filter.Descending ? "desc" : "asc";
        if (filter.Marker is { } marker)
        {
            // Keyset pagination: continue strictly after the marker in (sort column, id) order, so it terminates.
            var markerRow = await db.ReadAsync(MarkerSql, [("@marker", marker), ("@project", viewer)],
                reader => reader.Read() ? ImageRow.Read(reader) : null, ct);
            if (markerRow is null) return null;
            var op = filter.Descending ? "<" : ">";
            where.Add($"({sortColumn} {op} @markerValue OR ({sortColumn} = @markerValue AND id {op} @markerId))");
            args.Add(("@markerValue", SortValue(markerRow, sortColumn)));
            args.Add(("@markerId", markerRow.Id));
        }
        // The page size is part of the text, not a parameter: SQLite recompiles a statement whenever a value its LIMIT
        // reads is bound again, which made every list pay the compilation of this long query.
        var pageSize = (rowLimit ?? filter.Limit ?? 25).ToString(CultureInfo.InvariantCulture);
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
        if (filter.Tag is { } wanted) rows = rows.FindAll(r => ImageTags.Parse(r.Tags).Contains(wanted));
        return rows;
    }

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

    // ----- writes -------------------------------------------------------------------------------------------------

    /// <summary>
    /// Writes a new image row (the one <c>INSERT INTO images</c>). False when an image with its id exists already (public
    /// images are seeded idempotently); any other unique violation (one live whole image per backup) is thrown.
    /// </summary>
    public async Task<bool> InsertAsync(WriteScope tx, ImageRow image, ImageProvenance provenance, CancellationToken ct) =>
        await tx.ExecuteAsync(
            """
            INSERT INTO images (id, owner, name, status, visibility, imagetype, whole_image, os_type, os_version, platform, os_bit,
                                min_disk, min_ram, max_ram, disk_format, container_format, size, image_size, description,
                                backup_id, data_origin, source_type, enterprise_project_id, protected, properties, tags,
                                created_at, updated_at, active_at, checksum, virtual_size, data_disks_offline, manifest_id,
                                source_backup_shared, source_server_id, backup_made_by_image, virtual_env_type, file_manifest_id)
            VALUES (@Id, @Owner, @Name, @Status, @Visibility, @Imagetype, @wholeImage, @OsType, @OsVersion, @Platform, @OsBit,
                    @MinDisk, @MinRam, @MaxRam, @DiskFormat, @ContainerFormat, @Size, @ImageSize, @Description,
                    @BackupId, @DataOrigin, @SourceType, @EnterpriseProjectId, @isProtected, @Properties, @Tags,
                    @CreatedAt, @UpdatedAt, @ActiveAt, @Checksum, @VirtualSize, @dataDisksOffline, @ManifestId,
                    @sourceBackupShared, @SourceServerId, @backupMadeByImage, @VirtualEnvType, @FileManifestId)
            ON CONFLICT (id) DO NOTHING
            """,
            new
            {
                image.Id, image.Owner, image.Name, image.Status, image.Visibility, image.Imagetype, wholeImage = Flag(image.WholeImage),
                image.OsType, image.OsVersion, image.Platform, image.OsBit, image.MinDisk, image.MinRam, image.MaxRam,
                image.DiskFormat, image.ContainerFormat, image.Size, image.ImageSize, image.Description, image.BackupId,
                image.DataOrigin, image.SourceType, image.EnterpriseProjectId, isProtected = Flag(image.Protected), image.Properties,
                image.Tags, image.CreatedAt, image.UpdatedAt, image.ActiveAt, image.Checksum, image.VirtualSize,
                dataDisksOffline = Flag(image.DataDisksOffline), image.ManifestId, sourceBackupShared = Flag(image.SourceBackupShared),
                provenance.SourceServerId, backupMadeByImage = Flag(provenance.BackupMadeByImage), image.VirtualEnvType,
                image.FileManifestId,
            }, ct) == 1;

    /// <summary>Stores the attributes an update (PATCH) may change.</summary>
    public Task UpdateAttributesAsync(WriteScope tx, string imageId, PatchedImage changed, long now, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            UPDATE images SET name = @Name, description = @Description, min_ram = @MinRam, max_ram = @MaxRam, min_disk = @MinDisk,
                os_version = @OsVersion, enterprise_project_id = @EnterpriseProjectId, properties = @properties, tags = @tags,
                updated_at = @now
            WHERE id = @imageId
            """,
            new
            {
                changed.Name, changed.Description, changed.MinRam, changed.MaxRam, changed.MinDisk, changed.OsVersion,
                changed.EnterpriseProjectId, properties = changed.PropertiesJson(), tags = ImageTags.Serialize(changed.Tags), now, imageId,
            }, ct);

    /// <summary>Stores an image's tags in <see cref="ImageTags"/>'s format.</summary>
    public Task SetTagsAsync(WriteScope tx, string imageId, IReadOnlyList<ImageTags.Tag> tags, long now, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE images SET tags = @tags, updated_at = @now WHERE id = @imageId",
            new { tags = ImageTags.Serialize(tags), now, imageId }, ct);

    public Task SetEnterpriseProjectAsync(WriteScope tx, string imageId, string enterpriseProjectId, long now, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE images SET enterprise_project_id = @enterpriseProjectId, updated_at = @now WHERE id = @imageId",
            new { enterpriseProjectId, now, imageId }, ct);

    /// <summary>Names the content of a seeded public image, unless it has some already.</summary>
    public Task SetSeedContentAsync(WriteScope tx, string imageId, string manifestId, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE images SET manifest_id = @manifestId WHERE id = @imageId AND manifest_id IS NULL", new { manifestId, imageId }, ct);

    // ----- state transitions (queued → saving → active; queued/saving → killed; → deleted) ------------------------

    /// <summary>queued → saving: an upload starts receiving its file, or a whole-image job starts working. False when not queued.</summary>
    public async Task<bool> MarkSavingAsync(WriteScope tx, string imageId, long now, CancellationToken ct) =>
        await tx.ExecuteAsync("UPDATE images SET status = 'saving', updated_at = @now WHERE id = @imageId AND status = 'queued'",
            new { imageId, now }, ct) == 1;

    /// <summary>saving → queued: an upload that did not finish leaves its image ready for another try.</summary>
    public Task RequeueUploadAsync(WriteScope tx, string imageId, long now, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE images SET status = 'queued', updated_at = @now WHERE id = @imageId AND status = 'saving'",
            new { imageId, now }, ct);

    /// <summary>
    /// At start-up: every upload the previous process was receiving (saving, neither a whole image nor made by a job, which
    /// has a <c>data_origin</c> and resumes with its job) is queued again.
    /// </summary>
    public Task RequeueInterruptedUploadsAsync(WriteScope tx, long now, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE images SET status = 'queued', updated_at = @now WHERE status = 'saving' AND whole_image = 0 AND data_origin IS NULL",
            new { now }, ct);

    /// <summary>
    /// queued → saving for a registration (<c>PUT /v1/cloudimages/{id}/upload</c>): the image now names its file as its
    /// origin, so no upload or second registration takes it meanwhile. False when not queued.
    /// </summary>
    public async Task<bool> BeginRegistrationAsync(WriteScope tx, string imageId, string dataOrigin, long now, CancellationToken ct) =>
        await tx.ExecuteAsync(
            "UPDATE images SET status = 'saving', data_origin = @dataOrigin, updated_at = @now WHERE id = @imageId AND status = 'queued' AND data_origin IS NULL",
            new { imageId, dataOrigin, now }, ct) == 1;

    /// <summary>A failed registration leaves its image as it was before: queued, without a file, ready for another try.</summary>
    public Task RequeueRegistrationAsync(WriteScope tx, string imageId, long now, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            UPDATE images SET status = 'queued', data_origin = NULL, manifest_id = NULL, file_manifest_id = NULL, size = 0, image_size = 0,
                              checksum = NULL, virtual_size = NULL, updated_at = @now
            WHERE id = @imageId AND status IN ('queued', 'saving')
            """, new { imageId, now }, ct);

    /// <summary>
    /// An imported file, kept as it came (its manifest, length and MD5): the image is <c>saving</c> until its disk is
    /// converted and it is registered.
    /// </summary>
    public Task SetImportedFileAsync(WriteScope tx, string imageId, string fileManifestId, long length, string checksum, long now, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            UPDATE images SET status = 'saving', file_manifest_id = @fileManifestId, size = @length, image_size = @length, checksum = @checksum,
                              updated_at = @now
            WHERE id = @imageId AND status IN ('queued', 'saving')
            """, new { imageId, fileManifestId, length, checksum, now }, ct);

    /// <summary>The disk an imported file holds (converted to raw): its manifest and size.</summary>
    public Task SetImportedDiskAsync(WriteScope tx, string imageId, string manifestId, long virtualSize, long now, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            UPDATE images SET manifest_id = @manifestId, virtual_size = @virtualSize, updated_at = @now
            WHERE id = @imageId AND status IN ('queued', 'saving')
            """, new { imageId, manifestId, virtualSize, now }, ct);

    /// <summary>
    /// → active for an imported image whose file and disk are recorded; as for an upload, min_disk rises to the disk's
    /// size in whole GB (a registered image may have said less).
    /// </summary>
    public Task ActivateImportAsync(WriteScope tx, string imageId, long now, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            UPDATE images SET status = 'active', active_at = @now, updated_at = @now,
                              min_disk = CASE WHEN min_disk * 1073741824 >= virtual_size THEN min_disk ELSE (virtual_size + 1073741823) / 1073741824 END
            WHERE id = @imageId AND status IN ('queued', 'saving') AND manifest_id IS NOT NULL
            """, new { imageId, now }, ct);

    /// <summary>
    /// saving → active for an uploaded file: its size, checksum and manifest; a server's system disk must hold the whole
    /// disk, so min_disk rises to the disk's size in whole GB.
    /// </summary>
    public Task ActivateUploadAsync(WriteScope tx, string imageId, UploadedContent content, long now, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            UPDATE images SET status = 'active', manifest_id = @ManifestId, file_manifest_id = @FileManifestId, size = @Length,
                              image_size = @Length,
                              checksum = @Checksum, virtual_size = @VirtualSize,
                              min_disk = CASE WHEN min_disk > @diskGb THEN min_disk ELSE @diskGb END, active_at = @now, updated_at = @now
            WHERE id = @imageId AND status = 'saving'
            """,
            new
            {
                content.ManifestId, content.FileManifestId, content.Length, content.Checksum, content.VirtualSize,
                diskGb = (content.VirtualSize + (1L << 30) - 1) >> 30, now, imageId,
            }, ct);

    /// <summary>saving → active for a whole image, with the attributes read from its backup's disks and source.</summary>
    public Task ActivateWholeImageAsync(WriteScope tx, string imageId, WholeImageAttributes attributes, long now, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            UPDATE images SET status = 'active', active_at = @now, updated_at = @now,
                min_disk = @MinDisk, image_size = @ImageSize, os_type = @OsType, os_version = @OsVersion,
                platform = @Platform, os_bit = @OsBit, data_disks_offline = @offline, properties = @Properties
            WHERE id = @imageId
            """,
            new
            {
                now, imageId, attributes.MinDisk, attributes.ImageSize, attributes.OsType, attributes.OsVersion, attributes.Platform,
                attributes.OsBit, offline = Flag(attributes.DataDisksOffline), attributes.Properties,
            }, ct);

    /// <summary>
    /// queued/saving → saving for an image of a disk: the captured disk's manifest and size (a disk image's file is its
    /// disk: <c>size</c>, <c>__image_size</c> and <c>virtual_size</c> are the disk's bytes).
    /// </summary>
    public Task SetDiskContentAsync(WriteScope tx, string imageId, string manifestId, long sizeBytes, long now, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            UPDATE images SET status = 'saving', manifest_id = @manifestId, size = @sizeBytes, image_size = @sizeBytes,
                              virtual_size = @sizeBytes, updated_at = @now
            WHERE id = @imageId AND status IN ('queued', 'saving')
            """, new { imageId, manifestId, sizeBytes, now }, ct);

    /// <summary>saving → active for an image whose job recorded its content (a disk image, an in-region copy).</summary>
    public Task ActivateDiskImageAsync(WriteScope tx, string imageId, long now, CancellationToken ct) =>
        tx.ExecuteAsync(
            "UPDATE images SET status = 'active', active_at = @now, updated_at = @now WHERE id = @imageId AND status = 'saving' AND manifest_id IS NOT NULL",
            new { imageId, now }, ct);

    /// <summary>
    /// queued → saving for an in-region copy: the source's content (its disk and kept file manifests, sizes and checksum),
    /// so the copy shares every chunk. False when the copy is no longer queued.
    /// </summary>
    public async Task<bool> CopyContentAsync(WriteScope tx, string imageId, ImageRow source, long now, CancellationToken ct) =>
        await tx.ExecuteAsync(
            """
            UPDATE images SET status = 'saving', manifest_id = @ManifestId, file_manifest_id = @FileManifestId, size = @Size,
                              image_size = @ImageSize, virtual_size = @VirtualSize, checksum = @Checksum, updated_at = @now
            WHERE id = @imageId AND status = 'queued'
            """,
            new { source.ManifestId, source.FileManifestId, source.Size, source.ImageSize, source.VirtualSize, source.Checksum, now, imageId },
            ct) == 1;

    /// <summary>saving → active for a replica, whose attributes were copied when it was written.</summary>
    public Task ActivateAsync(WriteScope tx, string imageId, long now, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE images SET status = 'active', active_at = @now, updated_at = @now WHERE id = @imageId AND status = 'saving'",
            new { imageId, now }, ct);

    /// <summary>queued → saving for a replica, now pointing at its replicated backup.</summary>
    public Task AttachReplicaBackupAsync(WriteScope tx, string imageId, string backupId, long now, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE images SET backup_id = @backupId, status = 'saving', updated_at = @now WHERE id = @imageId AND status = 'queued'",
            new { imageId, backupId, now }, ct);

    /// <summary>
    /// queued/saving → killed: a failed job hides its image (neither listed nor counted against the quota);
    /// <paramref name="forgetBackup"/> also drops its backup reference (the job deletes that backup).
    /// </summary>
    public Task KillAsync(WriteScope tx, string imageId, bool forgetBackup, long now, CancellationToken ct) =>
        tx.ExecuteAsync(
            "UPDATE images SET status = 'killed', backup_id = CASE WHEN @forgetBackup = 1 THEN NULL ELSE backup_id END, updated_at = @now " +
            "WHERE id = @imageId AND status IN ('queued', 'saving')",
            new { imageId, forgetBackup = Flag(forgetBackup), now }, ct);

    /// <summary>Drops a (killed) image's reference to a backup its failed job deleted.</summary>
    public Task ForgetBackupAsync(WriteScope tx, string imageId, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE images SET backup_id = NULL WHERE id = @imageId", new { imageId }, ct);

    /// <summary>→ deleted: gone from every list at once.</summary>
    public Task MarkDeletedAsync(WriteScope tx, string imageId, long now, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE images SET status = 'deleted', updated_at = @now WHERE id = @imageId", new { imageId, now }, ct);

    // ----- members ------------------------------------------------------------------------------------------------

    private const string MemberColumns =
        "image_id AS ImageId, member_id AS MemberId, status, vault_id AS VaultId, created_at AS CreatedAt, updated_at AS UpdatedAt";

    private const string SelectMember = $"SELECT {MemberColumns} FROM image_members WHERE image_id = @imageId AND member_id = @memberId";
    private const string SelectMembers = $"SELECT {MemberColumns} FROM image_members WHERE image_id = @imageId ORDER BY created_at, member_id";
    private const string CountMembers = "SELECT COUNT(*) FROM image_members WHERE image_id = @imageId";

    public Task<MemberRow?> GetMemberAsync(string imageId, string memberId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<MemberRow>(SelectMember, new { imageId, memberId }, ct);

    public Task<MemberRow?> GetMemberAsync(WriteScope tx, string imageId, string memberId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<MemberRow>(SelectMember, new { imageId, memberId }, ct);

    public async Task<IReadOnlyList<MemberRow>> GetMembersAsync(string imageId, CancellationToken ct) =>
        await db.QueryAsync<MemberRow>(SelectMembers, new { imageId }, ct);

    public async Task<IReadOnlyList<MemberRow>> GetMembersAsync(WriteScope tx, string imageId, CancellationToken ct) =>
        await tx.QueryAsync<MemberRow>(SelectMembers, new { imageId }, ct);

    public async Task<long> CountMembersAsync(string imageId, CancellationToken ct) =>
        await db.ExecuteScalarAsync<long>(CountMembers, new { imageId }, ct);

    /// <summary>
    /// The count in a write transaction, where it decides whether one more member fits: it takes the image's member lock
    /// first (see <see cref="LockMembersAsync"/>), so concurrent additions cannot both take the last place.
    /// </summary>
    public async Task<long> CountMembersAsync(WriteScope tx, string imageId, CancellationToken ct)
    {
        await LockMembersAsync(tx, [imageId], ct);
        return await tx.ExecuteScalarAsync<long>(CountMembers, new { imageId }, ct);
    }

    /// <summary>
    /// Takes the member locks of <paramref name="imageIds"/> until the transaction ends, in one order: a transaction that
    /// counts the members of several images takes them all first, so two such transactions cannot wait for each other.
    /// </summary>
    public async Task LockMembersAsync(WriteScope tx, IEnumerable<string> imageIds, CancellationToken ct)
    {
        foreach (var imageId in imageIds.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            await tx.LockAsync($"image-members:{imageId}", ct);
    }

    /// <summary>Adds a pending member; false when the project already was one (its answer is kept).</summary>
    public async Task<bool> AddMemberAsync(WriteScope tx, string imageId, string memberId, long now, CancellationToken ct) =>
        await tx.ExecuteAsync(
            """
            INSERT INTO image_members (image_id, member_id, status, vault_id, created_at, updated_at)
            VALUES (@imageId, @memberId, 'pending', NULL, @now, @now)
            ON CONFLICT (image_id, member_id) DO NOTHING
            """, new { imageId, memberId, now }, ct) == 1;

    /// <summary>Records a member's answer; the vault is kept only for an acceptance. False when it is not a member.</summary>
    public async Task<bool> SetMemberStatusAsync(WriteScope tx, string imageId, string memberId, string status, string? vaultId,
        long now, CancellationToken ct) =>
        await tx.ExecuteAsync(
            """
            UPDATE image_members SET status = @status, vault_id = @vaultId, updated_at = @now
            WHERE image_id = @imageId AND member_id = @memberId
            """,
            new { imageId, memberId, status, vaultId = status == MemberStatus.Accepted ? vaultId : null, now }, ct) == 1;

    public async Task<bool> RemoveMemberAsync(WriteScope tx, string imageId, string memberId, CancellationToken ct) =>
        await tx.ExecuteAsync("DELETE FROM image_members WHERE image_id = @imageId AND member_id = @memberId", new { imageId, memberId }, ct) == 1;

    /// <summary>
    /// The owner's view follows the members (spec §7 Q17): <c>visibility</c> and <c>__imagetype</c> are <c>shared</c>
    /// while the image has a member in any state, <c>private</c> again once the last one is gone.
    /// </summary>
    public Task RefreshVisibilityAsync(WriteScope tx, IReadOnlyCollection<string> imageIds, long now, CancellationToken ct) =>
        imageIds.Count == 0 ? Task.CompletedTask : tx.ExecuteAsync(
            """
            UPDATE images
            SET visibility = CASE WHEN EXISTS (SELECT 1 FROM image_members m WHERE m.image_id = images.id) THEN 'shared' ELSE 'private' END,
                imagetype = CASE WHEN EXISTS (SELECT 1 FROM image_members m WHERE m.image_id = images.id) THEN 'shared' ELSE 'private' END,
                updated_at = @now
            WHERE id IN @imageIds AND visibility <> 'public'
              AND visibility <> CASE WHEN EXISTS (SELECT 1 FROM image_members m WHERE m.image_id = images.id) THEN 'shared' ELSE 'private' END
            """, new { imageIds, now }, ct);

    private static int Flag(bool value) => value ? 1 : 0;
}

/// <summary>What an upload stored: the file's length and MD5, the disk's size and its manifest.</summary>
/// <summary>
/// What an upload stored: the disk's manifest and, when the file was converted (qcow2), the file's own manifest, so a
/// download answers the bytes that were uploaded.
/// </summary>
public sealed record UploadedContent(string ManifestId, long Length, string Checksum, long VirtualSize, string? FileManifestId = null);

/// <summary>The attributes a whole image takes from its backup's disks and its source server's image.</summary>
public sealed record WholeImageAttributes(long MinDisk, long ImageSize, string OsType, string OsVersion, string Platform, string OsBit,
    bool DataDisksOffline, string Properties);
