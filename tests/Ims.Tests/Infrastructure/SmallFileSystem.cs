using System.Diagnostics;

namespace Ims.Tests.Infrastructure;

/// <summary>
/// A test that fills a file system of its own: it mounts a small tmpfs, which needs root (tests run as root here and in
/// CI). Skipped with the reason otherwise. tmpfs rather than an ext4 image on a loop device: the same ENOSPC from every
/// write, nothing to format, and no loop device (containers often have none).
/// </summary>
public sealed class SmallFileSystemFactAttribute : FactAttribute
{
    public SmallFileSystemFactAttribute()
    {
        if (SmallFileSystem.SkipReason is { } reason) Skip = reason;
    }
}

/// <summary>
/// A size-limited tmpfs mounted on a fresh folder, to run out of space on purpose. <see cref="Fill"/> takes the space
/// that is left; <see cref="Free"/> gives it back. Disposing unmounts it and removes the folder, whatever happened.
/// </summary>
public sealed class SmallFileSystem : IDisposable
{
    private readonly List<string> _fillers = [];

    public static string? SkipReason =>
        !OperatingSystem.IsLinux() ? "mounts a tmpfs: Linux only"
        : !Environment.IsPrivilegedProcess ? "mounts a tmpfs to fill it: run the tests as root"
        : null;

    public SmallFileSystem(long bytes)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ims-tests", "small-fs-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
        Run("mount", "-t", "tmpfs", "-o", $"size={bytes}", "tmpfs", Path);
    }

    public string Path { get; }

    /// <summary>Bytes still free for writing.</summary>
    public long Available => new DriveInfo(Path).AvailableFreeSpace;

    /// <summary>Writes filler files until at most <paramref name="leave"/> bytes stay free (a little more when leave is not 0).</summary>
    public void Fill(long leave = 0)
    {
        var block = new byte[64 * 1024];
        Array.Fill(block, (byte)0xA5);
        var filler = System.IO.Path.Combine(Path, $"filler-{_fillers.Count}");
        _fillers.Add(filler);
        using var file = new FileStream(filler, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1);
        try
        {
            while (Available - block.Length >= leave) file.Write(block);
            if (leave == 0)
            {
                // The last blocks, down to the byte: the file system is full after this.
                for (var size = block.Length / 2; size >= 1; size /= 2)
                {
                    while (true)
                    {
                        try
                        {
                            file.Write(block, 0, size);
                            file.Flush();
                        }
                        catch (IOException)
                        {
                            break;
                        }
                    }
                }
            }
        }
        catch (IOException) when (leave == 0)
        {
            // Full.
        }
    }

    /// <summary>Deletes every filler: the space is back.</summary>
    public void Free()
    {
        foreach (var filler in _fillers) File.Delete(filler);
        _fillers.Clear();
    }

    public void Dispose()
    {
        // Lazy: a file a finished host still has open must not keep the mount (and the test's RAM) alive.
        Run("umount", "-l", Path);
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Unmounted lazily: the empty folder goes with the next clean-up of /tmp/ims-tests.
        }
    }

    private static void Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{program} {string.Join(' ', args)}: exit {process.ExitCode}: {error}");
    }
}
