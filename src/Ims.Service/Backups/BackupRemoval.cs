using Ims.Service.Data;
using Ims.Service.Ims;
using Ims.Service.Storage;

namespace Ims.Service.Backups;

/// <summary>Why backups cannot be deleted now.</summary>
public enum RemovalProblem
{
    None,
    /// <summary>A job is still capturing one of them, or restoring from it.</summary>
    Protecting,
    /// <summary>A live image (being made or active) was registered from one of them (delete the image first).</summary>
    UsedByImage,
}

/// <summary>
/// Deletes backups with everything that hangs off them, and the checkpoints they empty: a checkpoint exists only while
/// it holds a backup (clients poll it until 404 after deleting its backups). Shared by CBR, CSBS and IMS
/// (<c>delete_backup</c>). Their chunks are freed by the next garbage collection, which the deletion requests.
/// </summary>
public sealed class BackupRemoval(BackupStore backups, ImageStore images)
{
    public async Task<RemovalProblem> CheckAsync(WriteScope tx, IReadOnlyCollection<string> backupIds, CancellationToken ct)
    {
        if (await backups.AnyInJobAsync(tx, backupIds, ct)) return RemovalProblem.Protecting;
        return await images.AnyLiveFromBackupsAsync(tx, backupIds, ct) ? RemovalProblem.UsedByImage : RemovalProblem.None;
    }

    /// <summary>
    /// Deletes the backups of <paramref name="projectId"/> among <paramref name="backupIds"/>, and the checkpoints among
    /// <paramref name="checkpointIds"/> (besides those of the backups) left empty.
    /// </summary>
    public async Task DeleteAsync(WriteScope tx, string projectId, IReadOnlyCollection<string> backupIds, CancellationToken ct,
        IReadOnlyCollection<string>? checkpointIds = null)
    {
        if (backupIds.Count == 0 && checkpointIds is not { Count: > 0 }) return;
        await backups.DeleteAsync(tx, projectId, backupIds, ct, checkpointIds);
        // Their chunks may have no other user now: the data janitor collects them after the commit.
        if (backupIds.Count > 0) await DataJanitor.RequestCollectionAsync(tx, ct);
    }
}
