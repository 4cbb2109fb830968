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

    /// <summary>
    /// The one definition of what occupies a vault's capacity: its backups that are not in error, those still being
    /// captured included (their space is taken from the moment they start). Vault resizing, replication into a vault
    /// and the vault's <c>used</c> all count this.
    /// </summary>
    private const string OccupiesVault = "status <> 'error'";

    /// <summary>GB of the vault's capacity its backups occupy (see <see cref="OccupiesVault"/>).</summary>
    public async Task<long> UsedGbAsync(WriteScope tx, string vaultId, CancellationToken ct) =>
        await tx.ExecuteScalarAsync<long>($"SELECT COALESCE(SUM(resource_size), 0) FROM backups WHERE vault_id = @vaultId AND {OccupiesVault}", new { vaultId }, ct);

    /// <summary>Per resource of the vaults: how many backups occupy the vault and their GB (see <see cref="OccupiesVault"/>).</summary>
    public async Task<IReadOnlyList<VaultUsage>> UsageByResourceAsync(IReadOnlyCollection<string> vaultIds, CancellationToken ct)
    {
        if (vaultIds.Count == 0) return [];
        return await db.QueryAsync<VaultUsage>(
            "SELECT vault_id AS VaultId, resource_id AS ResourceId, COUNT(*) AS Count, COALESCE(SUM(resource_size), 0) AS SizeGb " +
            $"FROM backups WHERE vault_id IN @vaultIds AND {OccupiesVault} GROUP BY vault_id, resource_id", new { vaultIds }, ct);
    }

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
