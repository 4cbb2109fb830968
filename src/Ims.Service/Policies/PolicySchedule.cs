using System.Globalization;

namespace Ims.Service.Policies;

/// <summary>
/// A policy's trigger: the iCalendar RRULE subset CBR and CSBS accept (<c>FREQ</c> DAILY or WEEKLY, <c>INTERVAL</c>,
/// <c>BYDAY</c>, <c>BYHOUR</c>, <c>BYMINUTE</c>), in UTC as the APIs define the execution times. A CSBS pattern is the
/// same rule inside a <c>BEGIN:VCALENDAR</c> envelope. Several patterns make one schedule: the union of their instants.
/// Intervals count from the anchor (the policy's creation day, or week for WEEKLY).
/// </summary>
public sealed class PolicySchedule
{
    public const int MaxPatterns = 24;

    private readonly IReadOnlyList<Rule> _rules;
    private readonly DateOnly _anchor;

    private PolicySchedule(IReadOnlyList<Rule> rules, DateOnly anchor)
    {
        _rules = rules;
        _anchor = anchor;
    }

    private sealed record Rule(bool Weekly, int Interval, IReadOnlySet<DayOfWeek> Days, IReadOnlyList<TimeOnly> Times);

    /// <summary>Parses the patterns, or says what is wrong with the first bad one.</summary>
    public static (PolicySchedule? Schedule, string? Error) Parse(IReadOnlyList<string?>? patterns, DateTimeOffset anchor)
    {
        if (patterns is not { Count: > 0 }) return (null, "trigger.properties.pattern must hold at least one rule.");
        if (patterns.Count > MaxPatterns) return (null, $"trigger.properties.pattern holds at most {MaxPatterns} rules.");
        var rules = new List<Rule>();
        foreach (var pattern in patterns)
        {
            var (rule, error) = ParseOne(pattern);
            if (error is not null) return (null, error);
            rules.Add(rule!);
        }
        // The APIs refuse time points closer than an hour (and at most 24 a day).
        var times = rules.SelectMany(r => r.Times).Distinct().Order().ToList();
        for (var i = 1; i < times.Count; i++)
            if (times[i] - times[i - 1] < TimeSpan.FromHours(1))
                return (null, $"The scheduling interval cannot be less than 1 hour ({times[i - 1]:HH\\:mm} and {times[i]:HH\\:mm}).");
        return (new PolicySchedule(rules, DateOnly.FromDateTime(anchor.UtcDateTime)), null);
    }

    private static (Rule? Rule, string? Error) ParseOne(string? pattern)
    {
        if (string.IsNullOrWhiteSpace(pattern)) return (null, "A pattern must not be empty.");
        var text = pattern;
        var rrule = text.IndexOf("RRULE:", StringComparison.Ordinal);
        if (rrule >= 0)
        {
            text = text[(rrule + "RRULE:".Length)..];
            var end = text.IndexOfAny(['\r', '\n']);
            if (end >= 0) text = text[..end];
        }
        string? freq = null;
        var interval = 1;
        var days = new HashSet<DayOfWeek>();
        List<int>? hours = null, minutes = null;
        foreach (var part in text.Trim().Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) return (null, $"Invalid pattern {pattern}: [{part}] is not KEY=VALUE.");
            var (key, value) = (part[..eq].Trim(), part[(eq + 1)..].Trim());
            switch (key)
            {
                case "FREQ" when value is "DAILY" or "WEEKLY":
                    freq = value;
                    break;
                case "FREQ":
                    return (null, $"Invalid pattern {pattern}: FREQ must be DAILY or WEEKLY.");
                case "INTERVAL" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 30:
                    interval = n;
                    break;
                case "INTERVAL":
                    return (null, $"Invalid pattern {pattern}: INTERVAL must be between 1 and 30.");
                case "BYDAY":
                    foreach (var day in value.Split(','))
                    {
                        if (DayOf(day.Trim()) is not { } parsed) return (null, $"Invalid pattern {pattern}: unknown day [{day}] in BYDAY.");
                        days.Add(parsed);
                    }
                    break;
                case "BYHOUR":
                    hours = Numbers(value, 23);
                    if (hours is null) return (null, $"Invalid pattern {pattern}: BYHOUR must list hours from 0 to 23.");
                    break;
                case "BYMINUTE":
                    minutes = Numbers(value, 59);
                    if (minutes is null) return (null, $"Invalid pattern {pattern}: BYMINUTE must list minutes from 0 to 59.");
                    break;
                default:
                    return (null, $"Invalid pattern {pattern}: {key} is not supported (only FREQ, INTERVAL, BYDAY, BYHOUR and BYMINUTE are).");
            }
        }
        if (freq is null) return (null, $"Invalid pattern {pattern}: FREQ is required.");
        if (hours is null || minutes is null) return (null, $"Invalid pattern {pattern}: BYHOUR and BYMINUTE are required.");
        if (freq == "DAILY" && days.Count > 0) return (null, $"Invalid pattern {pattern}: BYDAY needs FREQ=WEEKLY.");
        if (freq == "WEEKLY" && days.Count == 0) return (null, $"Invalid pattern {pattern}: FREQ=WEEKLY needs BYDAY.");
        var times = hours.SelectMany(h => minutes.Select(m => new TimeOnly(h, m))).Distinct().Order().ToList();
        return (new Rule(freq == "WEEKLY", interval, days, times), null);
    }

    private static DayOfWeek? DayOf(string day) => day switch
    {
        "MO" => DayOfWeek.Monday,
        "TU" => DayOfWeek.Tuesday,
        "WE" => DayOfWeek.Wednesday,
        "TH" => DayOfWeek.Thursday,
        "FR" => DayOfWeek.Friday,
        "SA" => DayOfWeek.Saturday,
        "SU" => DayOfWeek.Sunday,
        _ => null,
    };

    private static List<int>? Numbers(string value, int max)
    {
        var result = new List<int>();
        foreach (var item in value.Split(','))
        {
            if (!int.TryParse(item.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n > max) return null;
            result.Add(n);
        }
        return result.Count == 0 ? null : result;
    }

    /// <summary>The first instant of the schedule strictly after <paramref name="after"/> (null only for a schedule that never fires).</summary>
    public DateTimeOffset? NextAfter(DateTimeOffset after)
    {
        var start = DateOnly.FromDateTime(after.UtcDateTime);
        // Every rule fires within its interval: at most 30 days, or 30 weeks for WEEKLY.
        for (var offset = 0; offset <= 7 * 31; offset++)
        {
            var day = start.AddDays(offset);
            DateTimeOffset? best = null;
            foreach (var rule in _rules.Where(r => Matches(r, day)))
                foreach (var time in rule.Times)
                {
                    var instant = new DateTimeOffset(day.ToDateTime(time), TimeSpan.Zero);
                    if (instant > after && (best is null || instant < best)) best = instant;
                }
            if (best is not null) return best;
        }
        return null;
    }

    private bool Matches(Rule rule, DateOnly day)
    {
        if (day < _anchor && rule.Interval > 1) return false;
        if (!rule.Weekly) return (day.DayNumber - _anchor.DayNumber) % rule.Interval == 0;
        if (!rule.Days.Contains(day.DayOfWeek)) return false;
        return (WeekStart(day).DayNumber - WeekStart(_anchor).DayNumber) / 7 % rule.Interval == 0;
    }

    private static DateOnly WeekStart(DateOnly day) => day.AddDays(-(((int)day.DayOfWeek + 6) % 7));
}
