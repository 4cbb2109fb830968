using System.Data.Common;
using Dapper;
using Ims.DataPlane;
using Ims.Service.Data;
using Ims.Service.Ecs;
using Ims.Service.Http;
using Ims.Service.Storage;
using DataPlaneStore = Ims.DataPlane.DataPlane;

namespace Ims.Service.Backups;

/// <summary>Why a server cannot be backed up right now.</summary>
public enum ServerProblem
{
    None,
    /// <summary>No such server in the caller's project (or it is deleted): answered like a missing resource.</summary>
    NotFound,
    /// <summary>The server is building, in error, or otherwise not ACTIVE/SHUTOFF.</summary>
    BadStatus,
    /// <summary>Another job (a backup, an image, a power action) holds the server, or one of its disks is moving.</summary>
    Busy,
    /// <summary>The server has no attached disk to capture.</summary>
    NoVolumes,
}

/// <summary>The facts about a server that a backup records, and whether it can be backed up now.</summary>
public sealed record ServerCheck
{
    public ServerProblem Problem { get; init; }
    public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    public string Status { get; init; } = "";
    public string? TaskState { get; init; }
    public string AvailabilityZone { get; init; } = "";
    public string FlavorId { get; init; } = "";
    public string ImageId { get; init; } = "";
    public string OsType { get; init; } = "";
    public string? SanPolicy { get; init; }
    public string EnterpriseProjectId { get; init; } = "0";
    public long VolumeCount { get; init; }
    public long DisksInTransit { get; init; }
    public long TotalSizeGb { get; init; }
    /// <summary>An attached shared (multiattach) disk, if any: CSBS refuses those, CBR captures them.</summary>
    public string? SharedVolumeId { get; init; }

    public bool Ok => Problem == ServerProblem.None;
}

/// <summary>What a new backup belongs to and how it is named.</summary>
public sealed record BackupStart
{
    public required string BackupId { get; init; }
    public required string ProjectId { get; init; }
    /// <summary><c>CBR</c> or <c>CSBS</c>.</summary>
    public required string Service { get; init; }
    public required string CheckpointId { get; init; }
    public string? VaultId { get; init; }
    public required string ServerId { get; init; }
    public string Name { get; init; } = "";
    public string Description { get; init; } = "";
    public bool Incremental { get; init; }
}

/// <summary>A new checkpoint (CBR restore point or CSBS backup record).</summary>
public sealed record CheckpointStart
{
    public required string CheckpointId { get; init; }
    public required string ProjectId { get; init; }
    public required string Service { get; init; }
    public string? VaultId { get; init; }
    public string Name { get; init; } = "";
    public string Description { get; init; } = "";
    public bool Incremental { get; init; }
}

/// <summary>
/// What a capture made, between a step's work and its commit: the data plane's lease on the new manifests (none when
/// nothing was left to capture) and which backup names which disk. Disposing it lets the manifests go; only after their
/// records are committed (or abandoned), and never held past the step: a crash just makes the job capture again, and the
/// lost capture's manifests are garbage.
/// </summary>
public sealed class CapturedBytes(IManifestLease? lease, IReadOnlyList<(string BackupId, string VolumeId)> disks) : IDisposable
{
    public static CapturedBytes Nothing => new(null, []);

    public IManifestLease? Lease { get; } = lease;

    public IReadOnlyList<(string BackupId, string VolumeId)> Disks { get; } = disks;

    public void Dispose() => Lease?.Dispose();
}

/// <summary>
/// The one place where a server becomes backup records: CBR checkpoints, CSBS protect calls and whole images
/// taken from a server all go through here, always inside the caller's transaction.
/// <para>
/// A backup is started synchronously (<see cref="BeginAsync"/>: the row exists at once, status <c>protecting</c>, and
/// the server is marked busy in <c>servers.task_state</c>), then captured by a job step (<see cref="CaptureAsync"/>:
/// one <c>backup_volumes</c> row per attached disk) and finished (<see cref="CompleteAsync"/> or <see cref="AbortAsync"/>,
/// both of which release the server). The bytes follow in a step of their own: <see cref="CaptureBytesAsync"/> (its
/// work) captures every disk of the backups at one instant, <see cref="RecordBytesAsync"/> (its commit) stores the
/// manifest ids in <c>backup_volumes</c>, and the data plane's lease on the new manifests is let go only once that
/// transaction ended. A job resumed after a crash simply captures again, at a new instant. The steps themselves are
/// defined once, in <see cref="BackupSteps"/>.
/// </para>
/// </summary>
public sealed class BackupCapture(TimeProvider time, Database db, DataPlaneStore store, DiskFiles files)
{
    /// <summary>The <c>servers.task_state</c> a backup holds while it works on a server.</summary>
    public const string TaskState = "backing_up";

