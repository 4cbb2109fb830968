using Ims.Service.Nodes;
using Microsoft.Extensions.Options;
using System.Text.Json;
using Dapper;
using Ims.Service.Storage;

namespace Ims.Service.Evs;

/// <summary>A volume to create: an EVS disk, or a system or data disk made together with a server.</summary>
public sealed record NewVolume
{
    public required string Id { get; init; }
    public required string ProjectId { get; init; }
    public required string Name { get; init; }
    public string Description { get; init; } = "";
    public required int SizeGb { get; init; }
    public required string VolumeType { get; init; }
    public required string AvailabilityZone { get; init; }
    public bool Multiattach { get; init; }
    public bool Bootable { get; init; }
    public string? ImageId { get; init; }
    /// <summary>The manifest whose disk the volume starts as (an image's, or a backup's disk); null for an empty disk.</summary>
    public string? SourceManifestId { get; init; }
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();
}

/// <summary>A row of the volumes table.</summary>
public sealed record VolumeRow
{
    public string Id { get; init; } = "";
    public string ProjectId { get; init; } = "";
    public string Name { get; init; } = "";
    public string Description { get; init; } = "";
    public long SizeGb { get; init; }
    public string VolumeType { get; init; } = "";
    public string AvailabilityZone { get; init; } = "";
    public string Status { get; init; } = "";
    public long Multiattach { get; init; }
    public long Bootable { get; init; }
    public string? ImageId { get; init; }
    /// <summary>The manifest the volume is (being) restored from; null once its file is written.</summary>
    public string? SourceManifestId { get; init; }
    public string Metadata { get; init; } = "{}";
    public string Tags { get; init; } = "{}";
    public long CreatedAt { get; init; }
    public long UpdatedAt { get; init; }

    public bool IsShared => Multiattach != 0;
    public bool IsBootable => Bootable != 0;

    public Dictionary<string, string> MetadataMap() =>
        JsonSerializer.Deserialize<Dictionary<string, string>>(Metadata) ?? [];

    public Dictionary<string, string> TagMap() =>
        JsonSerializer.Deserialize<Dictionary<string, string>>(Tags) ?? [];
}

/// <summary>A row of volume_attachments.</summary>
public sealed record AttachmentRow
{
    public string VolumeId { get; init; } = "";
    public string ServerId { get; init; } = "";
    public string Device { get; init; } = "";
    public long? BootIndex { get; init; }
    public long DeleteOnTermination { get; init; }
    public long AttachedAt { get; init; }
}

/// <summary>The states of a volume.</summary>
public static class VolumeStatus
{
    public const string Creating = "creating";
    public const string Available = "available";
    public const string InUse = "in-use";
    public const string Attaching = "attaching";
    public const string Detaching = "detaching";
    public const string Deleting = "deleting";
    public const string Extending = "extending";
    public const string Restoring = "restoring-backup";
    public const string Error = "error";
}

/// <summary>
/// The volumes aggregate: <c>volumes</c> and <c>volume_attachments</c>, the only code that touches those tables.
/// The one place where volumes come into being and disappear, whoever asks (EVS, or ECS for a server's disks). A volume
/// is a row and a sparse file of the data plane: the row is written with the request (with the manifest the disk is
/// restored from), the creating job's <c>Work</c> makes the file (<see cref="Data.DiskFiles"/>), and a deleted row
/// leaves a durable mark that has the <see cref="Data.DataJanitor"/> remove the file after the commit.
/// </summary>
public sealed class VolumeStore(Database db, TimeProvider time, IOptions<NodeOptions> node)
{
    private const string Columns = "id AS Id, project_id AS ProjectId, name AS Name, description AS Description, " +
        "size_gb AS SizeGb, volume_type AS VolumeType, availability_zone AS AvailabilityZone, status AS Status, " +
        "multiattach AS Multiattach, bootable AS Bootable, image_id AS ImageId, source_manifest_id AS SourceManifestId, " +
        "metadata AS Metadata, tags AS Tags, " +
        "created_at AS CreatedAt, updated_at AS UpdatedAt";

    private const string AttachmentColumns = "volume_id AS VolumeId, server_id AS ServerId, device AS Device, " +
        "boot_index AS BootIndex, delete_on_termination AS DeleteOnTermination, attached_at AS AttachedAt";

    private long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>The node whose disk holds the volume's bytes (null: not bound, any node).</summary>
    public Task<string?> GetNodeAsync(string volumeId, CancellationToken ct) =>
        db.ExecuteScalarAsync<string?>("SELECT node FROM volumes WHERE id = @volumeId", new { volumeId }, ct);

