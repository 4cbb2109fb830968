using System.Text.Json;
using System.Text.Json.Nodes;
using Ims.Service.Backups;
using Ims.Service.Cbr;
using Ims.Service.Ecs;
using Ims.Service.Evs;
using Ims.Service.Http;
using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Policies;

/// <summary>Input of a policy's checkpoint job: the checkpoint job's own, and the policy whose retention follows the capture.</summary>
public sealed record PolicyCheckpointPayload(string CheckpointId, Dictionary<string, List<string>>? Excludes, string PolicyId);

/// <summary>
/// What one policy run started: the checkpoints now being captured, and the operation logs (failed jobs) of the vaults
/// it could not back up because they were full.
/// </summary>
public sealed record PolicyRunStarts(IReadOnlyList<string> CheckpointIds, IReadOnlyList<string> RefusedOperationIds);

/// <summary>
/// Starts the automatic backups of one policy run through <see cref="BackupCapture"/>, as a request would: CBR, one
/// checkpoint per vault the policy is applied to, holding every server (server vault) or disk (disk vault) of the vault
/// that can be backed up now (a server's excluded disks left out); CSBS, one checkpoint per server the policy protects.
/// A resource that is busy, in a bad state or gone is left out of this run, as the checkpoint API skips it. A vault
/// whose backups would not fit (<see cref="Vaults.CheckRoomAsync"/>, the rule every path applies) is not backed up: the
/// run records a failed backup operation log for it (<c>BackupService.6114</c>) and goes on with the other vaults.
/// </summary>
public sealed class PolicyBackups(PolicyStore policies, VaultStore vaults, BackupStore backups, BackupCapture capture, JobQueue jobs,
    ServerStore serverStore, VolumeStore volumes)
{
    public async Task<PolicyRunStarts> StartAsync(WriteScope write, PolicyRow policy, CancellationToken ct) =>
        policy.Service == PolicyServices.Cbr ? await StartCbrAsync(write, policy, ct) : new(await StartCsbsAsync(write, policy, ct), []);

    private async Task<PolicyRunStarts> StartCbrAsync(WriteScope write, PolicyRow policy, CancellationToken ct)
    {
        var started = new List<string>();
        var refused = new List<string>();
        var fullEvery = policy.ParsedDefinition.FullBackupInterval;
        // In id order: each vault's capacity lock is taken in turn, always in the same order.
        foreach (var applied in (await policies.GetVaultsAsync(write, [policy.Id], ct)).OrderBy(v => v.VaultId, StringComparer.Ordinal))
        {
            var vault = await vaults.GetAsync(write, policy.ProjectId, applied.VaultId, ct);
            if (vault is null || vault.ObjectType is not ("server" or "disk")) continue;
            var targets = await TargetsAsync(write, policy.ProjectId, vault, ct);
            if (targets.Count == 0) continue;
            var room = await Vaults.CheckRoomAsync(write, backups, vault, targets.Sum(t => t.SizeGb), ct);
            if (!room.Fits)
            {
                refused.Add(await RecordVaultFullAsync(write, policy, vault, room, ct));
                continue;
            }

            var checkpointId = Ids.NewUuid();
            var name = AutomaticName();
            await capture.StartCheckpointAsync(write, new CheckpointStart
            {
                CheckpointId = checkpointId,
                ProjectId = policy.ProjectId,
                Service = PolicyServices.Cbr,
                VaultId = vault.Id,
                Name = name,
                Incremental = true,
            }, ct);
            var excludes = new Dictionary<string, List<string>>(StringComparer.Ordinal);
            string? first = null;
            foreach (var (member, _) in targets)
            {
                var backupId = Ids.NewUuid();
                var start = new BackupStart
                {
                    BackupId = backupId,
                    ProjectId = policy.ProjectId,
                    Service = PolicyServices.Cbr,
                    CheckpointId = checkpointId,
                    VaultId = vault.Id,
                    ServerId = member.ResourceId,
                    Name = name,
                    Incremental = await IncrementalAsync(write, PolicyServices.Cbr, vault.Id, member.ResourceId, fullEvery, ct),
                    PolicyId = policy.Id,
                };
                var begun = member.ResourceType == Vaults.VolumeType
                    ? await capture.BeginDiskAsync(write, start, ct)
                    : await capture.BeginAsync(write, start, ct);
                if (!begun) continue;
                excludes[backupId] = member.ResourceType == Vaults.VolumeType ? [] : JsonSerializer.Deserialize<List<string>>(member.ExcludeVolumes) ?? [];
                first ??= member.ResourceId;
            }
            if (first is null) continue; // the checkpoint stays empty and is not shown (a checkpoint lives as long as a backup)
            // The captures run where the disks are, as for a checkpoint request: the node of the vault's first resource.
            var node = vault.ObjectType == "disk"
                ? (await volumes.GetNodesAsync(write, [first], ct)).FirstOrDefault()
                : await serverStore.GetNodeAsync(write, first, ct);
            await jobs.EnqueueAsync(write, "cbr", CbrPolicyCheckpointJob.Type, policy.ProjectId,
                new PolicyCheckpointPayload(checkpointId, excludes, policy.Id), OperationFacts(policy, vault, checkpointId), checkpointId, node, ct);
            started.Add(checkpointId);
        }
        return new(started, refused);
    }

    /// <summary>The vault's resources that can be backed up now, with the GB each backup will occupy.</summary>
    private async Task<List<(VaultResourceRow Member, long SizeGb)>> TargetsAsync(WriteScope write, string projectId, VaultRow vault,
        CancellationToken ct)
    {
        var targets = new List<(VaultResourceRow, long)>();
        foreach (var member in await vaults.GetResourcesAsync(write, [vault.Id], ct))
        {
            if (vault.ObjectType == "disk")
            {
                if (member.ResourceType != Vaults.VolumeType) continue;
                var disk = await volumes.GetAsync(write, projectId, member.ResourceId, ct);
                if (disk?.Status is VolumeStatus.Available or VolumeStatus.InUse) targets.Add((member, disk.SizeGb));
            }
            else if (member.ResourceType == Vaults.ServerType && await capture.CheckServerAsync(write, projectId, member.ResourceId, ct) is { Ok: true } server)
                targets.Add((member, server.TotalSizeGb));
        }
        return targets;
    }

    /// <summary>
    /// A run's backup of a full vault, as the real service shows it: a failed backup operation log of the policy and
    /// vault, whose error is the refusal a checkpoint request gets.
    /// </summary>
    private Task<string> RecordVaultFullAsync(WriteScope write, PolicyRow policy, VaultRow vault, VaultRoom room, CancellationToken ct) =>
        jobs.RecordRefusedAsync(write, "cbr", CbrPolicyCheckpointJob.Type, policy.ProjectId,
            new PolicyCheckpointPayload("", null, policy.Id), OperationFacts(policy, vault, ""), vault.Id,
            CbrErrors.VaultFullCode, CbrErrors.VaultFullMessage(vault.Id, room.UsedGb, room.MoreGb, room.SizeGb), ct);

    /// <summary>What the backup operation log of a run's checkpoint shows (<c>Cbr/CbrOperationLogs</c>).</summary>
    private static JsonObject OperationFacts(PolicyRow policy, VaultRow vault, string checkpointId) => new()
    {
        ["checkpoint_id"] = checkpointId,
        ["policy_id"] = policy.Id,
        ["vault_id"] = vault.Id,
        ["vault_name"] = vault.Name,
        ["provider_id"] = Vaults.ProviderIdOf(vault.ObjectType),
    };

    private async Task<IReadOnlyList<string>> StartCsbsAsync(WriteScope write, PolicyRow policy, CancellationToken ct)
    {
        var started = new List<string>();
        var fullEvery = policy.ParsedDefinition.FullBackupInterval;
        foreach (var resource in await policies.GetResourcesAsync(write, [policy.Id], ct))
        {
            var incremental = await IncrementalAsync(write, PolicyServices.Csbs, null, resource.ResourceId, fullEvery, ct);
            var backup = await capture.StartServerBackupAsync(write, PolicyServices.Csbs, policy.ProjectId, resource.ResourceId, vaultId: null,
                AutomaticName(), "", incremental, ct, policy.Id);
            if (backup is not { } ids) continue;
            await jobs.EnqueueAsync(write, "csbs", CsbsPolicyBackupJob.Type, policy.ProjectId,
                new PolicyCheckpointPayload(ids.CheckpointId, null, policy.Id), new() { ["checkpoint_id"] = ids.CheckpointId }, ids.CheckpointId,
                await serverStore.GetNodeAsync(write, resource.ResourceId, ct), ct);
            started.Add(ids.CheckpointId);
        }
        return started;
    }

    /// <summary>
    /// A resource's first backup is full, and so is every one after <c>full_backup_interval</c> incremental ones
    /// (-1 or unset: never again).
    /// </summary>
    private async Task<bool> IncrementalAsync(WriteScope write, string service, string? vaultId, string resourceId, int? fullEvery,
        CancellationToken ct)
    {
        var sinceFull = await backups.CountSinceLastFullAsync(write, service, vaultId, resourceId, ct);
        return sinceFull is { } count && !(fullEvery is >= 0 && count >= fullEvery);
    }

    /// <summary>CBR and CSBS name scheduled backups <c>autobk_</c> and four hex digits.</summary>
    private static string AutomaticName() => $"autobk_{Ids.NewHex32()[..4]}";
}
