using Ims.Service.Policies;

namespace Ims.Tests.Policies;

/// <summary>The schedule and retention rules of backup policies, as pure functions.</summary>
public sealed class PolicyRuleTests
{
    private static readonly DateTimeOffset Monday = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);

    private static PolicySchedule Schedule(params string[] patterns)
    {
        var (schedule, error) = PolicySchedule.Parse(patterns, Monday);
        Assert.Null(error);
        return schedule!;
    }

    [Fact]
    public void A_weekly_rule_fires_on_its_days_at_its_time_in_utc()
    {
        var schedule = Schedule("FREQ=WEEKLY;BYDAY=MO,TU;BYHOUR=14;BYMINUTE=00");
        Assert.Equal(Monday.AddHours(14), schedule.NextAfter(Monday));
        Assert.Equal(Monday.AddDays(1).AddHours(14), schedule.NextAfter(Monday.AddHours(14)));
        Assert.Equal(Monday.AddDays(7).AddHours(14), schedule.NextAfter(Monday.AddDays(1).AddHours(14)));
    }

    [Fact]
    public void Several_patterns_and_daily_intervals_make_one_schedule_counted_from_the_anchor_day()
    {
        // Terraform's interval form: every third day at 21:00, plus a second time point.
        var schedule = Schedule("FREQ=DAILY;INTERVAL=3;BYHOUR=21;BYMINUTE=00", "FREQ=DAILY;INTERVAL=3;BYHOUR=9;BYMINUTE=30");
        Assert.Equal(Monday.AddHours(9.5), schedule.NextAfter(Monday));
        Assert.Equal(Monday.AddHours(21), schedule.NextAfter(Monday.AddHours(9.5)));
        Assert.Equal(Monday.AddDays(3).AddHours(9.5), schedule.NextAfter(Monday.AddHours(21)));
    }

    [Fact]
    public void A_csbs_calendar_wraps_the_same_rule()
    {
        var schedule = Schedule("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nRRULE:FREQ=WEEKLY;BYDAY=TH;BYHOUR=12;BYMINUTE=27\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
        Assert.Equal(Monday.AddDays(3).AddHours(12).AddMinutes(27), schedule.NextAfter(Monday));
    }

    [Theory]
    [InlineData("FREQ=HOURLY;BYHOUR=1;BYMINUTE=0", "FREQ must be DAILY or WEEKLY")]
    [InlineData("FREQ=WEEKLY;BYDAY=XX;BYHOUR=1;BYMINUTE=0", "unknown day")]
    [InlineData("FREQ=DAILY;BYHOUR=24;BYMINUTE=0", "BYHOUR")]
    [InlineData("FREQ=DAILY;BYHOUR=2", "BYHOUR and BYMINUTE are required")]
    [InlineData("FREQ=DAILY;INTERVAL=31;BYHOUR=2;BYMINUTE=0", "INTERVAL")]
    [InlineData("FREQ=DAILY;BYSECOND=1;BYHOUR=2;BYMINUTE=0", "BYSECOND is not supported")]
    [InlineData("FREQ=DAILY;BYHOUR=2,3;BYMINUTE=0,30", "cannot be less than 1 hour")]
    public void Patterns_outside_the_supported_subset_are_refused_with_a_reason(string pattern, string reason)
    {
        var (schedule, error) = PolicySchedule.Parse([pattern], Monday);
        Assert.Null(schedule);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    private static RetainedBackup At(string id, DateTimeOffset when) => new(id, when.ToUnixTimeMilliseconds());

    [Fact]
    public void The_quantity_rule_keeps_the_newest_and_the_duration_rule_the_recent()
    {
        var backups = Enumerable.Range(0, 5).Select(day => At($"d{day}", Monday.AddDays(day))).ToList();
        var now = Monday.AddDays(4).AddHours(1);
        Assert.Equal(["d1", "d0"], Retention.Expired(backups, new RetentionRules { MaxBackups = 3 }, now));
        Assert.Equal(["d0"], Retention.Expired(backups, new RetentionRules { RetentionDurationDays = 4 }, now));
        Assert.Empty(Retention.Expired(backups, new RetentionRules(), now));
    }

    [Fact]
    public void Long_term_rules_keep_the_newest_backup_of_each_recent_day_and_week_in_the_policy_time_zone()
    {
        // Two backups a day for three weeks, at 02:00 and 20:00 UTC: at UTC+08:00 the 20:00 one falls on the next day.
        var backups = new List<RetainedBackup>();
        for (var day = 0; day < 21; day++)
        {
            backups.Add(At($"{day:00}-02", Monday.AddDays(day).AddHours(2)));
            backups.Add(At($"{day:00}-20", Monday.AddDays(day).AddHours(20)));
        }
        var rules = new RetentionRules { MaxBackups = 2, DayBackups = 3, WeekBackups = 3, Offset = TimeSpan.FromHours(8) };
        var kept = backups.Select(b => b.Id).Except(Retention.Expired(backups, rules, Monday.AddDays(21))).Order(StringComparer.Ordinal);

        // The newest two (20-20, 20-02); the newest of local days 21, 20, 19 (20-20, 20-02, 19-02); the newest of the
        // local weeks beginning on days 21, 14 and 7 (20-20, 20-02, and 13-02, since 13-20 is already Monday 14 locally).
        Assert.Equal(["13-02", "19-02", "20-02", "20-20"], kept);

        // In UTC the same rules keep other backups: each 20:00 one stays on its own day.
        var keptInUtc = backups.Select(b => b.Id).Except(Retention.Expired(backups, rules with { Offset = TimeSpan.Zero }, Monday.AddDays(21)))
            .Order(StringComparer.Ordinal);
        Assert.Equal(["06-20", "13-20", "18-20", "19-20", "20-02", "20-20"], keptInUtc);
    }

    [Theory]
    [InlineData("UTC+08:00", 8 * 60)]
    [InlineData("UTC-03:30", -(3 * 60 + 30))]
    [InlineData("UTC+00:00", 0)]
    public void Time_zones_are_read_in_the_api_form(string timezone, int minutes) =>
        Assert.Equal(TimeSpan.FromMinutes(minutes), Retention.ParseTimezone(timezone));

    [Theory]
    [InlineData("UTC+8")]
    [InlineData("GMT+08:00")]
    [InlineData("UTC+15:00")]
    [InlineData("")]
    public void Malformed_time_zones_are_refused(string timezone) => Assert.Null(Retention.ParseTimezone(timezone));
}
