using Ims.Service.Storage;

namespace Ims.Service.Nodes;

/// <summary>A registered node: where other nodes reach it, and when it last said it was alive.</summary>
public sealed record NodeRow(string Name, string Url, long StartedAt, long HeartbeatAt);

/// <summary>The <c>nodes</c> table: every node registers its URL at start and renews its heartbeat while it runs.</summary>
public sealed class NodeStore(Database db)
{
    /// <summary>Registers a node or renews its heartbeat (and its URL, which changes with the port it got).</summary>
    public Task UpsertAsync(WriteScope tx, string name, string url, long startedAtMs, long nowMs, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            INSERT INTO nodes (name, url, started_at, heartbeat_at) VALUES (@name, @url, @startedAtMs, @nowMs)
            ON CONFLICT (name) DO UPDATE SET url = @url, started_at = @startedAtMs, heartbeat_at = @nowMs
            """, new { name, url, startedAtMs, nowMs }, ct);

    public Task<NodeRow?> GetAsync(string name, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<NodeRow>(
            "SELECT name AS Name, url AS Url, started_at AS StartedAt, heartbeat_at AS HeartbeatAt FROM nodes WHERE name = @name",
            new { name }, ct);

    public Task<List<NodeRow>> ListAsync(CancellationToken ct) =>
        db.QueryAsync<NodeRow>(
            "SELECT name AS Name, url AS Url, started_at AS StartedAt, heartbeat_at AS HeartbeatAt FROM nodes ORDER BY name", null, ct);
}
