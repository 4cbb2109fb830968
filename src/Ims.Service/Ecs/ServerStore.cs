using Ims.Service.Nodes;
using Microsoft.Extensions.Options;
using Ims.Service.Storage;

namespace Ims.Service.Ecs;

/// <summary>
/// The servers aggregate: the <c>servers</c> table. The only code that touches it, except the claim of a server by a job,
/// which <see cref="ServerGuards"/> keeps (its static calls are what the guard tests exercise).
/// </summary>
public sealed class ServerStore(Database db, IOptions<NodeOptions> node, TimeProvider time)
{
    private const string SelectOne = $"SELECT {ServerViews.Columns} FROM servers WHERE id = @serverId AND project_id = @projectId";

    public Task<ServerRow?> GetAsync(string projectId, string serverId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<ServerRow>(SelectOne, new { serverId, projectId }, ct);

    public Task<ServerRow?> GetAsync(WriteScope tx, string projectId, string serverId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<ServerRow>(SelectOne, new { serverId, projectId }, ct);

    private const string SelectBackupFacts =
        """
        SELECT s.id, s.name, s.status, s.task_state AS TaskState, s.availability_zone AS AvailabilityZone,
               s.flavor_id AS FlavorId, s.image_id AS ImageId, s.os_type AS OsType, s.san_policy AS SanPolicy,
               s.enterprise_project_id AS EnterpriseProjectId,
               (SELECT COUNT(*) FROM volume_attachments a WHERE a.server_id = s.id) AS VolumeCount,
               (SELECT COALESCE(SUM(v.size_gb), 0) FROM volume_attachments a JOIN volumes v ON v.id = a.volume_id
                 WHERE a.server_id = s.id) AS TotalSizeGb,
               (SELECT MIN(v.id) FROM volume_attachments a JOIN volumes v ON v.id = a.volume_id
                 WHERE a.server_id = s.id AND v.multiattach = 1) AS SharedVolumeId,
               (SELECT COUNT(*) FROM volume_attachments a JOIN volumes v ON v.id = a.volume_id
                 WHERE a.server_id = s.id AND v.status IN ('attaching', 'detaching')) AS DisksInTransit
        FROM servers s
        WHERE s.id = @serverId AND s.project_id = @projectId AND s.status <> 'DELETED'
        """;

    /// <summary>
    /// What a backup records of a live server of the project, with its disks as they are now (a read-only view across
    /// the volumes), or null. <see cref="Backups.BackupCapture"/> decides from it whether the server can be backed up.
    /// </summary>
    public Task<Backups.ServerCheck?> GetBackupFactsAsync(string projectId, string serverId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<Backups.ServerCheck>(SelectBackupFacts, new { serverId, projectId }, ct);

    public Task<Backups.ServerCheck?> GetBackupFactsAsync(WriteScope tx, string projectId, string serverId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<Backups.ServerCheck>(SelectBackupFacts, new { serverId, projectId }, ct);

    /// <summary>Names of the project's live servers among <paramref name="serverIds"/>, by id.</summary>
    public async Task<IReadOnlyDictionary<string, string>> GetNamesAsync(WriteScope tx, string projectId, IReadOnlyCollection<string> serverIds,
        CancellationToken ct) =>
        (await tx.QueryAsync<(string Id, string Name)>(
            "SELECT id, name FROM servers WHERE id IN @serverIds AND project_id = @projectId AND status <> 'DELETED'", new { serverIds, projectId }, ct))
        .ToDictionary(r => r.Id, r => r.Name, StringComparer.Ordinal);

    /// <summary>Servers by id, whatever their project (for views of records that name them).</summary>
    public async Task<IReadOnlyDictionary<string, ServerRow>> GetManyAsync(IReadOnlyCollection<string> serverIds, CancellationToken ct) =>
        serverIds.Count == 0
            ? new Dictionary<string, ServerRow>()
            : (await db.QueryAsync<ServerRow>($"SELECT {ServerViews.Columns} FROM servers WHERE id IN @serverIds", new { serverIds }, ct))
                .ToDictionary(r => r.Id, StringComparer.Ordinal);

    /// <summary>A page of the project's servers under <paramref name="filter"/>, newest first, with how many match in all.</summary>
    public async Task<(List<ServerRow> Page, long Total)> ListAsync(string projectId, ServerFilter filter, CancellationToken ct)
    {
        var where = "project_id = @projectId";
        // A substring in any ASCII case, as SQLite's LIKE matches (PostgreSQL's LIKE is case-sensitive).
        if (!string.IsNullOrEmpty(filter.NameContains)) where += " AND LOWER(name) LIKE LOWER(@namePattern)";
        if (!string.IsNullOrEmpty(filter.Status)) where += " AND status = @Status";
        if (!string.IsNullOrEmpty(filter.FlavorId)) where += " AND flavor_id = @FlavorId";
        if (!string.IsNullOrEmpty(filter.EnterpriseProjectId)) where += " AND enterprise_project_id = @EnterpriseProjectId";
        if (filter.Ids is not null) where += " AND id IN @Ids";
        var args = new
        {
            projectId, namePattern = $"%{filter.NameContains}%", filter.Status, filter.FlavorId, filter.EnterpriseProjectId,
            Ids = filter.Ids?.ToArray() ?? [], pageSize = filter.PageSize, skip = filter.Skip,
        };
        var total = await db.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM servers WHERE {where}", args, ct);
        var rows = await db.QueryAsync<ServerRow>(
            $"SELECT {ServerViews.Columns} FROM servers WHERE {where} ORDER BY created_at DESC, id LIMIT @pageSize OFFSET @skip", args, ct);
        return (rows, total);
    }

    /// <summary>
    /// Writes new servers in <c>BUILD</c>, held by <c>spawning</c> until their job built them, hosted by this node (the
    /// one that received the request).
    /// </summary>
    public async Task InsertAsync(WriteScope tx, IEnumerable<ServerRow> servers, CancellationToken ct)
    {
        await tx.ExecuteAsync(
            """
            INSERT INTO servers (id, project_id, name, description, status, task_state, flavor_id, image_id, availability_zone,
                                 vpc_id, key_name, os_type, san_policy, user_data, metadata, tags, security_group_ids,
                                 enterprise_project_id, created_at, updated_at)
            VALUES (@Id, @ProjectId, @Name, @Description, 'BUILD', 'spawning', @FlavorId, @ImageId, @AvailabilityZone,
                    @VpcId, @KeyName, @OsType, @SanPolicy, @UserData, @Metadata, @Tags, @SecurityGroupIds,
                    @EnterpriseProjectId, @CreatedAt, @UpdatedAt)
            """, servers, ct);
        var ids = servers.Select(s => s.Id).ToList();
        await tx.ExecuteAsync("UPDATE servers SET node = @node WHERE id IN @ids", new { node = node.Value.Name, ids }, ct);
    }

    /// <summary>The node hosting a server (and its disks' bytes); null when not bound to a node.</summary>
    public Task<string?> GetNodeAsync(WriteScope tx, string serverId, CancellationToken ct) =>
        tx.ExecuteScalarAsync<string?>("SELECT node FROM servers WHERE id = @serverId", new { serverId }, ct);

    public Task SetMetadataAsync(WriteScope tx, string projectId, string serverId, string metadata, string? sanPolicy, long now,
        CancellationToken ct) =>
        tx.ExecuteAsync(
            "UPDATE servers SET metadata = @metadata, san_policy = @sanPolicy, updated_at = @now WHERE id = @serverId AND project_id = @projectId",
            new { metadata, sanPolicy, now, serverId, projectId }, ct);

    /// <summary>Renames, describes or gives new user data to a server (null: unchanged).</summary>
    public Task UpdateAsync(WriteScope tx, string projectId, string serverId, string? name, string? description, string? userData,
        CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            UPDATE servers SET name = COALESCE(@name, name), description = COALESCE(@description, description),
                   user_data = COALESCE(@userData, user_data), updated_at = @now
            WHERE id = @serverId AND project_id = @projectId
            """, new { name, description, userData, now = time.GetUtcNow().ToUnixTimeMilliseconds(), serverId, projectId }, ct);

    /// <summary>Replaces a server's tags (the stored <c>["key=value"]</c> list).</summary>
    public Task SetTagsAsync(WriteScope tx, string projectId, string serverId, string tags, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE servers SET tags = @tags, updated_at = @now WHERE id = @serverId AND project_id = @projectId",
            new { tags, now = time.GetUtcNow().ToUnixTimeMilliseconds(), serverId, projectId }, ct);

    /// <summary>A resize finished: the server has <paramref name="flavorId"/> and is released, in the status it had before.</summary>
    public Task CompleteResizeAsync(WriteScope tx, string serverId, string flavorId, string status, string taskState, long now,
        CancellationToken ct) =>
        tx.ExecuteAsync(
            "UPDATE servers SET flavor_id = @flavorId, status = @status, task_state = NULL, updated_at = @now WHERE id = @serverId AND task_state = @taskState",
            new { flavorId, status, serverId, taskState, now }, ct);

    /// <summary>BUILD → ACTIVE (launched now) for servers whose job built them.</summary>
    public Task MarkBuiltAsync(WriteScope tx, IReadOnlyCollection<string> serverIds, long now, CancellationToken ct) =>
        tx.ExecuteAsync(
            "UPDATE servers SET status = 'ACTIVE', task_state = NULL, launched_at = @now, updated_at = @now WHERE id IN @serverIds AND status = 'BUILD'",
            new { serverIds, now }, ct);

    /// <summary>BUILD → ERROR for servers that could not be built (they stay visible, as on ECS).</summary>
    public Task MarkBuildFailedAsync(WriteScope tx, IReadOnlyCollection<string> serverIds, long now, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE servers SET status = 'ERROR', task_state = NULL, updated_at = @now WHERE id IN @serverIds AND status = 'BUILD'",
            new { serverIds, now }, ct);

    /// <summary>The servers <paramref name="taskState"/> still holds reach <paramref name="status"/> and are released.</summary>
    public Task FinishTaskAsync(WriteScope tx, IReadOnlyCollection<string> serverIds, string taskState, string status, long now,
        CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE servers SET status = @status, task_state = NULL, updated_at = @now WHERE id IN @serverIds AND task_state = @taskState",
            new { status, taskState, serverIds, now }, ct);

    /// <summary>A change of OS finished: the server runs <paramref name="imageId"/> and is released.</summary>
    public Task CompleteChangeOsAsync(WriteScope tx, string serverId, string imageId, string osType, string taskState, long now,
        CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            UPDATE servers SET image_id = @imageId, os_type = @osType, status = 'ACTIVE', task_state = NULL, updated_at = @now,
                   san_policy = CASE WHEN @osType = 'Windows' THEN COALESCE(san_policy, 'OnlineAll') ELSE NULL END
            WHERE id = @serverId AND task_state = @taskState
            """, new { imageId, serverId, osType, now, taskState }, ct);

    public Task DeleteAsync(WriteScope tx, string projectId, IReadOnlyCollection<string> serverIds, CancellationToken ct) =>
        tx.ExecuteAsync("DELETE FROM servers WHERE id IN @serverIds AND project_id = @projectId", new { serverIds, projectId }, ct);
}

/// <summary>The list filters of <c>GET /v1/{project_id}/cloudservers/detail</c>, parsed at the edge; <see cref="Ids"/> narrows to given servers.</summary>
public sealed record ServerFilter
{
    public string? NameContains { get; init; }
    public string? Status { get; init; }
    public string? FlavorId { get; init; }
    public string? EnterpriseProjectId { get; init; }
    public IReadOnlyCollection<string>? Ids { get; init; }
    public int PageSize { get; init; } = 25;
    public long Skip { get; init; }
}
