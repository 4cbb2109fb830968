namespace Ims.Service.Hosting;

/// <summary>Which cloud's rules the service follows where Huawei Cloud and Open Telekom Cloud differ.</summary>
public enum CloudProfile
{
    Huawei,
    Otc,
}

/// <summary>The <c>Ims</c> configuration section.</summary>
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

    public JobOptions Jobs { get; set; } = new();

    /// <summary>
    /// The token the admin API (fault injection) demands in <c>X-Admin-Token</c>, from any address. Unset, the admin
    /// API answers loopback callers only; set it when the service sits behind a proxy, where every caller looks local.
    /// </summary>
    public string? AdminToken { get; set; }

    /// <summary>
    /// The accounts file: domains, users, region projects and AK/SK pairs. A relative path is resolved against the
    /// working directory first, then against the folder of the service binary (where the defaults ship).
    /// </summary>
    public string AccountsFile { get; set; } = "accounts.json";

    /// <summary>Where uploaded image files and generated public-image disks wait for their import (under the data folder).</summary>
    public string ScratchDir => Path.Combine(Path.GetFullPath(DataDir), "uploads");

    public string EffectiveRegion => Region ?? (Profile == CloudProfile.Otc ? "eu-de" : "cn-north-4");

    public bool EffectiveCsbsSupported => CsbsSupported ?? Profile == CloudProfile.Otc;

    public bool EffectiveCrossRegionCopy => CrossRegionCopy ?? Profile == CloudProfile.Huawei;
}

public sealed class JobOptions
{
    /// <summary>Pause before each job step: 0 for tests, about a second for realistic demos.</summary>
    public TimeSpan StepDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Jobs run at once on this node; 0 makes an API-only node.</summary>
    public int Workers { get; set; } = 4;

    /// <summary>How long a claimed job stays with its worker without a renewal before another may resume it.</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often idle workers look for due jobs (they are also woken when a job is queued).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    public int MaxAttempts { get; set; } = 5;
}

public sealed class AccountsFileContent
{
    public List<AccountOptions> Accounts { get; set; } = [];
}

public sealed class AccountOptions
{
    public string DomainId { get; set; } = "";
    public string DomainName { get; set; } = "";
    public List<UserOptions> Users { get; set; } = [];
    public List<ProjectOptions> Projects { get; set; } = [];
    public List<AccessKeyOptions> AccessKeys { get; set; } = [];
}

public sealed class UserOptions
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public string Password { get; set; } = "";
}

public sealed class ProjectOptions
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
}

public sealed class AccessKeyOptions
{
    public string Access { get; set; } = "";
    public string Secret { get; set; } = "";
    public string User { get; set; } = "";
}
