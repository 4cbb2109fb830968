using System.Globalization;

namespace Ims.Service.Policies;

/// <summary>A policy's retention rules (CBR's <c>operation_definition</c>; CSBS's is a subset). -1 or 0 means "no such rule".</summary>
public sealed record RetentionRules
{
    public int MaxBackups { get; init; } = -1;
    public int RetentionDurationDays { get; init; } = -1;
    public int DayBackups { get; init; }
    public int WeekBackups { get; init; }
    public int MonthBackups { get; init; }
    public int YearBackups { get; init; }
    /// <summary>The calendar the long-term rules count days, weeks, months and years in.</summary>
    public TimeSpan Offset { get; init; }
}

/// <summary>An automatic backup retention may delete.</summary>
public sealed record RetainedBackup(string Id, long CreatedAt);

/// <summary>
/// Which automatic backups of one resource a policy lets go (pure). The quantity rule lets go all but the newest
/// <c>max_backups</c>, the duration rule those older than <c>retention_duration_days</c>; of those, the long-term rules
/// keep the newest backup of each of the last <c>day_backups</c> days that have one, likewise weeks (from Monday),
/// months and years, in the policy's time zone. Without a quantity or duration rule nothing goes.
/// </summary>
public static class Retention
{
    public static IReadOnlyList<string> Expired(IReadOnlyList<RetainedBackup> backups, RetentionRules rules, DateTimeOffset now)
    {
        if (rules.MaxBackups <= 0 && rules.RetentionDurationDays <= 0) return [];
        var newestFirst = backups.OrderByDescending(b => b.CreatedAt).ThenByDescending(b => b.Id, StringComparer.Ordinal).ToList();
        var cutoff = rules.RetentionDurationDays > 0 ? now.AddDays(-rules.RetentionDurationDays).ToUnixTimeMilliseconds() : long.MinValue;
        var kept = newestFirst.Where((b, index) => (rules.MaxBackups <= 0 || index < rules.MaxBackups) && b.CreatedAt >= cutoff)
            .Select(b => b.Id).ToHashSet(StringComparer.Ordinal);
        KeepNewestPerPeriod(newestFirst, rules.DayBackups, rules.Offset, local => local.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), kept);
        KeepNewestPerPeriod(newestFirst, rules.WeekBackups, rules.Offset,
            local => local.AddDays(-(((int)local.DayOfWeek + 6) % 7)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), kept);
        KeepNewestPerPeriod(newestFirst, rules.MonthBackups, rules.Offset, local => local.ToString("yyyy-MM", CultureInfo.InvariantCulture), kept);
        KeepNewestPerPeriod(newestFirst, rules.YearBackups, rules.Offset, local => local.ToString("yyyy", CultureInfo.InvariantCulture), kept);
        return [.. newestFirst.Where(b => !kept.Contains(b.Id)).Select(b => b.Id)];
    }

    private static void KeepNewestPerPeriod(List<RetainedBackup> newestFirst, int periods, TimeSpan offset, Func<DateTime, string> periodOf,
        HashSet<string> kept)
    {
        if (periods <= 0) return;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var backup in newestFirst)
        {
            var local = DateTimeOffset.FromUnixTimeMilliseconds(backup.CreatedAt).ToOffset(offset).DateTime;
            if (!seen.Add(periodOf(local))) continue;
            kept.Add(backup.Id);
            if (seen.Count == periods) return;
        }
    }

    /// <summary>Parses <c>UTC+08:00</c> (or <c>UTC-03:30</c>); null when malformed.</summary>
    public static TimeSpan? ParseTimezone(string? timezone)
    {
        if (timezone is not { Length: 9 } || !timezone.StartsWith("UTC", StringComparison.Ordinal) || timezone[3] is not ('+' or '-')
            || timezone[6] != ':'
            || !int.TryParse(timezone.AsSpan(4, 2), NumberStyles.None, CultureInfo.InvariantCulture, out var hours)
            || !int.TryParse(timezone.AsSpan(7, 2), NumberStyles.None, CultureInfo.InvariantCulture, out var minutes)
            || hours > 14 || minutes is not (0 or 30 or 45))
            return null;
        var offset = new TimeSpan(hours, minutes, 0);
        return timezone[3] == '-' ? -offset : offset;
    }
}
