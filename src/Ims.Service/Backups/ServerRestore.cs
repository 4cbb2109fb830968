using System.Text.Json.Nodes;
using Ims.Service.Ecs;
using Ims.Service.Evs;
using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Backups;

/// <summary>Why a restore request is refused; each service answers each with its own code.</summary>
public enum RestoreProblem
{
    BackupNotAvailable,
    NoDiskData,
    ServerNotFound,
    VolumeNotFound,
    ServerNotStopped,
    ServerBusy,
    DiskBackupNotInBackup,
    TargetNamedTwice,
    DiskNotAttached,
    DiskTooSmall,
    DiskBusy,
}

/// <summary>A refused restore: the problem, the id it is about and a message for the error body.</summary>
public sealed record RestoreRefusal(RestoreProblem Problem, string Subject, string Message);

/// <summary>What a restore request resolved to: the server it holds (server backups), the target shown to the client, the disks.</summary>
public sealed record RestorePlan(RestoreRefusal? Refusal, string? ServerId, string TargetId, string TargetName, List<RestoreDisk> Disks)
{
    public static RestorePlan Refused(RestoreProblem problem, string subject, string message) =>
        new(new RestoreRefusal(problem, subject, message), null, "", "", []);
}

/// <summary>A mapping of a restore request: a disk of the backup (its per-disk child id) onto a disk of the target server.</summary>
public sealed record RestoreTarget(string DiskBackupId, string VolumeId);

/// <summary>
/// The rules of putting a server backup back onto a server, and the start of the restore job, shared by CBR
/// (<c>POST /v3/{project_id}/backups/{backup_id}/restore</c>) and CSBS (<c>POST /v1/{project_id}/restores</c>): the backup
/// is available and holds disk data; the server is stopped (SHUTOFF) and idle, and is taken with task state
/// <see cref="ServerTaskState"/>; each mapping names a disk of the backup and a disk attached to that server at least as
/// large (without mappings every captured disk goes back onto the same disk, which must still be attached there). Starting
/// moves the disks to <c>restoring-backup</c> and the backup to <c>restoring</c> in the request's transaction.
/// </summary>
public static class ServerRestore
{
    /// <summary>The <c>servers.task_state</c> a restore holds its server with.</summary>
    public const string ServerTaskState = "restoring";

    /// <summary>The backup's own checks (both kinds of backup): available, with disk data. Null when it may be restored.</summary>
    public static async Task<RestoreRefusal?> CheckBackupAsync(WriteScope write, BackupStore backups, BackupRow backup, CancellationToken ct)
    {
        if (backup.Status != BackupStatus.Available)
            return new(RestoreProblem.BackupNotAvailable, backup.Id,
                $"Backup {backup.Id} is {backup.Status}; only an available backup can be restored.");
        var captured = await backups.GetCapturedDisksAsync(write, backup.Id, ct);
        return captured.Any(d => d.ManifestId is null)
            ? new(RestoreProblem.NoDiskData, backup.Id, $"Backup {backup.Id} holds no disk data to restore (it was taken before disks had bytes).")
            : null;
    }

