using System.Data.Common;

namespace Ims.Service.Ims;

/// <summary>A row of the images table.</summary>
public sealed record ImageRow
{
    /// <summary>In the order <see cref="Read"/> reads them.</summary>
    public const string Columns =
        "id, owner, name, status, visibility, imagetype, whole_image AS WholeImage, os_type AS OsType, " +
        "os_version AS OsVersion, platform, os_bit AS OsBit, min_disk AS MinDisk, min_ram AS MinRam, " +
        "max_ram AS MaxRam, disk_format AS DiskFormat, container_format AS ContainerFormat, size, " +
        "image_size AS ImageSize, description, backup_id AS BackupId, data_origin AS DataOrigin, " +
        "source_type AS SourceType, enterprise_project_id AS EnterpriseProjectId, protected, properties, tags, " +
        "created_at AS CreatedAt, updated_at AS UpdatedAt, active_at AS ActiveAt, checksum, virtual_size AS VirtualSize, " +
        "data_disks_offline AS DataDisksOffline, manifest_id AS ManifestId, source_backup_shared AS SourceBackupShared, " +
        "virtual_env_type AS VirtualEnvType, file_manifest_id AS FileManifestId";

    public required string Id { get; init; }
    public required string Owner { get; init; }
    public required string Name { get; init; }
    public required string Status { get; init; }
    public required string Visibility { get; init; }
    public required string Imagetype { get; init; }
    public bool WholeImage { get; init; }
    public string OsType { get; init; } = "Linux";
    public string OsVersion { get; init; } = "";
    public string Platform { get; init; } = "";
    public string OsBit { get; init; } = "64";
    public long MinDisk { get; init; }
    public long MinRam { get; init; }
    public long? MaxRam { get; init; }
    public string DiskFormat { get; init; } = "zvhd2";
    public string ContainerFormat { get; init; } = "bare";
    public long Size { get; init; }
    public long ImageSize { get; init; }
    public string Description { get; init; } = "";
    public string? BackupId { get; init; }
    public string? DataOrigin { get; init; }
    public string SourceType { get; init; } = "uds";
    public string EnterpriseProjectId { get; init; } = "0";
    public bool Protected { get; init; }
    /// <summary>JSON object of further string attributes (<c>__support_*</c>, <c>hw_*</c>, ...).</summary>
    public string Properties { get; init; } = "{}";
    /// <summary>JSON array of <c>{"key","value"}</c>.</summary>
    public string Tags { get; init; } = "[]";
    public long CreatedAt { get; init; }
    public long UpdatedAt { get; init; }
    public long? ActiveAt { get; init; }
    /// <summary>MD5 of an uploaded file (32 lowercase hex); null for images without one.</summary>
    public string? Checksum { get; init; }
    /// <summary>The uploaded disk's size in bytes; null for images without a file.</summary>
    public long? VirtualSize { get; init; }
    /// <summary>A whole image whose data disks come up offline (a Windows source without the OnlineAll SAN policy).</summary>
    public bool DataDisksOffline { get; init; }
    /// <summary>The data plane's manifest of a system-disk image's content; null while it has none.</summary>
    public string? ManifestId { get; init; }
    /// <summary>A whole image made from a CBR backup that was shared with its owner (OTC forbids sharing it on).</summary>
    public bool SourceBackupShared { get; init; }
    /// <summary><c>FusionCompute</c> for system disks (and whole images), <c>DataImage</c> for data disk images.</summary>
    public string VirtualEnvType { get; init; } = ImageKinds.SystemDisk;
    /// <summary>The uploaded file's own manifest when it was converted on upload; null otherwise.</summary>
    public string? FileManifestId { get; init; }

    /// <summary>
    /// Made by a job from other resources (a disk, another image, a backup) rather than waiting for an uploaded file: such
    /// an image cannot be deleted while queued (its job is making it) and takes no upload.
    /// </summary>
    public bool IsMadeByJob => WholeImage || DataOrigin is not null;

    /// <summary>A data disk image: EVS disks are made from it, servers are not.</summary>
    public bool IsDataImage => VirtualEnvType == ImageKinds.DataDisk;

    /// <summary>Maps a row selected with <see cref="Columns"/>, by position (the hot list query skips Dapper).</summary>
    internal static ImageRow Read(DbDataReader r) => new()
    {
        Id = r.GetString(0),
        Owner = r.GetString(1),
        Name = r.GetString(2),
        Status = r.GetString(3),
        Visibility = r.GetString(4),
        Imagetype = r.GetString(5),
        WholeImage = r.GetInt64(6) != 0,
        OsType = r.GetString(7),
        OsVersion = r.GetString(8),
        Platform = r.GetString(9),
        OsBit = r.GetString(10),
        MinDisk = r.GetInt64(11),
        MinRam = r.GetInt64(12),
        MaxRam = r.IsDBNull(13) ? null : r.GetInt64(13),
        DiskFormat = r.GetString(14),
        ContainerFormat = r.GetString(15),
        Size = r.GetInt64(16),
        ImageSize = r.GetInt64(17),
        Description = r.GetString(18),
        BackupId = r.IsDBNull(19) ? null : r.GetString(19),
        DataOrigin = r.IsDBNull(20) ? null : r.GetString(20),
        SourceType = r.GetString(21),
        EnterpriseProjectId = r.GetString(22),
        Protected = r.GetInt64(23) != 0,
        Properties = r.GetString(24),
        Tags = r.GetString(25),
        CreatedAt = r.GetInt64(26),
        UpdatedAt = r.GetInt64(27),
        ActiveAt = r.IsDBNull(28) ? null : r.GetInt64(28),
        Checksum = r.IsDBNull(29) ? null : r.GetString(29),
        VirtualSize = r.IsDBNull(30) ? null : r.GetInt64(30),
        DataDisksOffline = r.GetInt64(31) != 0,
        ManifestId = r.IsDBNull(32) ? null : r.GetString(32),
        SourceBackupShared = r.GetInt64(33) != 0,
        VirtualEnvType = r.GetString(34),
        FileManifestId = r.IsDBNull(35) ? null : r.GetString(35),
    };
}

/// <summary>The <c>virtual_env_type</c> values this service writes.</summary>
public static class ImageKinds
{
    public const string SystemDisk = "FusionCompute";
    public const string DataDisk = "DataImage";
    /// <summary>An image of an ISO file (<c>type: IsoImage</c>).</summary>
    public const string Iso = "IsoImage";
}
