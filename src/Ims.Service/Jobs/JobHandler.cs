using System.Data.Common;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ims.Service.Storage;

namespace Ims.Service.Jobs;

/// <summary>
/// A kind of durable job: an ordered list of idempotent steps. The engine records each finished step in the
/// same transaction as the step's own writes, so a job resumed after a crash starts at the first unfinished step.
/// </summary>
public abstract class JobHandler
{
    /// <summary>The wire <c>job_type</c>, unique across services (e.g. <c>createServer</c>).</summary>
    public abstract string JobType { get; }

    public abstract IReadOnlyList<JobStep> Steps { get; }

    /// <summary>The error code a job gets when a step keeps failing unexpectedly.</summary>
    public virtual string InternalErrorCode => "IMG.0014";

    /// <summary>Undoes what the job made, in the same transaction that marks it FAIL.</summary>
    public virtual Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct) => Task.CompletedTask;
}

/// <summary>
/// One step. <see cref="Work"/> (optional) runs outside any transaction and must be idempotent, for slow work
/// such as copying bytes; <see cref="Commit"/> runs inside the transaction that records the step as finished.
/// </summary>
public sealed record JobStep(string Name, Func<JobContext, WriteScope, CancellationToken, Task> Commit)
{
    public Func<JobContext, CancellationToken, Task>? Work { get; init; }
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
    public long Step { get; init; }
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
        Step = r.GetInt64(8),
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
