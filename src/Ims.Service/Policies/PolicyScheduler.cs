using System.Text.Json.Nodes;
using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Policies;

/// <summary>
/// Puts a policy's next run in the database: a <see cref="PolicyRunJob"/> due at the slot, and the slot's claim in
/// <c>policy_runs</c>, in the caller's transaction under the policy's lock. A policy has at most one run waiting; each
/// run schedules the one after it, so a restart loses nothing and two nodes never run a slot twice.
/// </summary>
public sealed class PolicyScheduler(PolicyStore policies, JobQueue jobs, TimeProvider time)
{
    /// <summary>Withdraws the runs not yet started and schedules the next slot from now (after a create or any change).</summary>
    public async Task RescheduleAsync(WriteScope tx, PolicyRow policy, CancellationToken ct)
    {
        await policies.LockAsync(tx, policy.Id, ct);
        await policies.WithdrawPendingRunsAsync(tx, policy.Id, ct);
        await ScheduleNextAsync(tx, policy, time.GetUtcNow(), ct);
    }

    /// <summary>
    /// At start-up: schedules again every enabled backup policy that has no run waiting, which happens only when a run
    /// job was abandoned before it scheduled its successor. A run that is merely overdue is left to run.
    /// </summary>
    public async Task RepairAsync(Database db, CancellationToken ct)
    {
        foreach (var policy in await policies.GetUnscheduledAsync(ct))
        {
            await using var tx = await db.BeginWriteAsync(ct);
            await policies.LockAsync(tx, policy.Id, ct);
            await ScheduleNextAsync(tx, policy, time.GetUtcNow(), ct);
            await tx.CommitAsync(ct);
        }
    }

    /// <summary>
    /// Schedules the policy's first slot after <paramref name="after"/> unless it is disabled, replicates (not run here)
    /// or that slot is already claimed. Returns the slot, or null when nothing is scheduled. Call under the policy's lock.
    /// </summary>
    public async Task<DateTimeOffset?> ScheduleNextAsync(WriteScope tx, PolicyRow policy, DateTimeOffset after, CancellationToken ct)
    {
        if (policy.Enabled == 0 || policy.OperationType != PolicyOperation.Backup) return null;
        var (schedule, _) = PolicySchedule.Parse(policy.ParsedPatterns, DateTimeOffset.FromUnixTimeMilliseconds(policy.CreatedAt));
        if (schedule?.NextAfter(after) is not { } next) return null;
        var slot = next.ToUnixTimeMilliseconds();
        if (await policies.HasRunAsync(tx, policy.Id, slot, ct)) return next;
        var jobId = await jobs.EnqueueAsync(tx, policy.Service == PolicyServices.Cbr ? "cbr" : "csbs", PolicyRunJob.Type, policy.ProjectId,
            new PolicyRunPayload(policy.Id, slot), new JsonObject { ["policy_id"] = policy.Id }, policy.Id, node: null, ct, runAfter: next);
        await policies.AddRunAsync(tx, policy.Id, slot, jobId, ct);
        return next;
    }
}

public static class PolicyServices
{
    public const string Cbr = "CBR";
    public const string Csbs = "CSBS";
}
