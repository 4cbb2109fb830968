using Dapper;
using Ims.Service.Storage;
using Microsoft.Extensions.Options;

namespace Ims.Service.Jobs;

/// <summary>A fault-injection rule: which jobs it chooses, and what it does to them.</summary>
public sealed record FaultRule
{
    public required string Id { get; init; }
    public string? JobType { get; init; }
    public string? ResourceId { get; init; }
    public string? Step { get; init; }
    public string? ErrorCode { get; init; }
    public string? Message { get; init; }
    public long DelayMs { get; init; }
    public long? Remaining { get; init; }
    public long CreatedAt { get; init; }

    /// <summary>A rule naming a step acts only there; one naming none slows every step.</summary>
    public bool SlowsAt(JobStep step) => DelayMs > 0 && (Step is null || Step == step.Name);

    /// <summary>A rule naming no step fails the job at its first step, before it has changed anything.</summary>
    public bool FailsAt(JobStep step, int index) => ErrorCode is not null && (Step is null ? index == 0 : Step == step.Name);
}

/// <summary>
/// Fault injection for jobs. A rule is bound to a job when the job starts, in one transaction with the decrement of
/// the rule's count, so that "the next N jobs" is exactly N jobs with any number of workers and nodes and across
/// restarts; later steps (and a resumed job) find the binding on the job row. The rule itself is read again
/// before each step, so deleting it stops what it does to jobs already bound to it.
/// </summary>
public sealed class JobFaults(Database db, JobQueue queue, TimeProvider time, IOptions<JobOptions> options)
{
    private const string Columns = "id, job_type AS JobType, resource_id AS ResourceId, step, error_code AS ErrorCode, " +
        "message, delay_ms AS DelayMs, remaining, created_at AS CreatedAt";

    /// <summary>A slowed job looks this often whether its rule was deleted, so that deleting it releases the job soon.</summary>
    private static readonly TimeSpan RecheckInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// The rule bound to <paramref name="job"/>: the one bound earlier, or, for a job that has not started yet, the
    /// oldest matching rule with jobs left to choose, bound now. Null when no rule applies.
    /// </summary>
    /// <remarks>Not named BindAsync: Minimal API would then take this class, an endpoint parameter, for a bindable type.</remarks>
    public async Task<string?> BindRuleAsync(JobRow job, string owner, JobHandler handler, CancellationToken ct)
    {
        if (job.FaultId is not null) return job.FaultId;
        if (job.LastStep is not null) return null;

        // Looking first without the write lock keeps the common case (no rules) to one read per job.
        List<FaultRule> candidates;
        await using (var connection = await db.OpenAsync(ct))
        {
            candidates = (await connection.QueryAsync<FaultRule>(new CommandDefinition(
                $"""
                SELECT {Columns} FROM job_faults
                WHERE (job_type IS NULL OR job_type = @JobType) AND (resource_id IS NULL OR resource_id = @ResourceId)
                  AND (remaining IS NULL OR remaining > 0)
                ORDER BY created_at, id
                """,
                new { job.JobType, job.ResourceId }, cancellationToken: ct)))
                .Where(rule => rule.Step is null || handler.Steps.Any(step => step.Name == rule.Step))
                .ToList();
        }
        if (candidates.Count == 0) return null;

        await using var write = await db.BeginWriteAsync(ct);
        foreach (var rule in candidates)
        {
            // The conditional decrement decides between concurrent binders: a rule used up meanwhile takes no job.
            var taken = await write.Connection.ExecuteAsync(new CommandDefinition(
                "UPDATE job_faults SET remaining = remaining - 1 WHERE id = @id AND (remaining IS NULL OR remaining > 0)",
                new { id = rule.Id }, write.Transaction, cancellationToken: ct));
            if (taken == 0) continue;
            var bound = await write.Connection.ExecuteAsync(new CommandDefinition(
                "UPDATE jobs SET fault_id = @ruleId WHERE id = @jobId AND lease_owner = @owner AND fault_id IS NULL AND last_step IS NULL",
                new { ruleId = rule.Id, jobId = job.Id, owner }, write.Transaction, cancellationToken: ct));
            if (bound == 0) return null; // the lease is gone; disposing rolls the decrement back and the new owner binds
            await write.CommitAsync(ct);
            return rule.Id;
        }
        return null;
    }

