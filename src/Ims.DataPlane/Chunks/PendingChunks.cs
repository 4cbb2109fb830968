using System.Collections.Concurrent;
using Ims.DataPlane.Native;
using Ims.DataPlane.Store;

namespace Ims.DataPlane.Chunks;

/// <summary>
/// The chunks one capture or import has written under temporary names. They are flushed together (many flushes in
/// flight let the device merge them), then renamed, then their directories flushed: all before the manifest that names
/// them is written. A chunk this operation already wrote is not written twice.
/// </summary>
internal sealed class PendingChunks(TempFiles temps) : IDisposable
{
    private const int FlushesInFlight = 8;
    private readonly ConcurrentDictionary<string, string?> written = new(StringComparer.Ordinal);

    /// <summary>True when the caller should write the chunk; false when this operation has it already.</summary>
    public bool Claim(string name) => written.TryAdd(name, null);

    public void Wrote(string name, string tempPath) => written[name] = tempPath;

    /// <summary>The caller gave up writing a claimed chunk.</summary>
    public void Release(string name) => written.TryRemove(name, out _);

    public void Publish(FolderChunkStore store)
    {
        var pending = written.Where(p => p.Value is not null).Select(p => (Name: p.Key, Temp: p.Value!)).ToArray();
        var options = new ParallelOptions { MaxDegreeOfParallelism = FlushesInFlight };
        Parallel.ForEach(pending, options, chunk =>
        {
            using var handle = File.OpenHandle(chunk.Temp, FileMode.Open, FileAccess.ReadWrite);
            Posix.Flush(handle);
        });
        var directories = new ConcurrentDictionary<string, byte>(StringComparer.Ordinal);
        foreach (var (name, temp) in pending)
        {
            if (store.PublishFlushed(name, temp)) directories.TryAdd(Path.GetDirectoryName(temp)!, 0);
            temps.End(temp);
            written[name] = null;
        }
        Parallel.ForEach(directories.Keys, options, Posix.FlushDirectory);
    }

    /// <summary>Deletes what was written but not published (a failed operation).</summary>
    public void Dispose()
    {
        foreach (var temp in written.Values)
        {
            if (temp is null) continue;
            try
            {
                File.Delete(temp);
            }
            catch (IOException)
            {
                // The collector removes stale temporary files.
            }
            temps.End(temp);
        }
        written.Clear();
    }
}
