using Ims.Service.Storage;

namespace Ims.Service.Backups;

/// <summary>
/// The backups aggregate: <c>checkpoints</c>, <c>backups</c> and <c>backup_volumes</c>, shared by CBR, CSBS and IMS (whole
/// images). The only code that touches those tables.
/// </summary>
public sealed class BackupStore(Database db)
{
    /// <summary>The service (<c>CBR</c> or <c>CSBS</c>) a backup belongs to; null when there is no such backup.</summary>
    public Task<string?> GetServiceAsync(WriteScope tx, string? backupId, CancellationToken ct) =>
        backupId is null ? Task.FromResult<string?>(null)
            : tx.QuerySingleOrDefaultAsync<string>("SELECT service FROM backups WHERE id = @backupId", new { backupId }, ct);

    private const string SelectCheckpoint =
        $"SELECT {BackupRecords.CheckpointColumns} FROM checkpoints WHERE id = @checkpointId AND project_id = @projectId AND service = @service";

    private const string SelectBackup =
        $"SELECT {BackupRecords.BackupColumns} FROM backups WHERE id = @backupId AND project_id = @projectId AND service = @service";

    private const string SelectBackupsOfCheckpoint =
        $"SELECT {BackupRecords.BackupColumns} FROM backups WHERE checkpoint_id = @checkpointId ORDER BY created_at, id";