    /// <summary>
    /// Applies the bound rule before step <paramref name="index"/>: waits its delay, then, at its step, ends the job
    /// exactly as the step would by throwing <see cref="JobContext.Fail"/> (so the handler compensates).
    /// </summary>
    public async Task BeforeStepAsync(string? faultId, JobRow job, string owner, JobStep step, int index, CancellationToken ct)
    {
        if (faultId is null) return;
        var rule = await FindAsync(faultId, ct);
        if (rule is not null && rule.SlowsAt(step)) rule = await WaitAsync(rule, job.Id, owner, ct);
        if (rule is not null && rule.FailsAt(step, index))
            throw JobContext.Fail(rule.ErrorCode!, rule.Message ?? $"Fault injected by rule {rule.Id}.");
    }

    /// <summary>Waits the rule's delay, renewing the lease; returns null as soon as the rule has been deleted.</summary>
    private async Task<FaultRule?> WaitAsync(FaultRule rule, string jobId, string owner, CancellationToken ct)
    {
        var lease = options.Value.Lease;
        var until = time.GetUtcNow().AddMilliseconds(rule.DelayMs);
        var renewed = time.GetUtcNow();
        for (var now = renewed; now < until; now = time.GetUtcNow())
        {
            var left = until - now;
            await Task.Delay(left < RecheckInterval ? left : RecheckInterval, time, ct);
            if (await FindAsync(rule.Id, ct) is null) return null;
            if (time.GetUtcNow() - renewed < lease / 3) continue;
            // A lost lease ends the wait; the engine notices when it records the step and stops there.
            if (!await queue.RenewLeaseAsync(jobId, owner, ct)) return rule;
            renewed = time.GetUtcNow();
        }
        return rule;
    }

    public async Task InsertAsync(FaultRule rule, CancellationToken ct)
    {
        await using var write = await db.BeginWriteAsync(ct);
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO job_faults (id, job_type, resource_id, step, error_code, message, delay_ms, remaining, created_at)
            VALUES (@Id, @JobType, @ResourceId, @Step, @ErrorCode, @Message, @DelayMs, @Remaining, @CreatedAt)
            """,
            rule, write.Transaction, cancellationToken: ct));
        await write.CommitAsync(ct);
    }

    public async Task<FaultRule?> FindAsync(string id, CancellationToken ct)
    {
        await using var connection = await db.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<FaultRule>(new CommandDefinition(
            $"SELECT {Columns} FROM job_faults WHERE id = @id", new { id }, cancellationToken: ct));
    }

    /// <summary>Every rule, in the order jobs try them.</summary>
    public async Task<List<FaultRule>> ListAsync(CancellationToken ct)
    {
        await using var connection = await db.OpenAsync(ct);
        return (await connection.QueryAsync<FaultRule>(new CommandDefinition(
            $"SELECT {Columns} FROM job_faults ORDER BY created_at, id", cancellationToken: ct))).AsList();
    }

    /// <summary>The jobs each rule has chosen, oldest first.</summary>
    public async Task<ILookup<string, string>> ChosenJobsAsync(IReadOnlyCollection<string> ruleIds, CancellationToken ct)
    {
        if (ruleIds.Count == 0) return Array.Empty<string>().ToLookup(id => id);
        await using var connection = await db.OpenAsync(ct);
        var rows = await connection.QueryAsync<(string FaultId, string JobId)>(new CommandDefinition(
            "SELECT fault_id, id FROM jobs WHERE fault_id IN @ruleIds ORDER BY begin_time, id",
            new { ruleIds }, cancellationToken: ct));
        return rows.ToLookup(r => r.FaultId, r => r.JobId, StringComparer.Ordinal);
    }

    /// <summary>Deletes one rule (or all when <paramref name="id"/> is null); jobs bound to it run on unharmed.</summary>
    public async Task<bool> DeleteAsync(string? id, CancellationToken ct)
    {
        await using var write = await db.BeginWriteAsync(ct);
        var rows = await write.Connection.ExecuteAsync(new CommandDefinition(
            id is null ? "DELETE FROM job_faults" : "DELETE FROM job_faults WHERE id = @id",
            new { id }, write.Transaction, cancellationToken: ct));
        await write.CommitAsync(ct);
        return rows > 0;
    }
}