    /// <summary>The node whose disk holds the bytes of a project's volume (null: not bound, or no such volume).</summary>
    public Task<string?> GetNodeAsync(string projectId, string volumeId, CancellationToken ct) =>
        db.ExecuteScalarAsync<string?>("SELECT node FROM volumes WHERE id = @volumeId AND project_id = @projectId",
            new { volumeId, projectId }, ct);

    /// <summary>The nodes holding the bytes of some volumes (null for a volume not bound), each once.</summary>
    public async Task<List<string?>> GetNodesAsync(WriteScope tx, IReadOnlyCollection<string> volumeIds, CancellationToken ct) =>
        volumeIds.Count == 0 ? [] : await tx.QueryAsync<string?>("SELECT DISTINCT node FROM volumes WHERE id IN @volumeIds", new { volumeIds }, ct);

    /// <summary>Writes new volumes in the <c>creating</c> state, hosted by this node (the one that received the request); a job makes them usable.</summary>
    public async Task CreateAsync(WriteScope write, IEnumerable<NewVolume> volumes, CancellationToken ct)
    {
        var now = NowMs;
        var rows = volumes.Select(v => new
        {
            v.Id, v.ProjectId, v.Name, v.Description, v.SizeGb, v.VolumeType, v.AvailabilityZone,
            Multiattach = v.Multiattach ? 1 : 0, Bootable = v.Bootable ? 1 : 0, v.ImageId, v.SourceManifestId,
            Metadata = JsonSerializer.Serialize(v.Metadata), Tags = JsonSerializer.Serialize(v.Tags), Now = now,
            Node = node.Value.Name,
        }).ToList();
        if (rows.Count == 0) return;
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO volumes (id, project_id, name, description, size_gb, volume_type, availability_zone, status,
                                 multiattach, bootable, image_id, source_manifest_id, metadata, tags, created_at, updated_at, node)
            VALUES (@Id, @ProjectId, @Name, @Description, @SizeGb, @VolumeType, @AvailabilityZone, 'creating',
                    @Multiattach, @Bootable, @ImageId, @SourceManifestId, @Metadata, @Tags, @Now, @Now, @Node)
            """,
            rows, write.Transaction, cancellationToken: ct));
    }

    /// <summary>
    /// Finishes creation: volumes still <c>creating</c> become <c>in-use</c> if attached, else <c>available</c>, and
    /// no longer hold their source manifest (their files are written). Idempotent, so a resumed job may run it again.
    /// </summary>
    public Task CompleteCreationAsync(WriteScope write, IReadOnlyCollection<string> ids, CancellationToken ct) =>
        ids.Count == 0 ? Task.CompletedTask : write.Connection.ExecuteAsync(new CommandDefinition(
            $"""
            UPDATE volumes SET status = {SettledStatus}, source_manifest_id = NULL, updated_at = @now
            WHERE id IN @ids AND status = 'creating'
            """,
            new { ids, now = NowMs }, write.Transaction, cancellationToken: ct));

    /// <summary>
    /// Volumes whose creation failed: <c>error</c>, their source manifest no longer held, and no file: whatever their
    /// job wrote is doomed in the same transaction (a failed creation writes no disk).
    /// </summary>
    public async Task FailCreationAsync(WriteScope write, IReadOnlyCollection<string> ids, CancellationToken ct)
    {
        if (ids.Count == 0) return;
        var now = NowMs;
        var failed = (await write.Connection.QueryAsync<string>(new CommandDefinition(
            """
            UPDATE volumes SET status = 'error', source_manifest_id = NULL, updated_at = @now
            WHERE id IN @ids AND status = 'creating'
            RETURNING id
            """,
            new { ids, now }, write.Transaction, cancellationToken: ct))).AsList();
        await Data.DataJanitor.DoomVolumeFilesAsync(write, failed, now, ct);
    }

    /// <summary>Moves volumes to <paramref name="status"/>, only from one of <paramref name="from"/>.</summary>
    public async Task<int> SetStatusAsync(WriteScope write, IReadOnlyCollection<string> ids, string status,
        IReadOnlyCollection<string> from, CancellationToken ct) =>
        ids.Count == 0 ? 0 : await write.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE volumes SET status = @status, updated_at = @now WHERE id IN @ids AND status IN @from",
            new { ids, status, from, now = NowMs }, write.Transaction, cancellationToken: ct));

    /// <summary>After attachments changed: a volume is in-use while attached anywhere, else available.</summary>
    public Task SettleAsync(WriteScope write, IReadOnlyCollection<string> ids, CancellationToken ct) =>
        ids.Count == 0 ? Task.CompletedTask : write.Connection.ExecuteAsync(new CommandDefinition(
            $"UPDATE volumes SET status = {SettledStatus}, updated_at = @now WHERE id IN @ids",
            new { ids, now = NowMs }, write.Transaction, cancellationToken: ct));

    /// <summary>
    /// Removes volumes for good; their files go once the transaction has committed (a durable mark the data janitor
    /// serves, so a crash in between loses nothing). Their attachments must already be gone.
    /// </summary>
    public async Task DeleteAsync(WriteScope write, IReadOnlyCollection<string> ids, CancellationToken ct)
    {
        if (ids.Count == 0) return;
        // Doomed first: the mark reads the node whose disk holds each file from the row.
        await Data.DataJanitor.DoomVolumeFilesAsync(write, ids, NowMs, ct);
        await write.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM volumes WHERE id IN @ids",
            new { ids }, write.Transaction, cancellationToken: ct));
    }

    private const string SelectOne = $"SELECT {Columns} FROM volumes WHERE id = @volumeId AND project_id = @projectId";

    public Task<VolumeRow?> GetAsync(string projectId, string volumeId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<VolumeRow>(SelectOne, new { volumeId, projectId }, ct);

    public Task<VolumeRow?> GetAsync(WriteScope tx, string projectId, string volumeId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<VolumeRow>(SelectOne, new { volumeId, projectId }, ct);

    private const string SelectAttachmentsOfVolumes =
        $"SELECT {AttachmentColumns} FROM volume_attachments WHERE volume_id IN @volumeIds ORDER BY attached_at, server_id";

    private const string SelectAttachmentsOfServers =
        $"SELECT {AttachmentColumns} FROM volume_attachments WHERE server_id IN @serverIds ORDER BY device";

    /// <summary>Where the volumes are attached, oldest attachment first.</summary>
    public async Task<List<AttachmentRow>> GetAttachmentsAsync(IReadOnlyCollection<string> volumeIds, CancellationToken ct) =>
        volumeIds.Count == 0 ? [] : await db.QueryAsync<AttachmentRow>(SelectAttachmentsOfVolumes, new { volumeIds }, ct);

    public async Task<List<AttachmentRow>> GetAttachmentsAsync(WriteScope tx, IReadOnlyCollection<string> volumeIds, CancellationToken ct) =>
        volumeIds.Count == 0 ? [] : await tx.QueryAsync<AttachmentRow>(SelectAttachmentsOfVolumes, new { volumeIds }, ct);

    /// <summary>The disks attached to the servers, in device order.</summary>
    public async Task<List<AttachmentRow>> GetAttachmentsOfServersAsync(IReadOnlyCollection<string> serverIds, CancellationToken ct) =>
        serverIds.Count == 0 ? [] : await db.QueryAsync<AttachmentRow>(SelectAttachmentsOfServers, new { serverIds }, ct);

    public async Task<List<AttachmentRow>> GetAttachmentsOfServersAsync(WriteScope tx, IReadOnlyCollection<string> serverIds, CancellationToken ct) =>
        serverIds.Count == 0 ? [] : await tx.QueryAsync<AttachmentRow>(SelectAttachmentsOfServers, new { serverIds }, ct);

    /// <summary>Names of the project's volumes among <paramref name="volumeIds"/> that are not being deleted, by id.</summary>
    public async Task<IReadOnlyDictionary<string, string>> GetNamesAsync(WriteScope tx, string projectId, IReadOnlyCollection<string> volumeIds,
        CancellationToken ct) =>
        (await tx.QueryAsync<(string Id, string Name)>(
            "SELECT id, name FROM volumes WHERE id IN @volumeIds AND project_id = @projectId AND status <> 'deleting'", new { volumeIds, projectId }, ct))
        .ToDictionary(r => r.Id, r => r.Name, StringComparer.Ordinal);

    /// <summary>The manifests volumes are being restored from (garbage collection keeps them): a statement to union with the other stores'.</summary>
    public const string LiveManifestsSql = "SELECT source_manifest_id FROM volumes WHERE source_manifest_id IS NOT NULL";

    /// <summary>The volumes among <paramref name="volumeIds"/> still <c>creating</c> (their files are not written yet).</summary>
    public async Task<IReadOnlyList<VolumeRow>> GetCreatingAsync(IReadOnlyCollection<string> volumeIds, CancellationToken ct) =>
        await db.QueryAsync<VolumeRow>($"SELECT {Columns} FROM volumes WHERE id IN @volumeIds AND status = 'creating' ORDER BY id", new { volumeIds }, ct);

    /// <summary>Records attachments (a server's new disks, or a disk being attached).</summary>
    public Task AttachAsync(WriteScope tx, IEnumerable<NewAttachment> attachments, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            INSERT INTO volume_attachments (volume_id, server_id, device, boot_index, delete_on_termination, attached_at)
            VALUES (@VolumeId, @ServerId, @Device, @BootIndex, @deleteOnTermination, @AttachedAt)
            """,
            attachments.Select(a => new { a.VolumeId, a.ServerId, a.Device, a.BootIndex, deleteOnTermination = a.DeleteOnTermination ? 1 : 0, a.AttachedAt }),
            ct);