    /// <summary>A checkpoint of the project in the service's view (CBR restore point or CSBS backup record), or null.</summary>
    public Task<CheckpointRow?> GetCheckpointAsync(string projectId, string service, string checkpointId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<CheckpointRow>(SelectCheckpoint, new { checkpointId, projectId, service }, ct);

    public Task<CheckpointRow?> GetCheckpointAsync(WriteScope tx, string projectId, string service, string checkpointId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<CheckpointRow>(SelectCheckpoint, new { checkpointId, projectId, service }, ct);

    /// <summary>A backup of the project in the service's view, or null.</summary>
    public Task<BackupRow?> GetBackupAsync(string projectId, string service, string backupId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<BackupRow>(SelectBackup, new { backupId, projectId, service }, ct);

    public Task<BackupRow?> GetBackupAsync(WriteScope tx, string projectId, string service, string backupId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<BackupRow>(SelectBackup, new { backupId, projectId, service }, ct);

    /// <summary>The backups of a checkpoint, oldest first.</summary>
    public async Task<IReadOnlyList<BackupRow>> GetBackupsOfCheckpointAsync(string checkpointId, CancellationToken ct) =>
        await db.QueryAsync<BackupRow>(SelectBackupsOfCheckpoint, new { checkpointId }, ct);

    public async Task<IReadOnlyList<BackupRow>> GetBackupsOfCheckpointAsync(WriteScope tx, string checkpointId, CancellationToken ct) =>
        await tx.QueryAsync<BackupRow>(SelectBackupsOfCheckpoint, new { checkpointId }, ct);

    /// <summary>Ids of the project's backups in a vault.</summary>
    public async Task<IReadOnlyList<string>> GetBackupIdsOfVaultAsync(WriteScope tx, string projectId, string vaultId, CancellationToken ct) =>
        await tx.QueryAsync<string>("SELECT id FROM backups WHERE vault_id = @vaultId AND project_id = @projectId", new { vaultId, projectId }, ct);

    /// <summary>
    /// The available automatic backups (made by any policy) of a resource in the service, in one vault for CBR (null for
    /// CSBS): what a policy's retention chooses from.
    /// </summary>
    public async Task<IReadOnlyList<(string Id, long CreatedAt)>> GetAutomaticBackupsAsync(WriteScope tx, string service, string? vaultId,
        string resourceId, CancellationToken ct) =>
        await tx.QueryAsync<(string Id, long CreatedAt)>(
            $"""
            SELECT id, created_at FROM backups
            WHERE service = @service AND resource_id = @resourceId AND policy_id IS NOT NULL AND status = '{BackupStatus.Available}'
              AND {InVault("vault_id", vaultId)}
            """, new { service, vaultId, resourceId }, ct);

    /// <summary>
    /// How many backups of the resource in the vault (not failed) were taken after its last full one; null when it has
    /// no full backup yet. A policy's <c>full_backup_interval</c> counts these.
    /// </summary>
    public async Task<long?> CountSinceLastFullAsync(WriteScope tx, string service, string? vaultId, string resourceId, CancellationToken ct)
    {
        var args = new { service, vaultId, resourceId };
        var lastFull = await tx.ExecuteScalarAsync<long?>(
            $"""
            SELECT MAX(created_at) FROM backups
            WHERE service = @service AND resource_id = @resourceId AND incremental = 0 AND status <> '{BackupStatus.Error}'
              AND {InVault("vault_id", vaultId)}
            """, args, ct);
        if (lastFull is null) return null;
        return await tx.ExecuteScalarAsync<long>(
            $"""
            SELECT COUNT(*) FROM backups
            WHERE service = @service AND resource_id = @resourceId AND status <> '{BackupStatus.Error}' AND created_at > @lastFull
              AND {InVault("vault_id", vaultId)}
            """, new { service, vaultId, resourceId, lastFull }, ct);
    }

    // A null parameter has no type PostgreSQL can infer, so "no vault" is written into the statement instead.
    private static string InVault(string column, string? vaultId) => vaultId is null ? $"{column} IS NULL" : $"{column} = @vaultId";

    /// <summary>The captured disks of each backup, system disk first.</summary>
    public async Task<ILookup<string, BackupVolumeRow>> GetVolumesOfAsync(IReadOnlyCollection<string> backupIds, CancellationToken ct)
    {
        if (backupIds.Count == 0) return Array.Empty<BackupVolumeRow>().ToLookup(v => v.BackupId);
        var rows = await db.QueryAsync<BackupVolumeRow>(
            "SELECT backup_id AS BackupId, volume_id AS VolumeId, name, size_gb AS SizeGb, volume_type AS VolumeType, device, " +
            "boot_index AS BootIndex, multiattach, bootable FROM backup_volumes WHERE backup_id IN @backupIds", new { backupIds }, ct);
        return rows
            .OrderBy(v => v.BootIndex is null ? 1 : 0).ThenBy(v => v.BootIndex).ThenBy(v => v.Device, StringComparer.Ordinal)
            .ToLookup(v => v.BackupId);
    }

    /// <summary>
    /// A page of the project's backups in one service's view under <paramref name="filter"/>, newest first, with how many
    /// match in all (before the marker); null when the filter's marker names no backup of the project.
    /// </summary>
    public async Task<(IReadOnlyList<BackupRow> Page, long Count)?> ListAsync(BackupListFilter filter, CancellationToken ct)
    {
        var where = new SqlConditions("project_id = @projectId AND service = @service",
            new { projectId = filter.ProjectId, service = filter.Service, offset = filter.Offset, limit = filter.Limit });
        where.Equal("checkpoint_id", filter.CheckpointId);
        where.Equal("vault_id", filter.VaultId);
        where.Equal("resource_id", filter.ResourceId);
        where.Equal("resource_type", filter.ResourceType);
        where.Equal("resource_name", filter.ResourceName);
        where.Equal("resource_az", filter.ResourceAz);
        where.Equal("status", filter.Status);
        where.Equal("name", filter.Name);
        if (filter.Incremental is { } incremental) where.Add("incremental = @incremental", "incremental", incremental ? 1 : 0);
        if (filter.MatchesNothing) where.Add("1 = 0");

        await using var connection = await db.OpenAsync(ct);
        var count = await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection, new Dapper.CommandDefinition(
            $"SELECT COUNT(*) FROM backups WHERE {where}", where.Args, cancellationToken: ct));
        if (filter.Marker is { } marker)
        {
            var anchor = await GetBackupAsync(filter.ProjectId, filter.Service, marker, ct);
            if (anchor is null) return null;
            where.Add("(created_at < @markerTime OR (created_at = @markerTime AND id < @markerId))", "markerTime", anchor.CreatedAt);
            where.Args.Add("markerId", anchor.Id);
        }
        var page = await Dapper.SqlMapper.QueryAsync<BackupRow>(connection, new Dapper.CommandDefinition(
            $"SELECT {BackupRecords.BackupColumns} FROM backups WHERE {where} " +
            "ORDER BY created_at DESC, id DESC LIMIT @limit OFFSET @offset", where.Args, cancellationToken: ct));
        return (Dapper.SqlMapper.AsList(page), count);
    }

    /// <summary>Per resource: how many available backups of it the vault holds (a checkpoint's <c>backup_count</c>).</summary>
    public async Task<IReadOnlyDictionary<string, long>> CountAvailableByResourceAsync(string? vaultId, IReadOnlyCollection<string> resourceIds,
        CancellationToken ct) =>
        (await db.QueryAsync<(string ResourceId, long Count)>(CountAvailableByResource, new { vaultId, resourceIds }, ct))
            .ToDictionary(r => r.ResourceId, r => r.Count, StringComparer.Ordinal);

    public async Task<IReadOnlyDictionary<string, long>> CountAvailableByResourceAsync(WriteScope tx, string? vaultId,
        IReadOnlyCollection<string> resourceIds, CancellationToken ct) =>
        (await tx.QueryAsync<(string ResourceId, long Count)>(CountAvailableByResource, new { vaultId, resourceIds }, ct))
            .ToDictionary(r => r.ResourceId, r => r.Count, StringComparer.Ordinal);

    private const string CountAvailableByResource =
        """
        SELECT resource_id, COUNT(*) FROM backups
        WHERE vault_id = @vaultId AND service = 'CBR' AND status = 'available' AND resource_id IN @resourceIds
        GROUP BY resource_id
        """;

    /// <summary>Whether a job is still capturing any of the backups, or restoring from it (such backups cannot be deleted yet).</summary>
    public async Task<bool> AnyInJobAsync(WriteScope tx, IReadOnlyCollection<string> backupIds, CancellationToken ct) =>
        backupIds.Count > 0
        && await tx.ExecuteScalarAsync<long>(
            $"SELECT COUNT(*) FROM backups WHERE id IN @backupIds AND status IN ('{BackupStatus.Protecting}', '{BackupStatus.Restoring}')",
            new { backupIds }, ct) > 0;

    /// <summary>
    /// Deletes the backups of <paramref name="projectId"/> among <paramref name="backupIds"/> with their captured disks, and
    /// the checkpoints among <paramref name="checkpointIds"/> (default: those of the deleted backups) left without a backup.
    /// </summary>
    public async Task DeleteAsync(WriteScope tx, string projectId, IReadOnlyCollection<string> backupIds, CancellationToken ct,
        IReadOnlyCollection<string>? checkpointIds = null)
    {
        var args = new { projectId, backupIds };
        var emptied = new List<string>(checkpointIds ?? []);
        if (backupIds.Count > 0)
        {
            emptied.AddRange(await tx.QueryAsync<string>(
                "SELECT DISTINCT checkpoint_id FROM backups WHERE project_id = @projectId AND id IN @backupIds", args, ct));
            await tx.ExecuteAsync(
                """
                DELETE FROM backup_volumes
                WHERE backup_id IN (SELECT id FROM backups WHERE project_id = @projectId AND id IN @backupIds)
                """, args, ct);
            await tx.ExecuteAsync("DELETE FROM backups WHERE project_id = @projectId AND id IN @backupIds", args, ct);
        }
        if (emptied.Count == 0) return;
        await tx.ExecuteAsync(
            """
            DELETE FROM checkpoints
            WHERE project_id = @projectId AND id IN @emptied
              AND NOT EXISTS (SELECT 1 FROM backups b WHERE b.checkpoint_id = checkpoints.id)
            """, new { projectId, emptied = emptied.Distinct(StringComparer.Ordinal).ToArray() }, ct);
    }

    /// <summary>Deletes the project's checkpoints in a vault that hold no backup (before the vault goes).</summary>
    public Task DeleteEmptyCheckpointsOfVaultAsync(WriteScope tx, string projectId, string vaultId, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            DELETE FROM checkpoints WHERE vault_id = @vaultId AND project_id = @projectId
              AND NOT EXISTS (SELECT 1 FROM backups b WHERE b.checkpoint_id = checkpoints.id)
            """, new { vaultId, projectId }, ct);

    // ----- capture: a checkpoint and its backups from request to available (or error) ----------------------------

    public Task InsertCheckpointAsync(WriteScope tx, CheckpointStart start, long now, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            INSERT INTO checkpoints (id, project_id, service, vault_id, name, description, status, incremental, created_at, updated_at)
            VALUES (@CheckpointId, @ProjectId, @Service, @VaultId, @Name, @Description, 'protecting', @incremental, @now, @now)
            """,
            new { start.CheckpointId, start.ProjectId, start.Service, start.VaultId, start.Name, start.Description,
                  incremental = start.Incremental ? 1 : 0, now }, ct);

    /// <summary>Writes a backup of <paramref name="server"/> in <c>protecting</c>, with the server's facts as they are now.</summary>
    public Task InsertBackupAsync(WriteScope tx, BackupStart start, ServerCheck server, string resourceType, long now, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            INSERT INTO backups (id, project_id, service, checkpoint_id, vault_id, resource_id, resource_type, resource_name,
                                 resource_az, resource_size, name, description, status, incremental, os_type, image_id,
                                 san_policy, enterprise_project_id, created_at, updated_at, policy_id)
            VALUES (@BackupId, @ProjectId, @Service, @CheckpointId, @VaultId, @ServerId, @resourceType, @resourceName,
                    @resourceAz, @resourceSize, @Name, @Description, 'protecting', @incremental, @osType, @imageId,
                    @sanPolicy, @enterpriseProjectId, @now, @now, @PolicyId)
            """,
            new
            {
                start.BackupId, start.ProjectId, start.Service, start.CheckpointId, start.VaultId, start.ServerId, resourceType,
                resourceName = server.Name, resourceAz = server.AvailabilityZone, resourceSize = server.TotalSizeGb, start.Name,
                start.Description, incremental = start.Incremental ? 1 : 0, osType = server.OsType, imageId = server.ImageId,
                sanPolicy = server.SanPolicy, enterpriseProjectId = server.EnterpriseProjectId, now, start.PolicyId,
            }, ct);

    /// <summary>
    /// Records what the backup holds of each disk attached to its server now, less <paramref name="excludeVolumeIds"/>
    /// (a read of the volumes as they are), replacing what an earlier attempt recorded; returns how many disks.
    /// </summary>
    public async Task<int> RecordDisksAsync(WriteScope tx, BackupRow backup, IReadOnlyCollection<string> excludeVolumeIds, CancellationToken ct)
    {
        await tx.ExecuteAsync("DELETE FROM backup_volumes WHERE backup_id = @backupId", new { backupId = backup.Id }, ct);
        return await tx.ExecuteAsync(
            """
            INSERT INTO backup_volumes (backup_id, volume_id, name, size_gb, volume_type, device, boot_index, multiattach, bootable)
            SELECT @backupId, v.id, v.name, v.size_gb, v.volume_type, a.device, a.boot_index, v.multiattach, v.bootable
            FROM volume_attachments a JOIN volumes v ON v.id = a.volume_id
            WHERE a.server_id = @serverId AND v.project_id = @projectId AND v.id NOT IN @excluded
            """,
            new { backupId = backup.Id, serverId = backup.ResourceId, projectId = backup.ProjectId, excluded = excludeVolumeIds.ToArray() }, ct);
    }

    /// <summary>Writes a backup of one EVS disk (<c>OS::Cinder::Volume</c>) in <c>protecting</c>, with the disk's facts as they are now.</summary>
    public Task InsertDiskBackupAsync(WriteScope tx, BackupStart start, DiskBackupFacts disk, long now, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            INSERT INTO backups (id, project_id, service, checkpoint_id, vault_id, resource_id, resource_type, resource_name,
                                 resource_az, resource_size, name, description, status, incremental, os_type, image_id,
                                 san_policy, enterprise_project_id, created_at, updated_at, policy_id)
            VALUES (@BackupId, @ProjectId, @Service, @CheckpointId, @VaultId, @ServerId, 'OS::Cinder::Volume', @resourceName,
                    @resourceAz, @resourceSize, @Name, @Description, 'protecting', @incremental, NULL, NULL,
                    NULL, '0', @now, @now, @PolicyId)
            """,
            new
            {
                start.BackupId, start.ProjectId, start.Service, start.CheckpointId, start.VaultId, start.ServerId, resourceName = disk.Name,
                resourceAz = disk.AvailabilityZone, resourceSize = disk.SizeGb, start.Name, start.Description,
                incremental = start.Incremental ? 1 : 0, now, start.PolicyId,
            }, ct);

    /// <summary>
    /// Records what a disk backup holds: the disk itself as it is now (its device and boot index where it is attached, the
    /// oldest attachment of a shared disk), replacing what an earlier attempt recorded, and the backup's size; returns
    /// whether the disk still exists.
    /// </summary>
    public async Task<bool> RecordDiskAsync(WriteScope tx, BackupRow backup, long now, CancellationToken ct)
    {
        await tx.ExecuteAsync("DELETE FROM backup_volumes WHERE backup_id = @backupId", new { backupId = backup.Id }, ct);
        var recorded = await tx.ExecuteAsync(
            """
            INSERT INTO backup_volumes (backup_id, volume_id, name, size_gb, volume_type, device, boot_index, multiattach, bootable)
            SELECT @backupId, v.id, v.name, v.size_gb, v.volume_type,
                   COALESCE((SELECT a.device FROM volume_attachments a WHERE a.volume_id = v.id ORDER BY a.attached_at, a.server_id LIMIT 1), ''),
                   (SELECT a.boot_index FROM volume_attachments a WHERE a.volume_id = v.id ORDER BY a.attached_at, a.server_id LIMIT 1),
                   v.multiattach, v.bootable
            FROM volumes v WHERE v.id = @volumeId AND v.project_id = @projectId
            """,
            new { backupId = backup.Id, volumeId = backup.ResourceId, projectId = backup.ProjectId }, ct);
        if (recorded == 0) return false;
        await tx.ExecuteAsync(
            """
            UPDATE backups SET resource_size = (SELECT COALESCE(SUM(size_gb), 0) FROM backup_volumes WHERE backup_id = @backupId),
                   resource_name = (SELECT name FROM backup_volumes WHERE backup_id = @backupId), updated_at = @now
            WHERE id = @backupId
            """, new { backupId = backup.Id, now }, ct);
        return true;
    }

    /// <summary>Moves a backup between states (<c>available</c> ⇄ <c>restoring</c>); false when it was not in <paramref name="from"/>.</summary>
    public async Task<bool> MoveStatusAsync(WriteScope tx, string backupId, string from, string to, long now, CancellationToken ct) =>
        await tx.ExecuteAsync("UPDATE backups SET status = @to, updated_at = @now WHERE id = @backupId AND status = @from",
            new { backupId, from, to, now }, ct) == 1;

    /// <summary>Refreshes the server facts on a backup row and its size from the disks it recorded.</summary>
    public Task RefreshServerFactsAsync(WriteScope tx, string backupId, ServerCheck server, long now, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            UPDATE backups SET
                resource_size = (SELECT COALESCE(SUM(size_gb), 0) FROM backup_volumes WHERE backup_id = @backupId),
                resource_name = @name, resource_az = @az, os_type = @osType, image_id = @imageId, san_policy = @sanPolicy,
                updated_at = @now
            WHERE id = @backupId
            """,
            new { backupId, name = server.Name, az = server.AvailabilityZone, osType = server.OsType, imageId = server.ImageId,
                  sanPolicy = server.SanPolicy, now }, ct);

    /// <summary>The disks recorded for the backups still <c>protecting</c> among <paramref name="backupIds"/>, with their volume's size now.</summary>
    public async Task<IReadOnlyList<DiskToRecord>> GetDisksToCaptureAsync(IReadOnlyCollection<string> backupIds, CancellationToken ct) =>
        await db.QueryAsync<DiskToRecord>(
            """
            SELECT bv.backup_id AS BackupId, bv.volume_id AS VolumeId, v.size_gb AS SizeGb
            FROM backup_volumes bv JOIN backups b ON b.id = bv.backup_id JOIN volumes v ON v.id = bv.volume_id
            WHERE bv.backup_id IN @backupIds AND b.status = 'protecting'
            ORDER BY bv.backup_id, bv.device
            """, new { backupIds }, ct);

    /// <summary>Names the manifest each captured disk's bytes are in.</summary>
    public Task SetManifestsAsync(WriteScope tx, IEnumerable<(string BackupId, string VolumeId, string ManifestId)> disks, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE backup_volumes SET manifest_id = @ManifestId WHERE backup_id = @BackupId AND volume_id = @VolumeId",
            disks.Select(d => new { d.BackupId, d.VolumeId, d.ManifestId }), ct);

    /// <summary>Ids of a checkpoint's backups still being captured.</summary>
    public async Task<IReadOnlyList<string>> GetProtectingBackupIdsAsync(WriteScope tx, string checkpointId, CancellationToken ct) =>
        await tx.QueryAsync<string>("SELECT id FROM backups WHERE checkpoint_id = @checkpointId AND status = 'protecting'", new { checkpointId }, ct);

    /// <summary>protecting → available or error for a checkpoint.</summary>
    public Task FinishCheckpointAsync(WriteScope tx, string checkpointId, string status, long now, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE checkpoints SET status = @status, updated_at = @now WHERE id = @checkpointId AND status = 'protecting'",
            new { checkpointId, status, now }, ct);

    /// <summary>The server a backup still being captured holds, or null when it is not being captured.</summary>
    public Task<string?> GetProtectingServerAsync(WriteScope tx, string backupId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<string>("SELECT resource_id FROM backups WHERE id = @backupId AND status = 'protecting'", new { backupId }, ct);

    /// <summary>protecting → available (protected now) or error for a backup.</summary>
    public Task FinishBackupAsync(WriteScope tx, string backupId, string status, long now, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            UPDATE backups SET status = @status, updated_at = @now,
                protected_at = CASE WHEN @status = 'available' THEN @now ELSE protected_at END
            WHERE id = @backupId
            """, new { backupId, status, now }, ct);

    /// <summary>
    /// The one definition of what occupies a vault's capacity: its backups that are not in error, those still being
    /// captured included (their space is taken from the moment they start), each counted at its resource's size.
    /// Checkpoints (CBR requests and policy runs), whole images taken into a vault, replication into a vault, vault
    /// resizing and the vault's <c>used</c> all count this.
    /// </summary>
    private const string OccupiesVault = "status <> 'error'";

    /// <summary>
    /// GB of the vault's capacity its backups occupy (see <see cref="OccupiesVault"/>). The answer decides whether a
    /// backup may start or the vault may shrink, so it takes the vault's capacity lock first, held until the transaction
    /// ends: two checkpoints of one vault at once on PostgreSQL cannot both take its last free space.
    /// </summary>
    public async Task<long> UsedGbAsync(WriteScope tx, string vaultId, CancellationToken ct)
    {
        await tx.LockAsync($"vault-capacity:{vaultId}", ct);
        return await tx.ExecuteScalarAsync<long>(
            $"SELECT COALESCE(SUM(resource_size), 0) FROM backups WHERE vault_id = @vaultId AND {OccupiesVault}", new { vaultId }, ct);
    }

    /// <summary>Per resource of the vaults: how many backups occupy the vault and their GB (see <see cref="OccupiesVault"/>).</summary>
    public async Task<IReadOnlyList<VaultUsage>> UsageByResourceAsync(IReadOnlyCollection<string> vaultIds, CancellationToken ct) =>
        vaultIds.Count == 0 ? [] : await db.QueryAsync<VaultUsage>(UsageByResource, new { vaultIds }, ct);

    public async Task<IReadOnlyList<VaultUsage>> UsageByResourceAsync(WriteScope tx, IReadOnlyCollection<string> vaultIds, CancellationToken ct) =>
        vaultIds.Count == 0 ? [] : await tx.QueryAsync<VaultUsage>(UsageByResource, new { vaultIds }, ct);

    private const string UsageByResource =
        "SELECT vault_id AS VaultId, resource_id AS ResourceId, COUNT(*) AS Count, COALESCE(SUM(resource_size), 0) AS SizeGb " +
        $"FROM backups WHERE vault_id IN @vaultIds AND {OccupiesVault} GROUP BY vault_id, resource_id";

    /// <summary>
    /// Replicates a backup into a vault of another project, as CBR replication does: a new checkpoint and backup
    /// (available at once, ids chosen by the caller) with copies of the captured disks, which name the same manifests.
    /// </summary>
    public async Task ReplicateAsync(WriteScope tx, BackupReplica replica, long now, CancellationToken ct)
    {
        var args = new { replica.SourceBackupId, replica.ProjectId, replica.VaultId, replica.CheckpointId, replica.BackupId, now };
        await tx.ExecuteAsync(
            """
            INSERT INTO checkpoints (id, project_id, service, vault_id, name, description, status, incremental, created_at, updated_at)
            SELECT @CheckpointId, @ProjectId, 'CBR', @VaultId, name, description, 'available', 0, @now, @now
            FROM backups WHERE id = @SourceBackupId
            """, args, ct);
        await tx.ExecuteAsync(
            """
            INSERT INTO backups (id, project_id, service, checkpoint_id, vault_id, resource_id, resource_type, resource_name,
                                 resource_az, resource_size, name, description, status, incremental, os_type, image_id,
                                 san_policy, enterprise_project_id, created_at, updated_at, protected_at)
            SELECT @BackupId, @ProjectId, 'CBR', @CheckpointId, @VaultId, resource_id, resource_type, resource_name,
                   resource_az, resource_size, name, description, 'available', 0, os_type, image_id,
                   san_policy, '0', @now, @now, @now
            FROM backups WHERE id = @SourceBackupId
            """, args, ct);
        await tx.ExecuteAsync(
            """
            INSERT INTO backup_volumes (backup_id, volume_id, name, size_gb, volume_type, device, boot_index, multiattach, bootable,
                                        manifest_id)
            SELECT @BackupId, volume_id, name, size_gb, volume_type, device, boot_index, multiattach, bootable, manifest_id
            FROM backup_volumes WHERE backup_id = @SourceBackupId
            """, args, ct);
    }

    /// <summary>The manifests captured disks name (garbage collection keeps them): a statement to union with the other stores'.</summary>
    public const string LiveManifestsSql = "SELECT manifest_id FROM backup_volumes WHERE manifest_id IS NOT NULL";

    /// <summary>The manifest of each captured disk of a backup (null: captured before disks had bytes); null when there is no such backup.</summary>
    public async Task<IReadOnlyList<string?>?> GetDiskManifestsAsync(string backupId, CancellationToken ct) =>
        await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM backups WHERE id = @backupId", new { backupId }, ct) == 0
            ? null
            : await db.QueryAsync<string?>("SELECT manifest_id FROM backup_volumes WHERE backup_id = @backupId", new { backupId }, ct);

    /// <summary>A backup's captured disks in device order, with the SAN policy of its server.</summary>
    public async Task<IReadOnlyList<CapturedDisk>> GetCapturedDisksAsync(WriteScope tx, string backupId, CancellationToken ct) =>
        await tx.QueryAsync<CapturedDisk>(
            """
            SELECT bv.volume_id AS VolumeId, bv.size_gb AS SizeGb, bv.volume_type AS VolumeType, bv.multiattach AS Multiattach,
                   bv.device AS Device, bv.boot_index AS BootIndex, b.san_policy AS SanPolicy, bv.manifest_id AS ManifestId
            FROM backup_volumes bv JOIN backups b ON b.id = bv.backup_id
            WHERE bv.backup_id = @backupId
            ORDER BY bv.device
            """, new { backupId }, ct);

    /// <summary>A backup (CBR or CSBS) of any project, or null: for jobs, which act for a request that checked its caller.</summary>
    public Task<BackupRow?> GetAsync(WriteScope tx, string backupId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<BackupRow>($"SELECT {BackupRecords.BackupColumns} FROM backups WHERE id = @backupId", new { backupId }, ct);

    /// <summary>A backup of the project (CBR or CSBS), or null.</summary>
    public Task<BackupRow?> GetAsync(WriteScope tx, string projectId, string backupId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<BackupRow>(
            $"SELECT {BackupRecords.BackupColumns} FROM backups WHERE id = @backupId AND project_id = @projectId", new { backupId, projectId }, ct);

    /// <summary>What registering a whole image reads of its backup: state, source server facts and disk sizes.</summary>
    public Task<BackupRegistrationFacts?> GetRegistrationFactsAsync(WriteScope tx, string backupId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<BackupRegistrationFacts>(
            """
            SELECT b.id AS BackupId, b.status, b.resource_id AS ResourceId, b.os_type AS OsType, b.image_id AS SourceImageId,
                   b.san_policy AS SanPolicy,
                   (SELECT bv.size_gb FROM backup_volumes bv WHERE bv.backup_id = b.id AND bv.boot_index = 0) AS SystemDiskGb,
                   (SELECT COALESCE(SUM(bv.size_gb), 0) FROM backup_volumes bv WHERE bv.backup_id = b.id) AS TotalGb
            FROM backups b WHERE b.id = @backupId
            """, new { backupId }, ct);

    /// <summary>How many of a backup's captured disks are shared, system or dedicated (DSS) disks.</summary>
    public Task<DiskCounts> CountDisksAsync(WriteScope tx, string backupId, CancellationToken ct) =>
        tx.QuerySingleAsync<DiskCounts>(
            """
            SELECT COALESCE(SUM(CASE WHEN multiattach = 1 THEN 1 ELSE 0 END), 0) AS Shared,
                   COALESCE(SUM(CASE WHEN boot_index = 0 THEN 1 ELSE 0 END), 0) AS System,
                   COALESCE(SUM(CASE WHEN volume_type = 'DSS' THEN 1 ELSE 0 END), 0) AS Dedicated
            FROM backup_volumes WHERE backup_id = @backupId
            """, new { backupId }, ct);
}

/// <summary>A replica of <see cref="SourceBackupId"/> in <see cref="VaultId"/> of <see cref="ProjectId"/>, under ids fixed by the caller.</summary>
public sealed record BackupReplica(string SourceBackupId, string ProjectId, string VaultId, string CheckpointId, string BackupId);

/// <summary>What backups of one resource occupy in a vault.</summary>
public sealed record VaultUsage
{
    public string VaultId { get; init; } = "";
    public string ResourceId { get; init; } = "";
    public long Count { get; init; }
    public long SizeGb { get; init; }
}

/// <summary>How many of a set of disks are shared (multiattach), system (boot index 0) and dedicated (DSS) disks.</summary>
public sealed record DiskCounts(long Shared, long System, long Dedicated);

/// <summary>A backup as a whole image registers it; <see cref="SystemDiskGb"/> is null without a captured system disk.</summary>
public sealed record BackupRegistrationFacts
{
    public string BackupId { get; init; } = "";
    public string Status { get; init; } = "";
    public string ResourceId { get; init; } = "";
    public string? OsType { get; init; }
    public string? SourceImageId { get; init; }
    public string? SanPolicy { get; init; }
    public long? SystemDiskGb { get; init; }
    public long TotalGb { get; init; }
}

/// <summary>The list filters of CBR's <c>GET /backups</c> and CSBS's <c>GET /checkpoint_items</c>, parsed at the edge.</summary>
public sealed record BackupListFilter(string ProjectId, string Service)
{
    public string? CheckpointId { get; init; }
    public string? VaultId { get; init; }
    public string? ResourceId { get; init; }
    public string? ResourceType { get; init; }
    public string? ResourceName { get; init; }
    public string? ResourceAz { get; init; }
    public string? Status { get; init; }
    public string? Name { get; init; }
    public bool? Incremental { get; init; }
    /// <summary>A filter no backup here can match (CBR's replicas and child backups do not exist here).</summary>
    public bool MatchesNothing { get; init; }
    /// <summary>Continue after this backup, newest first (CSBS).</summary>
    public string? Marker { get; init; }
    public int Offset { get; init; }
    public int Limit { get; init; } = 1000;

    /// <summary>
    /// The equality filters CBR and CSBS share, from the query string (<paramref name="zoneParameter"/>: CBR says
    /// <c>resource_az</c>, CSBS <c>az</c>); each caller adds its own.
    /// </summary>
    public static BackupListFilter FromQuery(HttpContext http, string projectId, string service, string zoneParameter) =>
        new(projectId, service)
        {
            CheckpointId = Http.QueryArgs.String(http, "checkpoint_id"),
            ResourceId = Http.QueryArgs.String(http, "resource_id"),
            ResourceType = Http.QueryArgs.String(http, "resource_type"),
            ResourceName = Http.QueryArgs.String(http, "resource_name"),
            ResourceAz = Http.QueryArgs.String(http, zoneParameter),
            Status = Http.QueryArgs.String(http, "status"),
            Name = Http.QueryArgs.String(http, "name"),
        };
}

/// <summary>What a disk backup records of its disk when it starts.</summary>
public sealed record DiskBackupFacts(string Name, string AvailabilityZone, long SizeGb);

/// <summary>A disk a backup recorded, to capture: its volume and size now.</summary>
public sealed record DiskToRecord
{
    public string BackupId { get; init; } = "";
    public string VolumeId { get; init; } = "";
    public long SizeGb { get; init; }
}

/// <summary>A disk a backup captured, as a whole image restores it.</summary>
public sealed record CapturedDisk
{
    public string VolumeId { get; init; } = "";
    public long SizeGb { get; init; }
    public string VolumeType { get; init; } = "";
    public bool Multiattach { get; init; }
    public string Device { get; init; } = "";
    public long? BootIndex { get; init; }
    public string? SanPolicy { get; init; }
    public string? ManifestId { get; init; }
}
