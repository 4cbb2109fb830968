namespace Ims.DataPlane;

/// <summary>
/// The storage under the service ran out of space (or of the owner's quota): the file system of the data folder, or the
/// database's. Thrown at the storage edges in place of the errors that mean it (<c>ENOSPC</c>/<c>EDQUOT</c> from a file
/// write, <c>SQLITE_FULL</c>, PostgreSQL's <c>53100 disk_full</c>), so that the API answers it with one 4xx and a job
/// fails at once instead of retrying what cannot succeed until someone frees space.
/// </summary>
public sealed class StorageFullException(string message, Exception inner) : IOException(message, inner)
{
    // .NET on Unix gives an IOException the errno it failed with as its HResult (Linux: ENOSPC 28, EDQUOT 122); on
    // Windows the HResult carries ERROR_HANDLE_DISK_FULL (39) or ERROR_DISK_FULL (112).
    private const int LinuxNoSpace = 28;
    private const int LinuxQuotaExceeded = 122;
    private const int WindowsHandleDiskFull = unchecked((int)0x80070027);
    private const int WindowsDiskFull = unchecked((int)0x80070070);

    /// <summary>True for an I/O error whose cause is a full file system or an exhausted disk quota.</summary>
    public static bool IsOutOfSpace(Exception e) =>
        e is StorageFullException
        || e is IOException
            && (OperatingSystem.IsWindows()
                ? e.HResult is WindowsHandleDiskFull or WindowsDiskFull
                : e.HResult is LinuxNoSpace or LinuxQuotaExceeded);

    /// <summary>
    /// The out-of-space error behind <paramref name="e"/>, searching inner and aggregated exceptions (parallel pipelines
    /// aggregate them), translated to a <see cref="StorageFullException"/>; null when space is not the cause.
    /// </summary>
    public static StorageFullException? Find(Exception e) => Find(e, extra: null);

    /// <summary>As <see cref="Find(Exception)"/>, also taking what <paramref name="extra"/> recognises (a database's own code).</summary>
    public static StorageFullException? Find(Exception e, Func<Exception, bool>? extra)
    {
        for (var depth = 0; depth < 16 && e is not null; depth++)
        {
            if (e is StorageFullException full) return full;
            if (IsOutOfSpace(e) || extra?.Invoke(e) == true) return From(e);
            if (e is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions)
                {
                    if (Find(inner, extra) is { } found) return found;
                }
                return null;
            }
            e = e.InnerException!;
        }
        return null;
    }

    /// <summary>Wraps an error already known to mean "no space".</summary>
    public static StorageFullException From(Exception cause) =>
        cause as StorageFullException ?? new StorageFullException($"No space left on the storage: {cause.Message}", cause);

    /// <summary>Runs <paramref name="action"/>, turning an out-of-space error into a <see cref="StorageFullException"/>.</summary>
    internal static async Task<T> Translate<T>(Func<Task<T>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not StorageFullException && Find(e) is { } full)
        {
            throw full;
        }
    }

    internal static async Task Translate(Func<Task> action)
    {
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not StorageFullException && Find(e) is { } full)
        {
            throw full;
        }
    }
}