    public Task DetachAsync(WriteScope tx, string volumeId, string serverId, CancellationToken ct) =>
        tx.ExecuteAsync("DELETE FROM volume_attachments WHERE volume_id = @volumeId AND server_id = @serverId", new { volumeId, serverId }, ct);

    /// <summary>Detaches every disk of the servers; returns what was attached.</summary>
    public async Task<List<AttachmentRow>> DetachServersAsync(WriteScope tx, IReadOnlyCollection<string> serverIds, CancellationToken ct)
    {
        var attachments = await GetAttachmentsOfServersAsync(tx, serverIds, ct);
        if (serverIds.Count > 0) await tx.ExecuteAsync("DELETE FROM volume_attachments WHERE server_id IN @serverIds", new { serverIds }, ct);
        return attachments;
    }

    private const string SelectSystemDisk =
        $"SELECT {Columns} FROM volumes WHERE id IN (SELECT volume_id FROM volume_attachments WHERE server_id = @serverId AND boot_index = 0)";

    /// <summary>The server's system disk (boot index 0), or null.</summary>
    public Task<VolumeRow?> GetSystemDiskAsync(string serverId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<VolumeRow>(SelectSystemDisk, new { serverId }, ct);

    public Task<VolumeRow?> GetSystemDiskAsync(WriteScope tx, string serverId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<VolumeRow>(SelectSystemDisk, new { serverId }, ct);

    /// <summary>
    /// Names the manifest the server's system disk is to be restored from (null: none any more); the column keeps that
    /// manifest alive for the garbage collector until the restore is written.
    /// </summary>
    public Task SetSystemDiskSourceAsync(WriteScope tx, string serverId, string? manifestId, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            UPDATE volumes SET source_manifest_id = @manifestId
            WHERE id IN (SELECT volume_id FROM volume_attachments WHERE server_id = @serverId AND boot_index = 0)
            """, new { manifestId, serverId }, ct);

    /// <summary>The server's system disk now holds <paramref name="imageId"/>'s content (restored from its source).</summary>
    public Task SetSystemDiskImageAsync(WriteScope tx, string serverId, string imageId, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            UPDATE volumes SET image_id = @imageId, source_manifest_id = NULL, updated_at = @now
            WHERE id IN (SELECT volume_id FROM volume_attachments WHERE server_id = @serverId AND boot_index = 0)
            """, new { imageId, serverId, now = NowMs }, ct);

    /// <summary>How many disks attached to the server are shared, system and dedicated (DSS) disks.</summary>
    public Task<Backups.DiskCounts> CountDisksOfServerAsync(WriteScope tx, string serverId, CancellationToken ct) =>
        tx.QuerySingleAsync<Backups.DiskCounts>(
            """
            SELECT COALESCE(SUM(CASE WHEN v.multiattach = 1 THEN 1 ELSE 0 END), 0) AS Shared,
                   COALESCE(SUM(CASE WHEN a.boot_index = 0 THEN 1 ELSE 0 END), 0) AS System,
                   COALESCE(SUM(CASE WHEN v.volume_type = 'DSS' THEN 1 ELSE 0 END), 0) AS Dedicated
            FROM volume_attachments a JOIN volumes v ON v.id = a.volume_id WHERE a.server_id = @serverId
            """, new { serverId }, ct);

    /// <summary>The block devices of a server (or one of them): volume, device, boot index and size, in device order.</summary>
    public async Task<List<(string VolumeId, string Device, long? BootIndex, long SizeGb)>> GetBlockDevicesAsync(string serverId,
        string? volumeId, CancellationToken ct) =>
        await db.QueryAsync<(string VolumeId, string Device, long? BootIndex, long SizeGb)>(
            $"""
            SELECT a.volume_id, a.device, a.boot_index, v.size_gb
            FROM volume_attachments a JOIN volumes v ON v.id = a.volume_id
            WHERE a.server_id = @serverId{(volumeId is null ? "" : " AND a.volume_id = @volumeId")}
            ORDER BY a.device
            """, new { serverId, volumeId }, ct);

    /// <summary>A page of the project's volumes under <paramref name="filter"/>, newest first, with how many match in all.</summary>
    public async Task<(List<VolumeRow> Page, long Total)> ListAsync(string projectId, VolumeFilter filter, CancellationToken ct)
    {
        var where = "project_id = @projectId";
        // A substring in any ASCII case, as SQLite's LIKE matches (PostgreSQL's LIKE is case-sensitive).
        if (!string.IsNullOrEmpty(filter.NameContains)) where += " AND LOWER(name) LIKE LOWER(@namePattern)";
        if (!string.IsNullOrEmpty(filter.Status)) where += " AND status = @Status";
        if (!string.IsNullOrEmpty(filter.AvailabilityZone)) where += " AND availability_zone = @AvailabilityZone";
        if (!string.IsNullOrEmpty(filter.Id)) where += " AND id = @Id";
        if (filter.Multiattach is not null) where += " AND multiattach = @shared";
        if (!string.IsNullOrEmpty(filter.ServerId)) where += " AND id IN (SELECT volume_id FROM volume_attachments WHERE server_id = @ServerId)";
        var args = new
        {
            projectId, namePattern = $"%{filter.NameContains}%", filter.Status, filter.AvailabilityZone, filter.Id, filter.ServerId,
            shared = filter.Multiattach == true ? 1 : 0, take = filter.Limit, skip = filter.Offset,
        };
        var total = await db.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM volumes WHERE {where}", args, ct);
        var rows = await db.QueryAsync<VolumeRow>(
            $"SELECT {Columns} FROM volumes WHERE {where} ORDER BY created_at DESC, id LIMIT @take OFFSET @skip", args, ct);
        return (rows, total);
    }

    /// <summary>Renames or describes a volume (null: unchanged).</summary>
    public Task UpdateAsync(WriteScope tx, string projectId, string volumeId, string? name, string? description, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            UPDATE volumes SET name = COALESCE(@name, name), description = COALESCE(@description, description), updated_at = @now
            WHERE id = @volumeId AND project_id = @projectId
            """, new { name, description, now = NowMs, volumeId, projectId }, ct);

    /// <summary>Replaces a volume's tags (a JSON object).</summary>
    public Task SetTagsAsync(WriteScope tx, string projectId, string volumeId, string tags, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE volumes SET tags = @tags, updated_at = @now WHERE id = @volumeId AND project_id = @projectId",
            new { tags, now = NowMs, volumeId, projectId }, ct);

    /// <summary>An expansion finished: the volume has <paramref name="sizeGb"/> and settles (in-use if attached, else available).</summary>
    public Task CompleteExtendAsync(WriteScope tx, string volumeId, long sizeGb, CancellationToken ct) =>
        tx.ExecuteAsync(
            $"UPDATE volumes SET size_gb = @sizeGb, status = {SettledStatus}, updated_at = @now WHERE id = @volumeId AND status = 'extending'",
            new { volumeId, sizeGb, now = NowMs }, ct);

    /// <summary>Volumes that <paramref name="from"/> held (a restore or expansion that ended) settle again.</summary>
    public Task SettleFromAsync(WriteScope tx, IReadOnlyCollection<string> ids, string from, CancellationToken ct) =>
        ids.Count == 0 ? Task.CompletedTask : tx.ExecuteAsync(
            $"UPDATE volumes SET status = {SettledStatus}, updated_at = @now WHERE id IN @ids AND status = @from",
            new { ids, from, now = NowMs }, ct);

    private const string SettledStatus =
        "CASE WHEN EXISTS (SELECT 1 FROM volume_attachments a WHERE a.volume_id = volumes.id) THEN 'in-use' ELSE 'available' END";
}

/// <summary>The list filters of <c>GET /v2/{project_id}/cloudvolumes/detail</c>, parsed at the edge.</summary>
public sealed record VolumeFilter
{
    public string? NameContains { get; init; }
    public string? Status { get; init; }
    public string? AvailabilityZone { get; init; }
    public string? Id { get; init; }
    public string? ServerId { get; init; }
    public bool? Multiattach { get; init; }
    public int Offset { get; init; }
    public int Limit { get; init; } = 1000;
}

/// <summary>A disk attached to a server at <see cref="Device"/>; <see cref="BootIndex"/> 0 is the system disk.</summary>
public sealed record NewAttachment(string VolumeId, string ServerId, string Device, long? BootIndex, bool DeleteOnTermination, long AttachedAt);
