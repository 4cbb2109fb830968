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
    /// <summary>The backup policy that starts the backup (an automatic backup); null for a request's.</summary>
    public string? PolicyId { get; init; }
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
public sealed class BackupCapture(TimeProvider time, BackupStore backups, ServerStore servers, DataPlaneStore store, DiskFiles files)
{
    /// <summary>The <c>servers.task_state</c> a backup holds while it works on a server.</summary>
    public const string TaskState = "backing_up";

    private const string ServerResourceType = "OS::Nova::Server";

    private long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Looks a server up in the caller's project and says whether it can be backed up now.</summary>
    public async Task<ServerCheck> CheckServerAsync(string projectId, string serverId, CancellationToken ct) =>
        Classify(await servers.GetBackupFactsAsync(projectId, serverId, ct), serverId);

    /// <summary><see cref="CheckServerAsync(string, string, CancellationToken)"/> inside a transaction.</summary>
    public async Task<ServerCheck> CheckServerAsync(WriteScope tx, string projectId, string serverId, CancellationToken ct) =>
        Classify(await servers.GetBackupFactsAsync(tx, projectId, serverId, ct), serverId);

    private static ServerCheck Classify(ServerCheck? server, string serverId)
    {
        if (server is null) return new ServerCheck { Problem = ServerProblem.NotFound, Id = serverId };
        var problem = server.Status is not ("ACTIVE" or "SHUTOFF") ? ServerProblem.BadStatus
            : server.TaskState is not null || server.DisksInTransit > 0 ? ServerProblem.Busy
            : server.VolumeCount == 0 ? ServerProblem.NoVolumes
            : ServerProblem.None;
        return server with { Problem = problem };
    }

    public Task StartCheckpointAsync(WriteScope write, CheckpointStart start, CancellationToken ct) =>
        backups.InsertCheckpointAsync(write, start, NowMs, ct);

    /// <summary>
    /// Starts a checkpoint holding one backup of one server, as a CSBS protect call does and as a whole image taken
    /// from a server will (into the CBR vault <paramref name="vaultId"/> when given). Returns null when the server
    /// cannot be backed up now; the caller then gives up its transaction without committing. Finish the backup with
    /// <see cref="CaptureAsync"/> and <see cref="FinishCheckpointAsync"/> from a job.
    /// </summary>
    public async Task<(string CheckpointId, string BackupId)?> StartServerBackupAsync(WriteScope write, string service, string projectId,
        string serverId, string? vaultId, string name, string description, bool incremental, CancellationToken ct,
        string? policyId = null)
    {
        if (!(await CheckServerAsync(write, projectId, serverId, ct)).Ok) return null;
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
            PolicyId = policyId,
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
        var server = await CheckServerAsync(write, start.ProjectId, start.ServerId, ct);
        if (!server.Ok) return false;
        var claim = await ServerGuards.TryClaimAsync(write, start.ProjectId, start.ServerId, TaskState, now, ct);
        if (!claim.Claimed) return false;

        await backups.InsertBackupAsync(write, start, server, ServerResourceType, now, ct);
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
        var backup = await backups.GetAsync(write, backupId, ct);
        if (backup is null) return false;
        var server = await CheckServerAsync(write, backup.ProjectId, backup.ResourceId, ct);
        if (server.Problem == ServerProblem.NotFound) return false;

        if (await backups.RecordDisksAsync(write, backup, excludeVolumeIds, ct) == 0) return false;
        await backups.RefreshServerFactsAsync(write, backupId, server, NowMs, ct);
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
        var disks = await backups.GetDisksToCaptureAsync(backupIds, ct);
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
        await backups.SetManifestsAsync(write, captured.Disks.Select(d => (d.BackupId, d.VolumeId, manifests[d.VolumeId])), ct);
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
        var status = succeeded ? BackupStatus.Available : BackupStatus.Error;
        foreach (var backupId in await backups.GetProtectingBackupIdsAsync(write, checkpointId, ct))
            await FinishAsync(write, backupId, status, ct);
        await backups.FinishCheckpointAsync(write, checkpointId, status, NowMs, ct);
    }

    private async Task FinishAsync(WriteScope write, string backupId, string status, CancellationToken ct)
    {
        var now = NowMs;
        var serverId = await backups.GetProtectingServerAsync(write, backupId, ct);
        if (serverId is null) return;
        await ServerGuards.ReleaseAsync(write, serverId, TaskState, now, ct);
        await backups.FinishBackupAsync(write, backupId, status, now, ct);
    }
}
