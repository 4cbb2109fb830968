using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Ims.Service.Http;
using Ims.Service.Nodes;
using Ims.Service.Storage;
using Microsoft.Extensions.Options;

namespace Ims.Service.Jobs;

/// <summary>The jobs table: enqueue inside a caller's transaction, claim with a lease, record progress.</summary>
public sealed class JobQueue(Database db, TimeProvider time, IOptions<JobOptions> options, IOptions<NodeOptions> nodeOptions)
{
    internal static readonly JsonSerializerOptions PayloadOptions = new(JsonSerializerDefaults.Web);

    /// <summary>In the order <see cref="JobRow.Read"/> reads them.</summary>
    private const string Columns = "id, project_id AS ProjectId, service, job_type AS JobType, status, payload, entities, " +
        "resource_id AS ResourceId, last_step AS LastStep, attempts, begin_time AS BeginTime, end_time AS EndTime, " +
        "error_code AS ErrorCode, fail_reason AS FailReason, fault_id AS FaultId";

    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);

    /// <summary>
    /// Writes a new job in the caller's transaction: the job exists if and only if the change that starts it
    /// commits. Workers are woken once the transaction commits. A job that touches volumes' bytes runs on
    /// <paramref name="node"/>, the node that hosts them (null: any node). A job with <paramref name="runAfter"/> waits
    /// until then (scheduled work: a backup policy's next run).
    /// </summary>
    public async Task<string> EnqueueAsync(WriteScope write, string service, string jobType, string projectId,
        object payload, JsonObject? entities, string? resourceId, string? node, CancellationToken ct, DateTimeOffset? runAfter = null)
    {
        var id = Ids.NewHex32();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var due = runAfter?.ToUnixTimeMilliseconds() ?? now;
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO jobs (id, project_id, service, job_type, status, payload, entities, resource_id, run_after, begin_time, node)
            VALUES (@id, @projectId, @service, @jobType, 'INIT', @payload, @entities, @resourceId, @due, @now, @node)
            """,
            new
            {
                id, projectId, service, jobType, resourceId, now, due, node,
                payload = JsonSerializer.Serialize(payload, PayloadOptions),
                entities = (entities ?? []).ToJsonString(),
            }, write.Transaction, cancellationToken: ct));
        write.OnCommitted(Wake);
        return id;
    }

    /// <summary>
    /// Writes a job that failed before it could start, in the caller's transaction: what a refused piece of scheduled work
    /// leaves behind so that clients see it as they see any failed job (a policy run's backup of a vault that is full).
    /// It is never claimed.
    /// </summary>
    public async Task<string> RecordRefusedAsync(WriteScope write, string service, string jobType, string projectId, object payload,
        JsonObject entities, string? resourceId, string code, string reason, CancellationToken ct)
    {
        var id = Ids.NewHex32();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        entities["error_code"] = code;
        entities["error"] = reason;
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO jobs (id, project_id, service, job_type, status, payload, entities, resource_id, run_after, begin_time,
                              end_time, error_code, fail_reason)
            VALUES (@id, @projectId, @service, @jobType, 'FAIL', @payload, @entities, @resourceId, @now, @now, @now, @code, @reason)
            """,
            new
            {
                id, projectId, service, jobType, resourceId, now, code, reason,
                payload = JsonSerializer.Serialize(payload, PayloadOptions),
                entities = entities.ToJsonString(),
            }, write.Transaction, cancellationToken: ct));
        return id;
    }

    /// <summary>The project's jobs of the given types, newest first (CBR's operation logs are read from them).</summary>
    public async Task<IReadOnlyList<JobRow>> ListAsync(string projectId, IReadOnlyCollection<string> jobTypes, CancellationToken ct)
    {
        await using var connection = await db.OpenAsync(ct);
        return [.. await connection.QueryAsync<JobRow>(new CommandDefinition(
            $"SELECT {Columns} FROM jobs WHERE project_id = @projectId AND job_type IN @jobTypes ORDER BY begin_time DESC, id",
            new { projectId, jobTypes }, cancellationToken: ct))];
    }

    /// <summary>
    /// The project's jobs of a type that have not finished (to cap how many may run at once). The count decides whether
    /// one more may start, so it takes the (project, type) lock first, held until the transaction ends.
    /// </summary>
    public async Task<long> CountUnfinishedAsync(WriteScope tx, string projectId, string jobType, CancellationToken ct)
    {
        await tx.LockAsync($"unfinished-jobs:{projectId}:{jobType}", ct);
        return await tx.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM jobs WHERE project_id = @projectId AND job_type = @jobType AND status IN ('INIT', 'RUNNING')",
            new { projectId, jobType }, ct);
    }

    /// <summary>
    /// Whether a job of <paramref name="jobType"/> on <paramref name="resourceId"/> has not finished (one at a time per
    /// resource). Takes the (type, resource) lock first, held until the transaction ends, so two requests cannot both
    /// find none.
    /// </summary>
    public async Task<bool> AnyUnfinishedAsync(WriteScope tx, string jobType, string resourceId, CancellationToken ct)
    {
        await tx.LockAsync($"unfinished-jobs:{jobType}:{resourceId}", ct);
        return await tx.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM jobs WHERE resource_id = @resourceId AND job_type = @jobType AND status IN ('INIT', 'RUNNING')",
            new { resourceId, jobType }, ct) > 0;
    }

    public void Wake() => _wake.Release();

    /// <summary>Waits until a job is queued or the poll interval passes.</summary>
    public Task<bool> WaitForWorkAsync(CancellationToken ct) =>
        _wake.WaitAsync(options.Value.PollInterval, ct);

    /// <summary>The job query (GET /v1/{project_id}/jobs/{job_id}): clients poll it, so it is a prepared read.</summary>
    public Task<JobRow?> FindAsync(string projectId, string jobId, CancellationToken ct) =>
        db.ReadAsync(FindSql, [("@jobId", jobId), ("@projectId", projectId)],
            reader => reader.Read() ? JobRow.Read(reader) : null, ct);

    private const string FindSql = $"SELECT {Columns} FROM jobs WHERE id = @jobId AND project_id = @projectId";

    /// <summary>
    /// Claims the oldest due job whose lease is free or expired and that may run on this node (bound to it, or to no
    /// node), or returns null.
    /// </summary>
    public async Task<JobRow?> ClaimAsync(string owner, CancellationToken ct)
    {
        var node = nodeOptions.Value.Name;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var write = await db.BeginWriteAsync(ct);
        var row = await write.Connection.QuerySingleOrDefaultAsync<JobRow>(new CommandDefinition(
            $"""
            UPDATE jobs SET lease_owner = @owner, lease_until = @until, attempts = attempts + 1, status = 'RUNNING'
            WHERE id = (SELECT id FROM jobs
                        WHERE status IN ('INIT', 'RUNNING') AND run_after <= @now
                          AND (lease_until IS NULL OR lease_until < @now) AND (node IS NULL OR node = @node)
                        ORDER BY run_after LIMIT 1{db.ClaimLockClause})
            RETURNING {Columns}
            """,
            new { owner, node, now, until = now + (long)options.Value.Lease.TotalMilliseconds }, write.Transaction, cancellationToken: ct));
        await write.CommitAsync(ct);
        return row;
    }

    /// <summary>
    /// Records <paramref name="step"/> as the job's last finished step inside the step's transaction, but only while
    /// <paramref name="owner"/> still holds the lease; false means another worker took the job over and this one must stop.
    /// </summary>
    public async Task<bool> RecordStepAsync(WriteScope write, string jobId, string owner, string step, JsonObject entities,
        bool finished, CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var rows = await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE jobs SET last_step = @step, entities = @entities, lease_until = @until,
                status = CASE WHEN @finished THEN 'SUCCESS' ELSE status END,
                end_time = CASE WHEN @finished THEN @now ELSE end_time END,
                lease_owner = CASE WHEN @finished THEN NULL ELSE lease_owner END
            WHERE id = @jobId AND lease_owner = @owner
            """,
            new { jobId, owner, step, finished, now, entities = entities.ToJsonString(),
                  until = now + (long)options.Value.Lease.TotalMilliseconds },
            write.Transaction, cancellationToken: ct));
        return rows == 1;
    }

    public async Task<bool> RecordFailureAsync(WriteScope write, string jobId, string owner, string code, string reason,
        JsonObject entities, CancellationToken ct)
    {
        entities["error_code"] = code;
        entities["error"] = reason;
        var rows = await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE jobs SET status = 'FAIL', error_code = @code, fail_reason = @reason, end_time = @now,
                entities = @entities, lease_owner = NULL, lease_until = NULL
            WHERE id = @jobId AND lease_owner = @owner
            """,
            new { jobId, owner, code, reason, entities = entities.ToJsonString(), now = time.GetUtcNow().ToUnixTimeMilliseconds() },
            write.Transaction, cancellationToken: ct));
        return rows == 1;
    }

    /// <summary>Extends the lease of a job that is still working (a long wait); false when the lease was lost.</summary>
    public async Task<bool> RenewLeaseAsync(string jobId, string owner, CancellationToken ct)
    {
        await using var write = await db.BeginWriteAsync(ct);
        var rows = await write.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE jobs SET lease_until = @until WHERE id = @jobId AND lease_owner = @owner",
            new { jobId, owner, until = time.GetUtcNow().Add(options.Value.Lease).ToUnixTimeMilliseconds() },
            write.Transaction, cancellationToken: ct));
        await write.CommitAsync(ct);
        return rows == 1;
    }

    /// <summary>Gives a job back to the queue (shutdown, or a retry after <paramref name="delay"/>).</summary>
    public async Task ReleaseAsync(string jobId, string owner, TimeSpan delay, CancellationToken ct)
    {
        await using var write = await db.BeginWriteAsync(ct);
        await write.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE jobs SET lease_owner = NULL, lease_until = NULL, run_after = @runAfter WHERE id = @jobId AND lease_owner = @owner",
            new { jobId, owner, runAfter = time.GetUtcNow().Add(delay).ToUnixTimeMilliseconds() }, write.Transaction, cancellationToken: ct));
        await write.CommitAsync(ct);
    }
}