    /// <summary>Resolves a server backup onto <paramref name="serverId"/> and, when nothing refuses it, takes the server.</summary>
    public static async Task<RestorePlan> PlanAsync(WriteScope write, ServerStore servers, VolumeStore volumes, BackupStore backups,
        string projectId, BackupRow backup, string serverId, IReadOnlyList<RestoreTarget>? mappings, long now, CancellationToken ct)
    {
        var captured = await backups.GetCapturedDisksAsync(write, backup.Id, ct);
        var server = await servers.GetAsync(write, projectId, serverId, ct);
        if (server is null) return RestorePlan.Refused(RestoreProblem.ServerNotFound, serverId, $"The server {serverId} does not exist.");
        if (server.Status != ServerStatus.Shutoff)
            return RestorePlan.Refused(RestoreProblem.ServerNotStopped, serverId,
                $"Server {serverId} is {server.Status}; stop it (SHUTOFF) before restoring a backup onto it.");
        var attached = (await volumes.GetAttachmentsOfServersAsync(write, [serverId], ct)).Select(a => a.VolumeId).ToHashSet(StringComparer.Ordinal);
        var byChild = captured.ToDictionary(d => BackupRecords.ChildId(backup.Id, d.VolumeId), StringComparer.Ordinal);

        var pairs = new List<(CapturedDisk Source, string TargetId)>();
        if (mappings is { Count: > 0 })
        {
            foreach (var mapping in mappings)
            {
                if (!byChild.TryGetValue(mapping.DiskBackupId, out var source))
                    return RestorePlan.Refused(RestoreProblem.DiskBackupNotInBackup, mapping.DiskBackupId,
                        $"Disk backup {mapping.DiskBackupId} is not part of backup {backup.Id}.");
                pairs.Add((source, mapping.VolumeId));
            }
        }
        else
        {
            pairs.AddRange(captured.Select(d => (d, d.VolumeId)));
        }
        if (pairs.Select(p => p.TargetId).Distinct(StringComparer.Ordinal).Count() != pairs.Count)
            return RestorePlan.Refused(RestoreProblem.TargetNamedTwice, serverId, "The mappings name a target disk twice.");

        var disks = new List<RestoreDisk>();
        foreach (var (source, targetId) in pairs)
        {
            if (!attached.Contains(targetId))
                return RestorePlan.Refused(RestoreProblem.DiskNotAttached, targetId,
                    $"Disk {targetId} is not attached to server {serverId}; map the backup's disks onto the server's.");
            var target = await volumes.GetAsync(write, projectId, targetId, ct);
            if (target!.SizeGb < source.SizeGb)
                return RestorePlan.Refused(RestoreProblem.DiskTooSmall, targetId,
                    $"Disk {targetId} ({target.SizeGb} GB) is smaller than the backed-up disk ({source.SizeGb} GB).");
            disks.Add(new RestoreDisk(targetId, target.SizeGb, source.ManifestId!));
        }
        var claim = await ServerGuards.TryClaimAsync(write, projectId, serverId, ServerTaskState, now, ct);
        if (!claim.Claimed)
            return RestorePlan.Refused(RestoreProblem.ServerBusy, serverId, $"Server {serverId} is busy: task_state {claim.TaskState} is in progress.");
        return new RestorePlan(null, serverId, serverId, server.Name, disks);
    }

    /// <summary>
    /// Takes the plan's disks (refused when one is busy), moves the backup to <c>restoring</c> and enqueues the restore job on
    /// the disks' node. Returns the job id, or the refusal. The caller commits.
    /// </summary>
    public static async Task<(string? JobId, RestoreRefusal? Refusal)> StartAsync(WriteScope write, BackupStore backups, VolumeStore volumes,
        JobQueue jobs, string service, string jobType, string projectId, BackupRow backup, RestorePlan plan, bool powerOn, JsonObject entities,
        long now, CancellationToken ct)
    {
        var targets = plan.Disks.Select(d => d.VolumeId).ToList();
        if (await volumes.SetStatusAsync(write, targets, VolumeStatus.Restoring, [VolumeStatus.Available, VolumeStatus.InUse], ct) != targets.Count)
            return (null, new(RestoreProblem.DiskBusy, plan.TargetId,
                "A disk to restore is busy (being created, attached, detached, expanded, backed up or restored)."));
        await backups.MoveStatusAsync(write, backup.Id, BackupStatus.Available, BackupStatus.Restoring, now, ct);
        var jobId = await jobs.EnqueueAsync(write, service, jobType, projectId,
            new RestorePayload(backup.Id, plan.ServerId, powerOn, plan.Disks), entities, backup.Id,
            // The disks' bytes live on their node: the job runs there.
            (await volumes.GetNodesAsync(write, targets, ct)).FirstOrDefault(), ct);
        return (jobId, null);
    }
}
