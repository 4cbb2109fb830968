using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Ims.DataPlane.Native;

/// <summary>
/// The few POSIX calls .NET has no first-class API for: hole-aware seeking, fsync of a file handle and of a directory.
/// Linux only, as the store is.
/// </summary>
internal static partial class Posix
{
    private const int SeekData = 3;
    private const int SeekHole = 4;
    private const int NoSuchDeviceOrAddress = 6; // ENXIO: no data at or after the offset
    private const int OpenReadOnly = 0;

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LSeek(int fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(int fd);

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FDataSync(int fd);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int FAdvise(int fd, long offset, long length, int advice);

    [LibraryImport("libc", EntryPoint = "sync_file_range")]
    private static partial int SyncFileRange(int fd, long offset, long length, uint flags);

    private const int AdviseSequential = 2;
    private const int AdviseWillNeed = 3;
    private const uint SyncFileRangeWrite = 2;

    /// <summary>
    /// Asks the kernel to start reading a range into the page cache now (asynchronously); a hint, failures ignored.
    /// </summary>
    public static void WillNeed(SafeFileHandle file, long offset, long length) => Advise(file, offset, length, AdviseWillNeed);

    /// <summary>Tells the kernel a file will be read in order (a larger read-ahead window); a hint, failures ignored.</summary>
    public static void Sequential(SafeFileHandle file) => Advise(file, 0, 0, AdviseSequential);

    private static void Advise(SafeFileHandle file, long offset, long length, int advice)
    {
        var added = false;
        file.DangerousAddRef(ref added);
        try
        {
            _ = FAdvise((int)file.DangerousGetHandle(), offset, length, advice);
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
    }

    /// <summary>
    /// Starts writeback of a range's dirty pages without waiting for it, so that a later fsync has little left to do.
    /// Durability still comes from that fsync alone; a hint, failures ignored.
    /// </summary>
    public static void StartWriteback(SafeFileHandle file, long offset, long length)
    {
        var added = false;
        file.DangerousAddRef(ref added);
        try
        {
            _ = SyncFileRange((int)file.DangerousGetHandle(), offset, length, SyncFileRangeWrite);
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
    }

    /// <summary>The first offset at or after <paramref name="offset"/> holding data, or -1 when only holes follow.</summary>
    public static long NextData(SafeFileHandle file, long offset) => Seek(file, offset, SeekData, noDataResult: -1);

    /// <summary>The first hole at or after <paramref name="offset"/> (the end of the file counts as a hole).</summary>
    public static long NextHole(SafeFileHandle file, long offset) => Seek(file, offset, SeekHole, noDataResult: long.MaxValue);

    private static long Seek(SafeFileHandle file, long offset, int whence, long noDataResult)
    {
        var added = false;
        file.DangerousAddRef(ref added);
        try
        {
            var result = LSeek((int)file.DangerousGetHandle(), offset, whence);
            if (result >= 0) return result;
            var errno = Marshal.GetLastPInvokeError();
            if (errno == NoSuchDeviceOrAddress) return noDataResult;
            // A file system without hole reporting: everything is data, the end of the file is the only hole.
            return whence == SeekData ? offset : long.MaxValue;
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
    }

    /// <summary>Flushes a file's data and metadata to the device.</summary>
    public static void Flush(SafeFileHandle file) => Sync(file, dataOnly: false);

    /// <summary>Flushes a file's data (and the metadata needed to read it back) to the device.</summary>
    public static void FlushData(SafeFileHandle file) => Sync(file, dataOnly: true);

    private static void Sync(SafeFileHandle file, bool dataOnly)
    {
        var added = false;
        file.DangerousAddRef(ref added);
        try
        {
            var fd = (int)file.DangerousGetHandle();
            if ((dataOnly ? FDataSync(fd) : FSync(fd)) != 0)
                throw new IOException($"fsync failed (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
    }

    /// <summary>Makes renames and creations inside a directory durable.</summary>
    public static void FlushDirectory(string path)
    {
        var fd = Open(path, OpenReadOnly);
        if (fd < 0) throw new IOException($"cannot open directory {path} to flush it (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (FSync(fd) != 0) throw new IOException($"fsync of directory {path} failed (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            _ = Close(fd);
        }
    }
}
