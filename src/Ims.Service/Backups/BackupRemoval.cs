using Dapper;
using Ims.Service.Data;
using Ims.Service.Storage;

namespace Ims.Service.Backups;

/// <summary>Why backups cannot be deleted now.</summary>
public enum RemovalProblem
{
    None,
    /// <summary>A job is still capturing one of them.</summary>
    Protecting,
    /// <summary>A live image (being made or active) was registered from one of them (delete the image first).</summary>
    UsedByImage,
}

/// <summary>
/// Deletes backups with everything that hangs off them, and the checkpoints they empty: a checkpoint exists only while
/// it holds a backup (clients poll it until 404 after deleting its backups). Shared by CBR, CSBS and IMS
/// (<c>delete_backup</c>). Their chunks are freed by the next garbage collection, which the deletion requests.
/// </summary>
public static class BackupRemoval
{
    public static async Task<RemovalProblem> CheckAsync(WriteScope write, IReadOnlyCollection<string> backupIds, CancellationToken ct)
    {
        if (backupIds.Count == 0) return RemovalProblem.None;
        var protecting = await write.Connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM backups WHERE id IN @backupIds AND status = 'protecting'",
            new { backupIds }, write.Transaction, cancellationToken: ct));
        if (protecting > 0) return RemovalProblem.Protecting;
        var images = await write.Connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM images WHERE backup_id IN @backupIds AND status IN ('queued', 'saving', 'active')",
            new { backupIds }, write.Transaction, cancellationToken: ct));
        return images > 0 ? RemovalProblem.UsedByImage : RemovalProblem.None;
    }

    /// <summary>Deletes the backups of <paramref name="projectId"/> among <paramref name="backupIds"/>.</summary>
    public static async Task DeleteAsync(WriteScope write, string projectId, IReadOnlyCollection<string> backupIds, CancellationToken ct)
    {
        if (backupIds.Count == 0) return;
        var args = new { projectId, backupIds };
        var checkpointIds = (await write.Connection.QueryAsync<string>(new CommandDefinition(
            "SELECT DISTINCT checkpoint_id FROM backups WHERE project_id = @projectId AND id IN @backupIds",
            args, write.Transaction, cancellationToken: ct))).AsList();
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            DELETE FROM backup_volumes
            WHERE backup_id IN (SELECT id FROM backups WHERE project_id = @projectId AND id IN @backupIds)
            """,
            args, write.Transaction, cancellationToken: ct));
        await write.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM backups WHERE project_id = @projectId AND id IN @backupIds",
            args, write.Transaction, cancellationToken: ct));
        // Their chunks may have no other user now: the data janitor collects them after the commit.
        await DataJanitor.RequestCollectionAsync(write, ct);
        if (checkpointIds.Count == 0) return;
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            DELETE FROM checkpoints
            WHERE project_id = @projectId AND id IN @checkpointIds
              AND NOT EXISTS (SELECT 1 FROM backups b WHERE b.checkpoint_id = checkpoints.id)
            """,
            new { projectId, checkpointIds }, write.Transaction, cancellationToken: ct));
    }
}
