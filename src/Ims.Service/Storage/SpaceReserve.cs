using Ims.Service.Hosting;
using Microsoft.Extensions.Options;

namespace Ims.Service.Storage;

/// <summary>
/// A file of <see cref="ServiceOptions.SpaceReserveBytes"/> zeros in the data folder, given up the moment the storage
/// runs out of space. The SQLite database shares the data folder's file system: without the reserve, the transaction
/// that records a failure (a job's FAIL with its compensation, an upload's image back to <c>queued</c>) would fail for
/// the same want of space, and the job would be retried until its attempts ran out. The reserve is made again once the
/// file system has room for it twice over (checked at most once a second, when requests or jobs come by).
/// </summary>
public sealed partial class SpaceReserve(IOptions<ServiceOptions> options, TimeProvider time, ILogger<SpaceReserve> logger)
{
    public const string FileName = "space-reserve";

    private static readonly TimeSpan RestoreInterval = TimeSpan.FromSeconds(1);

    private readonly long _size = Math.Max(0, options.Value.SpaceReserveBytes);
    private readonly string _path = Path.Combine(Path.GetFullPath(options.Value.DataDir), FileName);
    private readonly Lock _lock = new();
    private volatile bool _released;
    private long _lastRestoreAttempt = long.MinValue;

    /// <summary>True while the reserve is given up (space ran out and has not come back yet).</summary>
    public bool Released => _released;

    /// <summary>Makes the reserve at start-up when it is missing; a file system already full starts without it.</summary>
    public void EnsureAtStart()
    {
        if (_size == 0) return;
        lock (_lock)
        {
            if (File.Exists(_path) && new FileInfo(_path).Length == _size) return;
            _released = !TryCreate();
        }
    }

    /// <summary>Gives the reserve up (idempotent): called wherever running out of space is noticed.</summary>
    public void Release()
    {
        if (_size == 0) return;
        lock (_lock)
        {
            if (_released) return;
            _released = true;
            try
            {
                File.Delete(_path);
                Log.Released(logger, _size);
            }
            catch (IOException ex)
            {
                Log.ReleaseFailed(logger, ex);
            }
        }
    }

    /// <summary>Makes the reserve again when it was given up and the file system has room for it twice over.</summary>
    public void TryRestore()
    {
        if (!_released) return;
        var now = time.GetTimestamp();
        lock (_lock)
        {
            if (!_released) return;
            if (_lastRestoreAttempt != long.MinValue && time.GetElapsedTime(_lastRestoreAttempt, now) < RestoreInterval) return;
            _lastRestoreAttempt = now;
            long free;
            try
            {
                free = new DriveInfo(Path.GetDirectoryName(_path)!).AvailableFreeSpace;
            }
            catch (IOException)
            {
                return;
            }
            if (free < 2 * _size) return;
            if (TryCreate())
            {
                _released = false;
                Log.Restored(logger, _size);
            }
        }
    }

    private bool TryCreate()
    {
        var temp = _path + ".tmp";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
            // Written, not just sized: a sparse file would hold no blocks back.
            using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1))
            {
                var zeros = new byte[Math.Min(_size, 1024 * 1024)];
                for (long written = 0; written < _size; written += zeros.Length)
                    file.Write(zeros, 0, (int)Math.Min(zeros.Length, _size - written));
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, _path, overwrite: true);
            return true;
        }
        catch (IOException ex)
        {
            Log.CreateFailed(logger, ex.Message);
            try
            {
                File.Delete(temp);
            }
            catch (IOException)
            {
                // Nothing more to give back.
            }
            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(9101, LogLevel.Warning, "Out of space: released the {Bytes}-byte space reserve so that failures can still be recorded")]
        public static partial void Released(ILogger logger, long bytes);

        [LoggerMessage(9102, LogLevel.Information, "Space is back: the {Bytes}-byte space reserve is made again")]
        public static partial void Restored(ILogger logger, long bytes);

        [LoggerMessage(9103, LogLevel.Warning, "The space reserve cannot be made: {Reason}")]
        public static partial void CreateFailed(ILogger logger, string reason);

        [LoggerMessage(9104, LogLevel.Error, "The space reserve could not be released")]
        public static partial void ReleaseFailed(ILogger logger, Exception ex);
    }
}
