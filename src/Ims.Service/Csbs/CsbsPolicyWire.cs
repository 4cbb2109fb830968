using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Ims.Service.Policies;

namespace Ims.Service.Csbs;

// CSBS v1 backup policies as opentelekomcloud_csbs_backup_policy_v1 (gophertelekomcloud csbs/v1/policies) sends and
// reads them: one scheduled operation whose pattern is an iCalendar VCALENDAR holding the RRULE, and the servers the
// policy protects. Dates are "2018-08-20T07:31:32.718435" (no zone), as CSBS shows them.

public sealed record CsbsPolicyRequest
{
    [JsonPropertyName("policy")] public CsbsPolicyBody? Policy { get; init; }
}

public sealed record CsbsPolicyBody
{
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
    [JsonPropertyName("provider_id")] public string? ProviderId { get; init; }
    [JsonPropertyName("parameters")] public JsonObject? Parameters { get; init; }
    [JsonPropertyName("scheduled_operations")] public List<CsbsScheduledOperationBody?>? ScheduledOperations { get; init; }
    [JsonPropertyName("resources")] public List<CsbsPolicyResourceBody?>? Resources { get; init; }
    [JsonPropertyName("tags")] public List<CsbsTagBody?>? Tags { get; init; }
}

public sealed record CsbsScheduledOperationBody
{
    [JsonPropertyName("id")] public string? Id { get; init; }
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
    [JsonPropertyName("enabled")] public bool? Enabled { get; init; }
    [JsonPropertyName("operation_type")] public string? OperationType { get; init; }
    [JsonPropertyName("operation_definition")] public PolicyDefinitionBody? OperationDefinition { get; init; }
    [JsonPropertyName("trigger")] public CsbsTriggerBody? Trigger { get; init; }
}

public sealed record CsbsTriggerBody
{
    [JsonPropertyName("properties")] public CsbsTriggerPropertiesBody? Properties { get; init; }
}

public sealed record CsbsTriggerPropertiesBody
{
    [JsonPropertyName("pattern")] public string? Pattern { get; init; }
}

public sealed record CsbsPolicyResourceBody
{
    [JsonPropertyName("id")] public string? Id { get; init; }
    [JsonPropertyName("type")] public string? Type { get; init; }
    [JsonPropertyName("name")] public string? Name { get; init; }
}

public sealed record CsbsPolicyWire
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("description")] public required string Description { get; init; }
    [JsonPropertyName("status")] public required string Status { get; init; }
    [JsonPropertyName("provider_id")] public required string ProviderId { get; init; }
    [JsonPropertyName("project_id")] public required string ProjectId { get; init; }
    [JsonPropertyName("created_at")] public required string CreatedAt { get; init; }
    [JsonPropertyName("parameters")] public JsonObject Parameters { get; init; } = new() { ["common"] = new JsonObject() };
    [JsonPropertyName("resources")] public required IReadOnlyList<CsbsPolicyResourceWire> Resources { get; init; }
    [JsonPropertyName("scheduled_operations")] public required IReadOnlyList<CsbsScheduledOperationWire> ScheduledOperations { get; init; }
    [JsonPropertyName("tags")] public required IReadOnlyList<CsbsTagWire> Tags { get; init; }
}

public sealed record CsbsPolicyResourceWire(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("name")] string Name);

public sealed record CsbsTagWire([property: JsonPropertyName("key")] string Key, [property: JsonPropertyName("value")] string Value);

public sealed record CsbsScheduledOperationWire
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("description")] public required string Description { get; init; }
    [JsonPropertyName("enabled")] public bool Enabled { get; init; }
    [JsonPropertyName("operation_type")] public string OperationType { get; init; } = PolicyOperation.Backup;
    [JsonPropertyName("trigger_id")] public required string TriggerId { get; init; }
    [JsonPropertyName("trigger")] public required CsbsTriggerWire Trigger { get; init; }
    [JsonPropertyName("operation_definition")] public required CsbsOperationDefinitionWire OperationDefinition { get; init; }
}

public sealed record CsbsTriggerWire
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("name")] public string Name { get; init; } = "default";
    [JsonPropertyName("type")] public string Type { get; init; } = "time";
    [JsonPropertyName("properties")] public required CsbsTriggerPropertiesWire Properties { get; init; }
}

public sealed record CsbsTriggerPropertiesWire(
    [property: JsonPropertyName("pattern")] string Pattern,
    [property: JsonPropertyName("start_time")] string StartTime);

/// <summary>Only what was set is shown, as CSBS does (the client reads a missing count as 0).</summary>
public sealed record CsbsOperationDefinitionWire
{
    [JsonPropertyName("max_backups"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? MaxBackups { get; init; }
    [JsonPropertyName("retention_duration_days"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? RetentionDurationDays { get; init; }
    [JsonPropertyName("permanent")] public bool Permanent { get; init; }
    [JsonPropertyName("day_backups"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? DayBackups { get; init; }
    [JsonPropertyName("week_backups"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? WeekBackups { get; init; }
    [JsonPropertyName("month_backups"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? MonthBackups { get; init; }
    [JsonPropertyName("year_backups"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? YearBackups { get; init; }
    [JsonPropertyName("timezone"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Timezone { get; init; }
    [JsonPropertyName("plan_id")] public required string PlanId { get; init; }
    [JsonPropertyName("provider_id")] public required string ProviderId { get; init; }
}