    private const string ServerResourceType = "OS::Nova::Server";

    private long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Looks a server up in the caller's project and says whether it can be backed up now.</summary>
    public static async Task<ServerCheck> CheckServerAsync(DbConnection conn, DbTransaction? tx, string projectId, string serverId,
        CancellationToken ct)
    {
        var server = await conn.QuerySingleOrDefaultAsync<ServerCheck>(new CommandDefinition(
            """
            SELECT s.id, s.name, s.status, s.task_state AS TaskState, s.availability_zone AS AvailabilityZone,
                   s.flavor_id AS FlavorId, s.image_id AS ImageId, s.os_type AS OsType, s.san_policy AS SanPolicy,
                   s.enterprise_project_id AS EnterpriseProjectId,
                   (SELECT COUNT(*) FROM volume_attachments a WHERE a.server_id = s.id) AS VolumeCount,
                   (SELECT COALESCE(SUM(v.size_gb), 0) FROM volume_attachments a JOIN volumes v ON v.id = a.volume_id
                     WHERE a.server_id = s.id) AS TotalSizeGb,
                   (SELECT MIN(v.id) FROM volume_attachments a JOIN volumes v ON v.id = a.volume_id
                     WHERE a.server_id = s.id AND v.multiattach = 1) AS SharedVolumeId,
                   (SELECT COUNT(*) FROM volume_attachments a JOIN volumes v ON v.id = a.volume_id
                     WHERE a.server_id = s.id AND v.status IN ('attaching', 'detaching')) AS DisksInTransit
            FROM servers s
            WHERE s.id = @serverId AND s.project_id = @projectId AND s.status <> 'DELETED'
            """,
            new { serverId, projectId }, tx, cancellationToken: ct));
        if (server is null) return new ServerCheck { Problem = ServerProblem.NotFound, Id = serverId };
        var problem = server.Status is not ("ACTIVE" or "SHUTOFF") ? ServerProblem.BadStatus
            : server.TaskState is not null || server.DisksInTransit > 0 ? ServerProblem.Busy
            : server.VolumeCount == 0 ? ServerProblem.NoVolumes
            : ServerProblem.None;
        return server with { Problem = problem };
    }

