using System.Text.Json.Serialization;
using Ims.Service.Policies;

namespace Ims.Service.Cbr;

// CBR v3 policies, as huaweicloud_cbr_policy (chnsz/golangsdk cbr/v3/policies) and the SDKs send and read them.

public sealed record CbrPolicyRequest
{
    [JsonPropertyName("policy")] public CbrPolicyBody? Policy { get; init; }
}

public sealed record CbrPolicyBody
{
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("enabled")] public bool? Enabled { get; init; }
    [JsonPropertyName("operation_type")] public string? OperationType { get; init; }
    [JsonPropertyName("operation_definition")] public PolicyDefinitionBody? OperationDefinition { get; init; }
    [JsonPropertyName("trigger")] public PolicyTriggerBody? Trigger { get; init; }
}

public sealed record PolicyTriggerBody
{
    [JsonPropertyName("properties")] public PolicyTriggerPropertiesBody? Properties { get; init; }
}

public sealed record PolicyTriggerPropertiesBody
{
    [JsonPropertyName("pattern")] public List<string?>? Pattern { get; init; }
}

public sealed record VaultPolicyRequest
{
    [JsonPropertyName("policy_id")] public string? PolicyId { get; init; }
    [JsonPropertyName("destination_vault_id")] public string? DestinationVaultId { get; init; }
}

public sealed record CbrPolicyWire
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("enabled")] public bool Enabled { get; init; }
    [JsonPropertyName("operation_type")] public required string OperationType { get; init; }
    [JsonPropertyName("operation_definition")] public required PolicyDefinition OperationDefinition { get; init; }
    [JsonPropertyName("trigger")] public required CbrTriggerWire Trigger { get; init; }
    [JsonPropertyName("associated_vaults")] public required IReadOnlyList<AssociatedVaultWire> AssociatedVaults { get; init; }
}

public sealed record CbrTriggerWire
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("name")] public string Name { get; init; } = "default";
    [JsonPropertyName("type")] public string Type { get; init; } = "time";
    [JsonPropertyName("properties")] public required CbrTriggerPropertiesWire Properties { get; init; }
}

public sealed record CbrTriggerPropertiesWire(
    [property: JsonPropertyName("pattern")] IReadOnlyList<string> Pattern,
    [property: JsonPropertyName("start_time")] string StartTime);

public sealed record AssociatedVaultWire(
    [property: JsonPropertyName("vault_id")] string VaultId,
    [property: JsonPropertyName("destination_vault_id"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? DestinationVaultId);

public sealed record VaultPolicyWire(
    [property: JsonPropertyName("vault_id")] string VaultId,
    [property: JsonPropertyName("policy_id")] string PolicyId,
    [property: JsonPropertyName("destination_vault_id"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? DestinationVaultId);
