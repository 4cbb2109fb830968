using System.Text.Json.Nodes;
using Ims.Service.Backups;
using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Policies;

/// <summary>
/// Applies a policy's retention after one of its checkpoints is captured: for each resource the checkpoint backed up,
/// the automatic backups <see cref="Retention"/> lets go are deleted through <see cref="BackupRemoval"/>, except those
/// a live image was made from (deletion protection, as for a request) and those still being written. Backups made
/// by requests are never pruned.
/// </summary>
public sealed class PolicyRetention(PolicyStore policies, BackupStore backups, BackupRemoval removal)
{
    public const string Step = "apply retention";

    public async Task ApplyAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        var run = job.Payload<PolicyCheckpointPayload>();
        var policy = await policies.GetAsync(write, run.PolicyId, ct);
        if (policy is null) return; // deleted meanwhile: its backups stay, as the real services keep them
        var rules = policy.ParsedDefinition.Rules;
        var pruned = new List<string>();
        foreach (var backup in await backups.GetBackupsOfCheckpointAsync(write, run.CheckpointId, ct))
        {
            if (backup.Status != BackupStatus.Available) continue;
            var candidates = await backups.GetAutomaticBackupsAsync(write, backup.Service, backup.VaultId, backup.ResourceId, ct);
            var expired = new List<string>();
            foreach (var id in Retention.Expired([.. candidates.Select(c => new RetainedBackup(c.Id, c.CreatedAt))], rules, job.Time.GetUtcNow()))
                if (await removal.CheckAsync(write, [id], ct) == RemovalProblem.None) expired.Add(id);
            await removal.DeleteAsync(write, backup.ProjectId, expired, ct);
            pruned.AddRange(expired);
        }
        job.Entities["pruned_backup_ids"] = new JsonArray([.. pruned.Select(id => (JsonNode)id)]);
    }
}

/// <summary>Captures a CBR policy run's checkpoint (the steps of <c>cbrCreateCheckpoint</c>), then applies the policy's retention.</summary>
public sealed class CbrPolicyCheckpointJob : CheckpointJob
{
    public const string Type = "cbrPolicyCheckpoint";

    public CbrPolicyCheckpointJob(BackupSteps backup, PolicyRetention retention) : base(backup) =>
        Steps = [.. base.Steps, new JobStep(PolicyRetention.Step, retention.ApplyAsync)];

    public override string JobType => Type;

    public override IReadOnlyList<JobStep> Steps { get; }

    public override string InternalErrorCode => "BackupService.9999";

    protected override string NothingToCaptureCode => "BackupService.0001";
}

/// <summary>Captures a CSBS policy run's backup (the steps of <c>csbsCreateBackup</c>), then applies the policy's retention.</summary>
public sealed class CsbsPolicyBackupJob : CheckpointJob
{
    public const string Type = "csbsPolicyBackup";

    public CsbsPolicyBackupJob(BackupSteps backup, PolicyRetention retention) : base(backup) =>
        Steps = [.. base.Steps, new JobStep(PolicyRetention.Step, retention.ApplyAsync)];

    public override string JobType => Type;

    public override IReadOnlyList<JobStep> Steps { get; }

    public override string InternalErrorCode => "CSBS.9998";

    protected override string NothingToCaptureCode => "CSBS.6000";
}