    public async Task StartCheckpointAsync(WriteScope write, CheckpointStart start, CancellationToken ct)
    {
        var now = NowMs;
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO checkpoints (id, project_id, service, vault_id, name, description, status, incremental, created_at, updated_at)
            VALUES (@CheckpointId, @ProjectId, @Service, @VaultId, @Name, @Description, 'protecting', @incremental, @now, @now)
            """,
            new
            {
                start.CheckpointId,
                start.ProjectId,
                start.Service,
                start.VaultId,
                start.Name,
                start.Description,
                incremental = start.Incremental ? 1 : 0,
                now
            },
            write.Transaction, cancellationToken: ct));
    }

    /// <summary>
    /// Starts a checkpoint holding one backup of one server, as a CSBS protect call does and as a whole image taken
    /// from a server will (into the CBR vault <paramref name="vaultId"/> when given). Returns null when the server
    /// cannot be backed up now; the caller then gives up its transaction without committing. Finish the backup with
    /// <see cref="CaptureAsync"/> and <see cref="FinishCheckpointAsync"/> from a job.
    /// </summary>
    public async Task<(string CheckpointId, string BackupId)?> StartServerBackupAsync(WriteScope write, string service, string projectId,
        string serverId, string? vaultId, string name, string description, bool incremental, CancellationToken ct)
    {
        if (!(await CheckServerAsync(write.Connection, write.Transaction, projectId, serverId, ct)).Ok) return null;
        var checkpointId = Ids.NewUuid();
        var backupId = Ids.NewUuid();
        await StartCheckpointAsync(write, new CheckpointStart
        {
            CheckpointId = checkpointId,
            ProjectId = projectId,
            Service = service,
            VaultId = vaultId,
            Name = name,
            Description = description,
            Incremental = incremental,
        }, ct);
        var started = await BeginAsync(write, new BackupStart
        {
            BackupId = backupId,
            ProjectId = projectId,
            Service = service,
            CheckpointId = checkpointId,
            VaultId = vaultId,
            ServerId = serverId,
            Name = name,
            Description = description,
            Incremental = incremental,
        }, ct);
        return started ? (checkpointId, backupId) : null;
    }

    /// <summary>
    /// Claims the server (sets its task state) and writes the backup row in <c>protecting</c>. Returns false, writing
    /// nothing, when the server can no longer be backed up (gone, wrong status, or claimed by another job meanwhile).
    /// </summary>
    public async Task<bool> BeginAsync(WriteScope write, BackupStart start, CancellationToken ct)
    {
        var now = NowMs;
        var server = await CheckServerAsync(write.Connection, write.Transaction, start.ProjectId, start.ServerId, ct);
        if (!server.Ok) return false;
        var claim = await ServerGuards.TryClaimAsync(write, start.ProjectId, start.ServerId, TaskState, now, ct);
        if (!claim.Claimed) return false;

        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO backups (id, project_id, service, checkpoint_id, vault_id, resource_id, resource_type, resource_name,
                                 resource_az, resource_size, name, description, status, incremental, os_type, image_id,
                                 san_policy, enterprise_project_id, created_at, updated_at)
            VALUES (@BackupId, @ProjectId, @Service, @CheckpointId, @VaultId, @ServerId, @resourceType, @resourceName,
                    @resourceAz, @resourceSize, @Name, @Description, 'protecting', @incremental, @osType, @imageId,
                    @sanPolicy, @enterpriseProjectId, @now, @now)
            """,
            new
            {
                start.BackupId,
                start.ProjectId,
                start.Service,
                start.CheckpointId,
                start.VaultId,
                start.ServerId,
                resourceType = ServerResourceType,
                resourceName = server.Name,
                resourceAz = server.AvailabilityZone,
                resourceSize = server.TotalSizeGb,
                start.Name,
                start.Description,
                incremental = start.Incremental ? 1 : 0,
                osType = server.OsType,
                imageId = server.ImageId,
                sanPolicy = server.SanPolicy,
                enterpriseProjectId = server.EnterpriseProjectId,
                now,
            },
            write.Transaction, cancellationToken: ct));
        return true;
    }

    /// <summary>
    /// Records what the backup holds of each disk attached to the server now, less <paramref name="excludeVolumeIds"/>,
    /// and refreshes the server facts on the backup row. Idempotent: a resumed job simply captures again. Returns false
    /// when the server is gone or nothing is left to capture.
    /// </summary>
    public async Task<bool> CaptureAsync(WriteScope write, string backupId, IReadOnlyCollection<string> excludeVolumeIds,
        CancellationToken ct)
    {
        var backup = await write.Connection.QuerySingleOrDefaultAsync<BackupRow>(new CommandDefinition(
            $"SELECT {BackupRecords.BackupColumns} FROM backups WHERE id = @backupId",
            new { backupId }, write.Transaction, cancellationToken: ct));
        if (backup is null) return false;
        var server = await CheckServerAsync(write.Connection, write.Transaction, backup.ProjectId, backup.ResourceId, ct);
        if (server.Problem == ServerProblem.NotFound) return false;

        await write.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM backup_volumes WHERE backup_id = @backupId", new { backupId }, write.Transaction, cancellationToken: ct));
        var captured = await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO backup_volumes (backup_id, volume_id, name, size_gb, volume_type, device, boot_index, multiattach, bootable)
            SELECT @backupId, v.id, v.name, v.size_gb, v.volume_type, a.device, a.boot_index, v.multiattach, v.bootable
            FROM volume_attachments a JOIN volumes v ON v.id = a.volume_id
            WHERE a.server_id = @serverId AND v.project_id = @projectId AND v.id NOT IN @excluded
            """,
            new { backupId, serverId = backup.ResourceId, projectId = backup.ProjectId, excluded = excludeVolumeIds.ToArray() },
            write.Transaction, cancellationToken: ct));
        if (captured == 0) return false;

        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE backups SET
                resource_size = (SELECT COALESCE(SUM(size_gb), 0) FROM backup_volumes WHERE backup_id = @backupId),
                resource_name = @name, resource_az = @az, os_type = @osType, image_id = @imageId, san_policy = @sanPolicy,
                updated_at = @now
            WHERE id = @backupId
            """,
            new
            {
                backupId,
                name = server.Name,
                az = server.AvailabilityZone,
                osType = server.OsType,
                imageId = server.ImageId,
                sanPolicy = server.SanPolicy,
                now = NowMs
            },
            write.Transaction, cancellationToken: ct));
        return true;
    }

    /// <summary>
    /// Captures the bytes of every disk recorded in <c>backup_volumes</c> for <paramref name="backupIds"/> (those still
    /// <c>protecting</c>) at one instant. Runs outside any transaction; hand the result to <see cref="RecordBytesAsync"/>
    /// and dispose it once that transaction has ended (the job engine does both for a step's work).
    /// </summary>
    public async Task<CapturedBytes> CaptureBytesAsync(IReadOnlyCollection<string> backupIds, CancellationToken ct)
    {
        if (backupIds.Count == 0) return CapturedBytes.Nothing;
        List<DiskRow> disks;
        await using (var connection = await db.OpenAsync(ct))
        {
            disks = (await connection.QueryAsync<DiskRow>(new CommandDefinition(
                """
                SELECT bv.backup_id AS BackupId, bv.volume_id AS VolumeId, v.size_gb AS SizeGb
                FROM backup_volumes bv JOIN backups b ON b.id = bv.backup_id JOIN volumes v ON v.id = bv.volume_id
                WHERE bv.backup_id IN @backupIds AND b.status = 'protecting'
                ORDER BY bv.backup_id, bv.device
                """, new { backupIds }, cancellationToken: ct))).AsList();
        }
        if (disks.Count == 0) return CapturedBytes.Nothing;
        // A disk shared by two servers of one checkpoint is captured once and named by both backups.
        var volumes = disks.DistinctBy(d => d.VolumeId, StringComparer.Ordinal).ToList();
        foreach (var volume in volumes) await files.EnsureAsync(volume.VolumeId, volume.SizeGb * DiskFiles.BytesPerGb, ct);
        var lease = await store.CaptureAsync([.. volumes.Select(v => new DiskToCapture(v.VolumeId))], ct);
        return new CapturedBytes(lease, [.. disks.Select(d => (d.BackupId, d.VolumeId))]);
    }

    /// <summary>
    /// Records the manifests <see cref="CaptureBytesAsync"/> made in <c>backup_volumes</c>, inside the step's transaction.
    /// The manifests stay protected from garbage collection until <paramref name="captured"/> is disposed, after that
    /// transaction has committed.
    /// </summary>
    public async Task RecordBytesAsync(WriteScope write, CapturedBytes captured, CancellationToken ct)
    {
        if (captured.Lease is null) return; // nothing was left to capture
        var manifests = captured.Lease.Disks.ToDictionary(d => d.VolumeId, d => d.ManifestId, StringComparer.Ordinal);
        await write.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE backup_volumes SET manifest_id = @manifestId WHERE backup_id = @backupId AND volume_id = @volumeId",
            captured.Disks.Select(d => new { manifestId = manifests[d.VolumeId], backupId = d.BackupId, volumeId = d.VolumeId }),
            write.Transaction, cancellationToken: ct));
    }

    private sealed record DiskRow
    {
        public string BackupId { get; init; } = "";
        public string VolumeId { get; init; } = "";
        public long SizeGb { get; init; }
    }

    /// <summary>Marks a captured backup available and releases its server.</summary>
    public Task CompleteAsync(WriteScope write, string backupId, CancellationToken ct) =>
        FinishAsync(write, backupId, BackupStatus.Available, ct);

    /// <summary>Marks a backup failed and releases its server (a failing job must never leave the server busy).</summary>
    public Task AbortAsync(WriteScope write, string backupId, CancellationToken ct) =>
        FinishAsync(write, backupId, BackupStatus.Error, ct);

    /// <summary>Finishes every backup still protecting in a checkpoint, then the checkpoint itself.</summary>
    public async Task FinishCheckpointAsync(WriteScope write, string checkpointId, bool succeeded, CancellationToken ct)
    {
        var backupIds = await write.Connection.QueryAsync<string>(new CommandDefinition(
            "SELECT id FROM backups WHERE checkpoint_id = @checkpointId AND status = 'protecting'",
            new { checkpointId }, write.Transaction, cancellationToken: ct));
        foreach (var backupId in backupIds)
            await FinishAsync(write, backupId, succeeded ? BackupStatus.Available : BackupStatus.Error, ct);
        await write.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE checkpoints SET status = @status, updated_at = @now WHERE id = @checkpointId AND status = 'protecting'",
            new { checkpointId, status = succeeded ? BackupStatus.Available : BackupStatus.Error, now = NowMs },
            write.Transaction, cancellationToken: ct));
    }

    private async Task FinishAsync(WriteScope write, string backupId, string status, CancellationToken ct)
    {
        var now = NowMs;
        var serverId = await write.Connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            "SELECT resource_id FROM backups WHERE id = @backupId AND status = 'protecting'",
            new { backupId }, write.Transaction, cancellationToken: ct));
        if (serverId is null) return;
        await ServerGuards.ReleaseAsync(write, serverId, TaskState, now, ct);
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE backups SET status = @status, updated_at = @now,
                protected_at = CASE WHEN @status = 'available' THEN @now ELSE protected_at END
            WHERE id = @backupId
            """,
            new { backupId, status, now }, write.Transaction, cancellationToken: ct));
    }
}
