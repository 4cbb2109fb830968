using System.Text.Json;
using Ims.Service.Backups;
using Ims.Service.Cbr;
using Ims.Service.Ecs;
using Ims.Service.Http;
using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Policies;

/// <summary>Input of a policy's checkpoint job: the checkpoint job's own, and the policy whose retention follows the capture.</summary>
public sealed record PolicyCheckpointPayload(string CheckpointId, Dictionary<string, List<string>>? Excludes, string PolicyId);

/// <summary>
/// Starts the automatic backups of one policy run through <see cref="BackupCapture"/>, as a request would: CBR, one
/// checkpoint per server vault the policy is applied to, holding every server of the vault that can be backed up now
/// (its excluded disks left out); CSBS, one checkpoint per server the policy protects. A server that is busy, stopped
/// in a bad state or gone is left out of this run, as the checkpoint API skips it. Disk vaults are not backed up here
/// yet (the checkpoint API refuses them too).
/// </summary>
public sealed class PolicyBackups(PolicyStore policies, VaultStore vaults, BackupStore backups, BackupCapture capture, JobQueue jobs,
    ServerStore serverStore)
{
    public async Task<IReadOnlyList<string>> StartAsync(WriteScope write, PolicyRow policy, CancellationToken ct) =>
        policy.Service == PolicyServices.Cbr ? await StartCbrAsync(write, policy, ct) : await StartCsbsAsync(write, policy, ct);

    private async Task<IReadOnlyList<string>> StartCbrAsync(WriteScope write, PolicyRow policy, CancellationToken ct)
    {
        var started = new List<string>();
        var fullEvery = policy.ParsedDefinition.FullBackupInterval;
        foreach (var applied in await policies.GetVaultsAsync(write, [policy.Id], ct))
        {
            var vault = await vaults.GetAsync(write, policy.ProjectId, applied.VaultId, ct);
            if (vault is null || vault.ObjectType != "server") continue;
            var servers = new List<VaultResourceRow>();
            foreach (var member in await vaults.GetResourcesAsync(write, [vault.Id], ct))
                if (member.ResourceType == Vaults.ServerType && (await capture.CheckServerAsync(write, policy.ProjectId, member.ResourceId, ct)).Ok)
                    servers.Add(member);
            if (servers.Count == 0) continue;

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
            foreach (var server in servers)
            {
                var backupId = Ids.NewUuid();
                var incremental = await IncrementalAsync(write, PolicyServices.Cbr, vault.Id, server.ResourceId, fullEvery, ct);
                if (await capture.BeginAsync(write, new BackupStart
                    {
                        BackupId = backupId,
                        ProjectId = policy.ProjectId,
                        Service = PolicyServices.Cbr,
                        CheckpointId = checkpointId,
                        VaultId = vault.Id,
                        ServerId = server.ResourceId,
                        Name = name,
                        Incremental = incremental,
                        PolicyId = policy.Id,
                    }, ct))
                    excludes[backupId] = JsonSerializer.Deserialize<List<string>>(server.ExcludeVolumes) ?? [];
            }
            // The captures run where the disks are, as for a checkpoint request: the node of the vault's first server.
            var node = await serverStore.GetNodeAsync(write, servers[0].ResourceId, ct);
            await jobs.EnqueueAsync(write, "cbr", CbrPolicyCheckpointJob.Type, policy.ProjectId,
                new PolicyCheckpointPayload(checkpointId, excludes, policy.Id), new() { ["checkpoint_id"] = checkpointId }, checkpointId, node, ct);
            started.Add(checkpointId);
        }
        return started;
    }

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
