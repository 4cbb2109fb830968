using Ims.Service.Http;

namespace Ims.Service.Cbr;

/// <summary>
/// CBR's error codes (from the CBR API reference error table where it has one; the body shape is
/// <c>{"error_code","error_msg"}</c>, rendered by <see cref="ErrorBodies"/>).
/// </summary>
public static class CbrErrors
{
    public static ApiError BadRequest(string message) => ApiError.BadBody(ServiceKind.Cbr, message);

    public static ApiError VaultNotFound(string vaultId) =>
        new(ServiceKind.Cbr, StatusCodes.Status404NotFound, "BackupService.6105", $"Vault {vaultId} not found.");

    public static ApiError ResourceNotFound(string what, string id) =>
        ApiError.NotFound(ServiceKind.Cbr, $"The {what} {id} does not exist.");

    public static ApiError InvalidSize(string message) => Bad("BackupService.6101", message);

    public static ApiError TypeMismatch(string resourceType, string objectType) =>
        Bad("BackupService.6102", $"Resource type {resourceType} does not match the {objectType} vault resource type.");

    public static ApiError AlreadyInOtherVault(string resourceId) =>
        Bad("BackupService.6103", $"Resource {resourceId} is already associated with another vault.");

    public static ApiError DuplicateResource(string resourceId) =>
        Bad("BackupService.6104", $"Duplicate resource {resourceId}.");

    public static ApiError NothingToBackUp(string detail) =>
        Bad("BackupService.0001", $"No resource is available for backup. {detail}".TrimEnd());

    /// <summary>
    /// The backups would not fit the vault: CBR's "the used capacity of the vault exceeds the maximum capacity"
    /// (<c>BackupService.6114</c>). The message says how much is used, needed and allowed, and what to do.
    /// </summary>
    public static ApiError VaultFull(string vaultId, long usedGb, long moreGb, long sizeGb) =>
        Bad(VaultFullCode, VaultFullMessage(vaultId, usedGb, moreGb, sizeGb));

    public const string VaultFullCode = "BackupService.6114";

    public static string VaultFullMessage(string vaultId, long usedGb, long moreGb, long sizeGb) =>
        $"The used capacity of the vault exceeds the maximum capacity: vault {vaultId} uses {usedGb} GB of {sizeGb} GB and the " +
        $"backup needs {moreGb} GB more. Expand the vault (billing.size) or delete backups.";

    /// <summary>The project has the most policies of this type CBR allows (<see cref="Policies.PolicyRules.MaxPoliciesPerType"/>).</summary>
    public static ApiError PolicyLimit(string operationType) =>
        Bad("BackupService.6001", $"The maximum number of this type of policies has been reached: at most {Policies.PolicyRules.MaxPoliciesPerType} {operationType} policies per project.");

    public static ApiError PolicyNotFound(string policyId) =>
        new(ServiceKind.Cbr, StatusCodes.Status404NotFound, "BackupService.6000", $"Policy {policyId} does not exist.");

    public static ApiError PolicyNotApplied(string policyId, string vaultId) =>
        new(ServiceKind.Cbr, StatusCodes.Status404NotFound, "BackupService.6002", $"Vault {vaultId} is not applied with policy {policyId}.");

    public static ApiError UnknownPolicyType(string? operationType) =>
        Bad("BackupService.6117", $"Unknown policy type {operationType}; use backup or replication.");

    public static ApiError PolicyNotApplicable(string message) => Bad("BackupService.6127", message);

    /// <summary>"Parameter verification failed": what the real service answers for a policy field out of its rules.</summary>
    public static ApiError InvalidParameter(string message) => Bad("BackupService.9900", message);

    /// <summary>
    /// A backup (or a vault holding one) that a job is still writing, or that an image still uses; also a restore onto a
    /// server that is not stopped (CBR restores only onto stopped servers). DECISION: no CBR error table is at hand; the
    /// code is that of a resource in the wrong state for the operation, with a message that says what to do.
    /// </summary>
    public static ApiError InUse(string message) => Bad("BackupService.6301", message);

    private static ApiError Bad(string code, string message) => new(ServiceKind.Cbr, StatusCodes.Status400BadRequest, code, message);
}
