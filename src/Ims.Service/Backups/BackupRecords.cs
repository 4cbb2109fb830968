using System.Security.Cryptography;
using System.Text;

namespace Ims.Service.Backups;

/// <summary>A row of <c>checkpoints</c>: one CBR backup run over a vault, or one CSBS protect call.</summary>
public sealed record CheckpointRow
{
    public string Id { get; init; } = "";
    public string ProjectId { get; init; } = "";
    public string Service { get; init; } = "";
    public string? VaultId { get; init; }
    public string Name { get; init; } = "";
    public string Description { get; init; } = "";
    public string Status { get; init; } = "";
    public long Incremental { get; init; }
    public long CreatedAt { get; init; }
    public long UpdatedAt { get; init; }
}

/// <summary>A row of <c>backups</c>: the backup of one server inside a checkpoint.</summary>
public sealed record BackupRow
{
    public string Id { get; init; } = "";
    public string ProjectId { get; init; } = "";
    public string Service { get; init; } = "";
    public string CheckpointId { get; init; } = "";
    public string? VaultId { get; init; }
    public string ResourceId { get; init; } = "";
    public string ResourceType { get; init; } = "";
    public string ResourceName { get; init; } = "";
    public string ResourceAz { get; init; } = "";
    public long ResourceSize { get; init; }
    public string Name { get; init; } = "";
    public string Description { get; init; } = "";
    public string Status { get; init; } = "";
    public long Incremental { get; init; }
    public string? OsType { get; init; }
    public string? ImageId { get; init; }
    public string? SanPolicy { get; init; }
    public string EnterpriseProjectId { get; init; } = "0";
    public long CreatedAt { get; init; }
    public long UpdatedAt { get; init; }
    public long? ProtectedAt { get; init; }
    /// <summary>The policy that made the backup (an automatic backup), or null for one a request made.</summary>
    public string? PolicyId { get; init; }
}

/// <summary>A row of <c>backup_volumes</c>: what a backup captured of one disk.</summary>
public sealed record BackupVolumeRow
{
    public string BackupId { get; init; } = "";
    public string VolumeId { get; init; } = "";
    public string Name { get; init; } = "";
    public long SizeGb { get; init; }
    public string VolumeType { get; init; } = "";
    public string Device { get; init; } = "";
    public long? BootIndex { get; init; }
    public long Multiattach { get; init; }
    public long Bootable { get; init; }

    public bool IsSystemDisk => BootIndex == 0;
}

public static class BackupStatus
{
    public const string Protecting = "protecting";
    public const string Available = "available";
    public const string Error = "error";
}

/// <summary>Column lists and rules shared by the CBR and CSBS views of the same rows (which <see cref="BackupStore"/> reads).</summary>
public static class BackupRecords
{
    public const string CheckpointColumns =
        "id, project_id AS ProjectId, service, vault_id AS VaultId, name, description, status, incremental, " +
        "created_at AS CreatedAt, updated_at AS UpdatedAt";

    public const string BackupColumns =
        "id, project_id AS ProjectId, service, checkpoint_id AS CheckpointId, vault_id AS VaultId, " +
        "resource_id AS ResourceId, resource_type AS ResourceType, resource_name AS ResourceName, " +
        "resource_az AS ResourceAz, resource_size AS ResourceSize, name, description, status, incremental, " +
        "os_type AS OsType, image_id AS ImageId, san_policy AS SanPolicy, enterprise_project_id AS EnterpriseProjectId, " +
        "created_at AS CreatedAt, updated_at AS UpdatedAt, protected_at AS ProtectedAt, policy_id AS PolicyId";

    /// <summary>
    /// A stable id for the per-disk part of a backup: the wire shows each captured disk as a child backup (CBR) or a
    /// volume backup (CSBS) with its own id, while the store keys it by (backup, volume).
    /// </summary>
    public static string ChildId(string backupId, string volumeId)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{backupId}/{volumeId}"));
        var bytes = hash.AsSpan(0, 16).ToArray();
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x50); // name-based UUID (version 5 layout)
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true).ToString("D");
    }

    /// <summary>Stored size of a finished backup in MB. Until the data plane stores real chunks, a backup is full.</summary>
    public static long StoredMegabytes(BackupRow backup) =>
        backup.Status == BackupStatus.Available ? backup.ResourceSize * 1024 : 0;
}
