using System.Data.Common;
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

/// <summary>
/// The one place where volumes come into being and disappear, whoever asks (EVS, or ECS for a server's disks). A volume
/// is a row and a sparse file of the data plane: the row is written with the request (with the manifest the disk is
/// restored from), the creating job's <c>Work</c> makes the file (<see cref="Data.DiskFiles"/>), and a deleted row
/// leaves a durable mark that has the <see cref="Data.DataJanitor"/> remove the file after the commit.
/// </summary>
public sealed class Volumes(TimeProvider time)
{
    public const string Creating = "creating";
    public const string Available = "available";
    public const string InUse = "in-use";
    public const string Attaching = "attaching";
    public const string Detaching = "detaching";
    public const string Deleting = "deleting";
    public const string Error = "error";

    internal const string Columns = "id AS Id, project_id AS ProjectId, name AS Name, description AS Description, " +
        "size_gb AS SizeGb, volume_type AS VolumeType, availability_zone AS AvailabilityZone, status AS Status, " +
        "multiattach AS Multiattach, bootable AS Bootable, image_id AS ImageId, metadata AS Metadata, tags AS Tags, " +
        "created_at AS CreatedAt, updated_at AS UpdatedAt";

    internal const string AttachmentColumns = "volume_id AS VolumeId, server_id AS ServerId, device AS Device, " +
        "boot_index AS BootIndex, delete_on_termination AS DeleteOnTermination, attached_at AS AttachedAt";

    private long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Writes new volumes in the <c>creating</c> state; a job makes them usable.</summary>
    public async Task CreateAsync(WriteScope write, IEnumerable<NewVolume> volumes, CancellationToken ct)
    {
        var now = NowMs;
        var rows = volumes.Select(v => new
        {
            v.Id, v.ProjectId, v.Name, v.Description, v.SizeGb, v.VolumeType, v.AvailabilityZone,
            Multiattach = v.Multiattach ? 1 : 0, Bootable = v.Bootable ? 1 : 0, v.ImageId, v.SourceManifestId,
            Metadata = JsonSerializer.Serialize(v.Metadata), Tags = JsonSerializer.Serialize(v.Tags), Now = now,
        }).ToList();
        if (rows.Count == 0) return;
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO volumes (id, project_id, name, description, size_gb, volume_type, availability_zone, status,
                                 multiattach, bootable, image_id, source_manifest_id, metadata, tags, created_at, updated_at)
            VALUES (@Id, @ProjectId, @Name, @Description, @SizeGb, @VolumeType, @AvailabilityZone, 'creating',
                    @Multiattach, @Bootable, @ImageId, @SourceManifestId, @Metadata, @Tags, @Now, @Now)
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
        await write.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM volumes WHERE id IN @ids",
            new { ids }, write.Transaction, cancellationToken: ct));
        await Data.DataJanitor.DoomVolumeFilesAsync(write, ids, NowMs, ct);
    }

    public static Task<VolumeRow?> FindAsync(DbConnection connection, DbTransaction? transaction, string projectId,
        string volumeId, CancellationToken ct) =>
        connection.QuerySingleOrDefaultAsync<VolumeRow>(new CommandDefinition(
            $"SELECT {Columns} FROM volumes WHERE id = @volumeId AND project_id = @projectId",
            new { volumeId, projectId }, transaction, cancellationToken: ct));

    public static async Task<List<AttachmentRow>> AttachmentsOfVolumesAsync(DbConnection connection, DbTransaction? transaction,
        IReadOnlyCollection<string> volumeIds, CancellationToken ct) =>
        volumeIds.Count == 0 ? [] : (await connection.QueryAsync<AttachmentRow>(new CommandDefinition(
            $"SELECT {AttachmentColumns} FROM volume_attachments WHERE volume_id IN @volumeIds ORDER BY attached_at, server_id",
            new { volumeIds }, transaction, cancellationToken: ct))).AsList();

    private const string SettledStatus =
        "CASE WHEN EXISTS (SELECT 1 FROM volume_attachments a WHERE a.volume_id = volumes.id) THEN 'in-use' ELSE 'available' END";
}
