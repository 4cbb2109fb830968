using Dapper;
using Ims.Service.Http;
using Ims.Service.Storage;

namespace Ims.Service.Ecs;

/// <summary>What <see cref="ServerGuards.TryClaimAsync"/> found.</summary>
public enum ClaimOutcome
{
    Claimed,
    NotFound,
    Busy,
}

/// <summary>The outcome of a claim, with the server's state as it was seen in the claiming transaction.</summary>
public sealed record ServerClaim(ClaimOutcome Outcome, string ServerId, string? Status, string? TaskState)
{
    public bool Claimed => Outcome == ClaimOutcome.Claimed;

    /// <summary>The ECS answer for a claim that did not succeed (null when it did).</summary>
    public ApiError? EcsRefusal() => Outcome switch
    {
        ClaimOutcome.NotFound => EcsErrors.NotFound(ServerId),
        ClaimOutcome.Busy => EcsErrors.Conflict(
            $"Instance[{ServerId}] is busy: task_state {TaskState} is in progress. Try again when the task has finished."),
        _ => null,
    };
}

/// <summary>
/// The one place that decides whether a job may start working on a server. <c>servers.task_state</c> is the
/// lock: a job sets it in the transaction that enqueues it and clears it when it ends, so any other request
/// (ECS power or disk actions, backups, whole images) sees the server as busy until then.
/// </summary>
public static class ServerGuards
{
    public const string Spawning = "spawning";
    public const string PoweringOff = "powering-off";
    public const string PoweringOn = "powering-on";
    public const string Rebooting = "rebooting";
    public const string Deleting = "deleting";
    public const string Resizing = "resize_prep";

    /// <summary>
    /// Takes the server for a task if nobody else holds it: a conditional update, so that two concurrent
    /// requests cannot both win (on PostgreSQL the row lock serialises them; on SQLite there is one writer).
    /// </summary>
    public static async Task<ServerClaim> TryClaimAsync(WriteScope write, string projectId, string serverId, string taskState,
        long nowMs, CancellationToken ct)
    {
        var claimed = await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE servers SET task_state = @taskState, updated_at = @nowMs
            WHERE id = @serverId AND project_id = @projectId AND task_state IS NULL
            """,
            new { taskState, nowMs, serverId, projectId }, write.Transaction, cancellationToken: ct));
        var state = await write.Connection.QuerySingleOrDefaultAsync<StateRow>(new CommandDefinition(
            "SELECT status AS Status, task_state AS TaskState FROM servers WHERE id = @serverId AND project_id = @projectId",
            new { serverId, projectId }, write.Transaction, cancellationToken: ct));
        if (state is null) return new ServerClaim(ClaimOutcome.NotFound, serverId, null, null);
        return claimed == 1
            ? new ServerClaim(ClaimOutcome.Claimed, serverId, state.Status, taskState)
            : new ServerClaim(ClaimOutcome.Busy, serverId, state.Status, state.TaskState);
    }

    /// <summary>
    /// For requests that work on a server without holding it (disk attach and detach): the ECS refusal when
    /// another job holds the server, else null.
    /// </summary>
    public static ApiError? RefuseIfBusy(ServerRow server) => server.TaskState is null ? null
        : new ServerClaim(ClaimOutcome.Busy, server.Id, server.Status, server.TaskState).EcsRefusal();

    /// <summary>Hands the server back, but only if <paramref name="taskState"/> still holds it.</summary>
    public static Task ReleaseAsync(WriteScope write, string serverId, string taskState, long nowMs, CancellationToken ct) =>
        write.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE servers SET task_state = NULL, updated_at = @nowMs WHERE id = @serverId AND task_state = @taskState",
            new { serverId, taskState, nowMs }, write.Transaction, cancellationToken: ct));

    /// <summary>
    /// Whether any disk of the server is being attached or detached. Disk jobs do not hold the server (several
    /// disks may move at once, as on real ECS), so work that must see a stable set of disks checks this too.
    /// </summary>
    public static async Task<bool> HasDisksInTransitAsync(WriteScope write, string serverId, CancellationToken ct) =>
        await write.Connection.ExecuteScalarAsync<long>(new CommandDefinition(
            """
            SELECT COUNT(*) FROM volume_attachments a JOIN volumes v ON v.id = a.volume_id
            WHERE a.server_id = @serverId AND v.status IN ('attaching', 'detaching')
            """,
            new { serverId }, write.Transaction, cancellationToken: ct)) > 0;

    private sealed record StateRow
    {
        public string Status { get; init; } = "";
        public string? TaskState { get; init; }
    }
}
