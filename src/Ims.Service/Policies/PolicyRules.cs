using System.Text.Json.Serialization;

namespace Ims.Service.Policies;

/// <summary>A policy's <c>operation_definition</c> as CBR and CSBS clients send it.</summary>
public sealed record PolicyDefinitionBody
{
    [JsonPropertyName("max_backups")] public int? MaxBackups { get; init; }
    [JsonPropertyName("retention_duration_days")] public int? RetentionDurationDays { get; init; }
    [JsonPropertyName("day_backups")] public int? DayBackups { get; init; }
    [JsonPropertyName("week_backups")] public int? WeekBackups { get; init; }
    [JsonPropertyName("month_backups")] public int? MonthBackups { get; init; }
    [JsonPropertyName("year_backups")] public int? YearBackups { get; init; }
    [JsonPropertyName("timezone")] public string? Timezone { get; init; }
    [JsonPropertyName("full_backup_interval")] public int? FullBackupInterval { get; init; }
    [JsonPropertyName("destination_region")] public string? DestinationRegion { get; init; }
    [JsonPropertyName("destination_project_id")] public string? DestinationProjectId { get; init; }
    [JsonPropertyName("enable_acceleration")] public bool? EnableAcceleration { get; init; }
    /// <summary>CSBS only: keep backups forever (its other fields are then ignored).</summary>
    [JsonPropertyName("permanent")] public bool? Permanent { get; init; }
}

/// <summary>The rules of a policy's name and retention definition, common to CBR and CSBS (pure; messages only, codes are the caller's).</summary>
public static class PolicyRules
{
    /// <summary>
    /// At most this many policies of one service and operation type per project: CBR's documented constraint ("a maximum of
    /// 32 backup policies", answered with <c>BackupService.6001</c>, "the maximum number of this type of policies"), which
    /// CSBS gets too (its reference documents the refusal, <c>CSBS.0001</c>, but no number).
    /// </summary>
    public const int MaxPoliciesPerType = 32;

    public static string? CheckName(string? name) =>
        string.IsNullOrEmpty(name) || name.Length > 64 || !name.All(c => char.IsLetterOrDigit(c) || c is '_' or '-')
            ? "name must be 1 to 64 letters, digits, underscores or hyphens."
            : null;

    /// <summary>
    /// The stored definition of a request's, or what is wrong with it. Quantity (<c>max_backups</c>) and duration
    /// (<c>retention_duration_days</c>) exclude each other; the long-term counts need a time zone (terraform's own example
    /// pairs them with a duration, so that is accepted too); neither rule keeps backups forever (both stored as -1).
    /// </summary>
    public static (PolicyDefinition? Definition, string? Error) CheckDefinition(PolicyDefinitionBody? body, string operationType)
    {
        if (body is null) return (null, "operation_definition is required.");
        var maxBackups = body.MaxBackups is null or 0 ? -1 : body.MaxBackups.Value;
        var duration = body.RetentionDurationDays is null or 0 ? -1 : body.RetentionDurationDays.Value;
        if (maxBackups is not (-1 or (>= 1 and <= 99999))) return (null, "max_backups must be -1 or between 1 and 99999.");
        if (duration is not (-1 or (>= 1 and <= 99999))) return (null, "retention_duration_days must be -1 or between 1 and 99999.");
        if (maxBackups > 0 && duration > 0) return (null, "max_backups and retention_duration_days cannot both be set.");
        int?[] longTerm = [body.DayBackups, body.WeekBackups, body.MonthBackups, body.YearBackups];
        if (longTerm.Any(n => n is < 0 or > 100)) return (null, "day_backups, week_backups, month_backups and year_backups must be between 0 and 100.");
        var hasLongTerm = longTerm.Any(n => n > 0);
        if (body.Timezone is not null && Retention.ParseTimezone(body.Timezone) is null)
            return (null, $"timezone {body.Timezone} is invalid; use the form UTC+08:00.");
        if (hasLongTerm && body.Timezone is null) return (null, "timezone is required with long-term retention.");
        if (body.FullBackupInterval is < -1 or > 100) return (null, "full_backup_interval must be between -1 and 100.");
        if (operationType == PolicyOperation.Replication
            && (string.IsNullOrEmpty(body.DestinationRegion) || string.IsNullOrEmpty(body.DestinationProjectId)))
            return (null, "A replication policy needs destination_region and destination_project_id.");
        return (new PolicyDefinition
        {
            MaxBackups = maxBackups,
            RetentionDurationDays = duration,
            DayBackups = body.DayBackups ?? 0,
            WeekBackups = body.WeekBackups ?? 0,
            MonthBackups = body.MonthBackups ?? 0,
            YearBackups = body.YearBackups ?? 0,
            Timezone = body.Timezone,
            FullBackupInterval = body.FullBackupInterval,
            DestinationRegion = string.IsNullOrEmpty(body.DestinationRegion) ? null : body.DestinationRegion,
            DestinationProjectId = string.IsNullOrEmpty(body.DestinationProjectId) ? null : body.DestinationProjectId,
            EnableAcceleration = body.EnableAcceleration,
        }, null);
    }
}
