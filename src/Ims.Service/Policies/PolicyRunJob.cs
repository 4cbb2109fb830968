using System.Text.Json.Nodes;
using Ims.Service.Http;
using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Policies;

/// <summary>Input of a policy run: the policy and the slot (Unix ms) it was scheduled for.</summary>
public sealed record PolicyRunPayload(string PolicyId, long ScheduledAt);

/// <summary>
/// One scheduled run of a backup policy. <c>schedule next</c> claims the run (a run withdrawn because its policy changed,
/// was disabled or deleted does nothing) and schedules the slot after now, first, so that a failing run never stops
/// the schedule; <c>start backups</c> starts the backups of everything the policy protects, each checkpoint captured
/// and then pruned by a job of its own (<see cref="CbrPolicyCheckpointJob"/>, <see cref="CsbsPolicyBackupJob"/>).
/// A run that comes late (no node ran jobs at its slot) runs once when a node does, and the next slot is the first
/// after that moment: slots missed meanwhile are not caught up one by one.
/// </summary>
public sealed class PolicyRunJob : JobHandler
{
    public const string Type = "backupPolicyRun";
    public const string ScheduleNext = "schedule next";
    public const string StartBackups = "start backups";

    private readonly PolicyStore _policies;
    private readonly PolicyScheduler _scheduler;
    private readonly PolicyBackups _backups;

    public PolicyRunJob(PolicyStore policies, PolicyScheduler scheduler, PolicyBackups backups)
    {
        _policies = policies;
        _scheduler = scheduler;
        _backups = backups;
        Steps = [new(ScheduleNext, ScheduleNextAsync), new(StartBackups, StartBackupsAsync)];
    }

    public override string JobType => Type;

    public override IReadOnlyList<JobStep> Steps { get; }

    private async Task ScheduleNextAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        var run = job.Payload<PolicyRunPayload>();
        await _policies.LockAsync(write, run.PolicyId, ct);
        var policy = await _policies.GetAsync(write, run.PolicyId, ct);
        if (policy is null || !await _policies.StartRunAsync(write, run.PolicyId, run.ScheduledAt, job.JobId, ct))
        {
            job.Entities["withdrawn"] = true;
            return;
        }
        job.Entities["scheduled_at"] = WireTime.Millis(run.ScheduledAt);
        if (await _scheduler.ScheduleNextAsync(write, policy, job.Time.GetUtcNow(), ct) is { } next)
            job.Entities["next_run"] = WireTime.Millis(next.ToUnixTimeMilliseconds());
    }

    private async Task StartBackupsAsync(JobContext job, WriteScope write, CancellationToken ct)
    {
        if (job.Entities["withdrawn"] is not null) return;
        var policy = await _policies.GetAsync(write, job.Payload<PolicyRunPayload>().PolicyId, ct);
        if (policy is null) return;
        var starts = await _backups.StartAsync(write, policy, ct);
        job.Entities["checkpoint_ids"] = new JsonArray([.. starts.CheckpointIds.Select(id => (JsonNode)id)]);
        // A full vault fails its own backup operation, not the run: the schedule and the other vaults go on.
        if (starts.RefusedOperationIds.Count > 0)
            job.Entities["failed_operation_log_ids"] = new JsonArray([.. starts.RefusedOperationIds.Select(id => (JsonNode)id)]);
    }
}
