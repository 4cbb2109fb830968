using System.Data.Common;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ims.Service.Storage;

namespace Ims.Service.Jobs;

/// <summary>
/// A kind of durable job: an ordered list of idempotent, named steps. The engine records the name of each finished step
/// in the same transaction as the step's own writes, so a job resumed after a crash (or an upgrade) starts at the step
/// after the one it finished last. A name is a stable identity: renaming or removing a step that jobs in flight may have
/// finished needs a migration of their <c>jobs.last_step</c> (a job whose recorded step is unknown fails instead of
/// running the wrong step).
/// </summary>
public abstract class JobHandler
{
    /// <summary>The wire <c>job_type</c>, unique across services (e.g. <c>createServer</c>).</summary>
    public abstract string JobType { get; }

    public abstract IReadOnlyList<JobStep> Steps { get; }

    /// <summary>The error code a job gets when a step keeps failing unexpectedly.</summary>
    public virtual string InternalErrorCode => "IMG.0014";

    /// <summary>
    /// The code a job of this type fails with, at once and without retries, when the storage runs out of space (the
    /// reason says so). IMS's handlers answer IMS's capacity code, <c>IMG.0182</c>; the others their internal code.
    /// </summary>
    public virtual string StorageFullCode => InternalErrorCode;

    /// <summary>Undoes what the job made, in the same transaction that marks it FAIL.</summary>
    public virtual Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct) => Task.CompletedTask;

    /// <summary>
    /// Where a job resumes: the index of the step after <paramref name="lastStep"/> (0 when no step finished), or -1 when
    /// <paramref name="lastStep"/> is not a step of this handler (renamed or removed since the job recorded it).
    /// </summary>
    public int ResumeIndex(string? lastStep)
    {
        if (lastStep is null) return 0;
        var steps = Steps;
        for (var i = 0; i < steps.Count; i++)
            if (string.Equals(steps[i].Name, lastStep, StringComparison.Ordinal)) return i + 1;
        return -1;
    }

    /// <summary>
    /// Refuses handlers the engine could confuse: a job type registered twice, or a handler with an empty or repeated
    /// step name (a job's progress is the name of its last finished step). Checked when the job runner is built.
    /// </summary>
    public static void CheckAll(IEnumerable<JobHandler> handlers)
    {
        var problems = new List<string>();
        foreach (var group in handlers.GroupBy(h => h.JobType, StringComparer.Ordinal))
        {
            if (group.Count() > 1) problems.Add($"job type [{group.Key}] has {group.Count()} handlers");
            foreach (var handler in group.Take(1))
            {
                var names = handler.Steps.Select(s => s.Name).ToList();
                if (names.Count == 0) problems.Add($"job type [{group.Key}] has no steps");
                if (names.Any(string.IsNullOrWhiteSpace)) problems.Add($"job type [{group.Key}] has a step without a name");
                foreach (var repeated in names.GroupBy(n => n, StringComparer.Ordinal).Where(g => g.Count() > 1))
                    problems.Add($"job type [{group.Key}] has {repeated.Count()} steps named [{repeated.Key}]");
            }
        }
        if (problems.Count > 0)
            throw new InvalidOperationException($"The job handlers are inconsistent: {string.Join("; ", problems)}.");
    }
}

/// <summary>
/// One named step. Its optional work runs outside any transaction and must be idempotent (slow work such as copying
/// bytes); what it returns is handed to the step's commit, which runs inside the transaction that records the step as
/// finished. A work result that holds something (<see cref="IDisposable"/> or <see cref="IAsyncDisposable"/>, such as
/// the data plane's lease on new manifests) is released by the engine once the commit's transaction has ended, whether
/// it committed, failed, lost the lease or was cut short by a shutdown; no handler has to remember it.
/// </summary>
public sealed class JobStep
{
    private readonly Func<JobContext, CancellationToken, Task<object?>>? _work;
    private readonly Func<JobContext, object?, WriteScope, CancellationToken, Task> _commit;

    private JobStep(string name, Func<JobContext, CancellationToken, Task<object?>>? work,
        Func<JobContext, object?, WriteScope, CancellationToken, Task> commit)
    {
        Name = name;
        _work = work;
        _commit = commit;
    }

    /// <summary>A step that only writes, inside its transaction.</summary>
    public JobStep(string name, Func<JobContext, WriteScope, CancellationToken, Task> commit)
        : this(name, null, (job, _, write, ct) => commit(job, write, ct))
    {
    }

    /// <summary>A step whose work's result is handed to its commit.</summary>
    public static JobStep WithWork<TWork>(string name, Func<JobContext, CancellationToken, Task<TWork>> work,
        Func<JobContext, TWork, WriteScope, CancellationToken, Task> commit) =>
        new(name, async (job, ct) => await work(job, ct), (job, result, write, ct) => commit(job, (TWork)result!, write, ct));

