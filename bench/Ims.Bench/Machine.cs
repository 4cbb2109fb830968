using System.Globalization;
using System.Runtime.InteropServices;

namespace Ims.Bench;

/// <summary>What the figures ran on, read from /proc where there is one.</summary>
internal static class Machine
{
    public static string Describe()
    {
        var cpu = ReadField("/proc/cpuinfo", "model name") ?? RuntimeInformation.ProcessArchitecture.ToString();
        var memKb = ReadField("/proc/meminfo", "MemTotal")?.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        var ram = long.TryParse(memKb, NumberStyles.None, CultureInfo.InvariantCulture, out var kb)
            ? $"{kb / 1024.0 / 1024.0:0.0} GiB RAM"
            : "RAM unknown";
        return $"{Environment.ProcessorCount} cores (nproc), {cpu}, {ram}; {RuntimeInformation.OSDescription}; {RuntimeInformation.FrameworkDescription}";
    }

    /// <summary>The commit the bench was built from (with <c>-dirty</c> for uncommitted changes), so figures can be traced.</summary>
    public static string SourceRevision()
    {
        try
        {
            using var git = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("git", ["describe", "--always", "--dirty", "--abbrev=12"])
            {
                WorkingDirectory = AppContext.BaseDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            });
            if (git is null) return "unknown";
            var output = git.StandardOutput.ReadToEnd().Trim();
            git.WaitForExit();
            return git.ExitCode == 0 && output.Length > 0 ? output : "unknown (not a git checkout)";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown (git not installed)";
        }
    }

    /// <summary>The 1, 5 and 15 minute load averages: a busy machine makes every figure worse, so the output shows them.</summary>
    public static string LoadAverage()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return $"{parts[0]} {parts[1]} {parts[2]}";
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    /// <summary>
    /// CPU time that user processes have spent on the machine so far (all cores), or null where there is no /proc. Less
    /// the service's and this process's own, it is what other programs took during a phase. Kernel threads are left
    /// out: the loopback traffic and disk writes of the run itself are largely done by them (softirq, writeback).
    /// </summary>
    public static TimeSpan? UserProcessesBusyTime()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // cpu user nice system idle iowait irq softirq steal: steal is time another guest of the host took.
            var ticks = fields.Skip(1).Take(8).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            var busy = ticks[0] + ticks[1] + ticks[2] + ticks[7] - KernelThreadTicks();
            // The kernel counts in USER_HZ, 100 per second on Linux.
            return TimeSpan.FromSeconds(busy / 100.0);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>User plus system ticks of all kernel threads (PF_KTHREAD in the flags of /proc/PID/stat).</summary>
    private static long KernelThreadTicks()
    {
        const long PfKthread = 0x00200000;
        long total = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out _)) continue;
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(dir, "stat"));
            }
            catch (IOException)
            {
                continue; // gone meanwhile
            }
            // The command name is in parentheses and may contain spaces; the numbered fields follow the last ')'.
            var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // rest[0] is field 3 (state): flags is field 9, utime 14, stime 15.
            if ((long.Parse(rest[6], CultureInfo.InvariantCulture) & PfKthread) == 0) continue;
            total += long.Parse(rest[11], CultureInfo.InvariantCulture) + long.Parse(rest[12], CultureInfo.InvariantCulture);
        }
        return total;
    }

    private static string? ReadField(string path, string name)
    {
        try
        {
            foreach (var line in File.ReadLines(path))
            {
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0 && line[..colon].Trim() == name) return line[(colon + 1)..].Trim();
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return null;
    }
}
