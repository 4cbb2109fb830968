namespace Ims.Service.Hosting;

/// <summary>Which cloud's rules the service follows where Huawei Cloud and Open Telekom Cloud differ.</summary>
public enum CloudProfile
{
    Huawei,
    Otc,
}

/// <summary>
/// The <c>Ims</c> configuration section: settings of the host as a whole. A feature's own settings live with the
/// feature and are bound and validated there: <c>Ims:Jobs</c> (<see cref="Jobs.JobOptions"/>), <c>Ims:AccountsFile</c>
/// (<see cref="Auth.AccountsOptions"/>), <c>Ims:DataPlane</c> (<see cref="DataPlane.DataPlaneOptions"/>).
/// </summary>
public sealed class ServiceOptions
{
    public CloudProfile Profile { get; set; } = CloudProfile.Huawei;

    /// <summary>Region served; defaults per profile (cn-north-4 for Huawei, eu-de for OTC).</summary>
    public string? Region { get; set; }

    /// <summary>Folder holding the SQLite file and, later, the chunk store.</summary>
    public string DataDir { get; set; } = "data";

    /// <summary>
    /// A PostgreSQL connection string (<c>Host=...;Port=...;Username=...;Database=...</c>): set, the metadata and the
    /// jobs live there instead of in the SQLite file of <see cref="DataDir"/> (which keeps the disks' bytes).
    /// </summary>
    public string? Postgres { get; set; }

    /// <summary>Whether mode-A whole images may go through CSBS when no vault is given (spec §1.2).</summary>
    public bool? CsbsSupported { get; set; }

    /// <summary>
    /// Whether <c>POST /v1/cloudimages/{image_id}/cross_region_copy</c> is served. Huawei Cloud has it; OTC's API has no
    /// such route, so by default the OTC profile answers it like any unknown path (404 <c>APIGW.0101</c>).
    /// </summary>
    public bool? CrossRegionCopy { get; set; }

    /// <summary>Private images a project may hold, counting those being created (<c>IMG.0015</c>).</summary>
    public int ImageQuota { get; set; } = 100;

    /// <summary>
    /// The largest image file <c>PUT /v2/images/{id}/file</c> takes (<c>IMG.0059</c> beyond): IMS takes files smaller
    /// than 128 GB.
    /// </summary>
    public long MaxImageFileBytes { get; set; } = 128L * 1024 * 1024 * 1024;

    /// <summary>
    /// The token the admin API (fault injection) demands in <c>X-Admin-Token</c>, from any address. Unset, the admin
    /// API answers loopback callers only; set it when the service sits behind a proxy, where every caller looks local.
    /// </summary>
    public string? AdminToken { get; set; }

    /// <summary>
    /// Bytes kept allocated in <c>space-reserve</c> in the data folder and given up when the storage runs out of space, so
    /// that the database beside it can still record what failed (a job's FAIL, an upload back to queued). 0: none.
    /// </summary>
    public long SpaceReserveBytes { get; set; } = 8L * 1024 * 1024;

    /// <summary>Where uploaded image files and generated public-image disks wait for their import (under the data folder).</summary>
    public string ScratchDir => Path.Combine(Path.GetFullPath(DataDir), "uploads");

    public string EffectiveRegion => Region ?? (Profile == CloudProfile.Otc ? "eu-de" : "cn-north-4");

    public bool EffectiveCsbsSupported => CsbsSupported ?? Profile == CloudProfile.Otc;

    public bool EffectiveCrossRegionCopy => CrossRegionCopy ?? Profile == CloudProfile.Huawei;
}