    /// <summary>A step with work that hands nothing to its commit.</summary>
    public static JobStep WithWork(string name, Func<JobContext, CancellationToken, Task> work,
        Func<JobContext, WriteScope, CancellationToken, Task> commit) =>
        new(name, async (job, ct) => { await work(job, ct); return null; }, (job, _, write, ct) => commit(job, write, ct));

    /// <summary>The step's stable name: what <c>jobs.last_step</c> records and fault rules name.</summary>
    public string Name { get; }

    public bool HasWork => _work is not null;

    /// <summary>Runs the work outside any transaction (nothing for a step without work).</summary>
    public Task<object?> WorkAsync(JobContext job, CancellationToken ct) =>
        _work is null ? Task.FromResult<object?>(null) : _work(job, ct);

    /// <summary>Runs the commit inside <paramref name="write"/> with what <see cref="WorkAsync"/> returned.</summary>
    public Task CommitAsync(JobContext job, object? work, WriteScope write, CancellationToken ct) => _commit(job, work, write, ct);

    /// <summary>The same step (name and work) with <paramref name="more"/> written after its own commit, in its transaction.</summary>
    public JobStep ThenCommit(Func<JobContext, WriteScope, CancellationToken, Task> more) =>
        new(Name, _work, async (job, result, write, ct) =>
        {
            await _commit(job, result, write, ct);
            await more(job, write, ct);
        });

    /// <summary>Lets go of what a work result holds; the engine calls it once the step's transaction has ended.</summary>
    public static async ValueTask ReleaseAsync(object? work)
    {
        switch (work)
        {
            case IAsyncDisposable asyncDisposable:
                await asyncDisposable.DisposeAsync();
                break;
            case IDisposable disposable:
                disposable.Dispose();
                break;
        }
    }
}

/// <summary>A step's view of its job.</summary>
public sealed class JobContext(JobRow row, TimeProvider time, IServiceProvider services)
{
    public JobRow Row { get; } = row;
    public string JobId => Row.Id;
    public string ProjectId => Row.ProjectId;
    public TimeProvider Time { get; } = time;
    public IServiceProvider Services { get; } = services;

    /// <summary>The wire entities; changes are saved with the step that makes them.</summary>
    public JsonObject Entities { get; } = JsonNode.Parse(row.Entities)?.AsObject() ?? [];

    public long NowMs => Time.GetUtcNow().ToUnixTimeMilliseconds();

    public T Payload<T>() => JsonSerializer.Deserialize<T>(Row.Payload, JobQueue.PayloadOptions)
        ?? throw new InvalidOperationException($"Job {Row.Id} has an empty payload.");

    /// <summary>Ends the job in FAIL with a wire error code and reason.</summary>
    public static JobFailedException Fail(string code, string reason) => new(code, reason);
}

public sealed class JobFailedException(string code, string reason) : Exception(reason)
{
    public string Code { get; } = code;
}

/// <summary>A row of the jobs table.</summary>
public sealed record JobRow
{
    public required string Id { get; init; }
    public required string ProjectId { get; init; }
    public required string Service { get; init; }
    public required string JobType { get; init; }
    public required string Status { get; init; }
    public required string Payload { get; init; }
    public required string Entities { get; init; }
    public string? ResourceId { get; init; }
    /// <summary>The name of the last finished step; null before the first (<see cref="JobHandler.ResumeIndex"/>).</summary>
    public string? LastStep { get; init; }
    public long Attempts { get; init; }
    public long BeginTime { get; init; }
    public long? EndTime { get; init; }
    public string? ErrorCode { get; init; }
    public string? FailReason { get; init; }

    /// <summary>The fault-injection rule bound to the job when it started (<see cref="JobFaults"/>), if any.</summary>
    public string? FaultId { get; init; }

    /// <summary>Maps a row selected with JobQueue's column list, by position (the hot job query skips Dapper).</summary>
    internal static JobRow Read(DbDataReader r) => new()
    {
        Id = r.GetString(0),
        ProjectId = r.GetString(1),
        Service = r.GetString(2),
        JobType = r.GetString(3),
        Status = r.GetString(4),
        Payload = r.GetString(5),
        Entities = r.GetString(6),
        ResourceId = r.IsDBNull(7) ? null : r.GetString(7),
        LastStep = r.IsDBNull(8) ? null : r.GetString(8),
        Attempts = r.GetInt64(9),
        BeginTime = r.GetInt64(10),
        EndTime = r.IsDBNull(11) ? null : r.GetInt64(11),
        ErrorCode = r.IsDBNull(12) ? null : r.GetString(12),
        FailReason = r.IsDBNull(13) ? null : r.GetString(13),
        FaultId = r.FieldCount > 14 && !r.IsDBNull(14) ? r.GetString(14) : null,
    };
}

public static class JobStatus
{
    public const string Init = "INIT";
    public const string Running = "RUNNING";
    public const string Success = "SUCCESS";
    public const string Fail = "FAIL";
}
