using Ims.Service.Backups;
using Ims.Service.Http;

namespace Ims.Service.Csbs;

/// <summary>
/// CSBS's documented error codes (body <c>{"error_code","error_msg"}</c>). check_protectable reports the same codes in
/// its per-resource results that protect answers with.
/// </summary>
public static class CsbsErrors
{
    /// <summary>Why a server cannot be protected, or null when it can.</summary>
    public static ApiError? Of(ServerCheck server) => server.Problem switch
    {
        ServerProblem.NotFound => Bad("CSBS.6000", $"Server {server.Id} does not exist."),
        ServerProblem.BadStatus => Bad("CSBS.6006", $"Server ({server.Id}) status ({server.Status}) is not allowed to protect."),
        ServerProblem.Busy => Busy(server.Id),
        ServerProblem.NoVolumes => Bad("CSBS.6007", $"No volume attached to the server ({server.Id}) for protect."),
        // CSBS cannot capture shared disks consistently, so it refuses servers that have one.
        _ when server.SharedVolumeId is { } shared =>
            Bad("CSBS.6010", $"Volume ({shared}) attached to server ({server.Id}) is shareable volume."),
        _ => null,
    };

    public static ApiError Busy(string serverId) => Bad("CSBS.6005", $"Server ({serverId}) is already in service.");

    public static ApiError TypeNotSupported(string resourceId, string resourceType) =>
        Bad("CSBS.6003", $"Resource ({resourceId}) type ({resourceType}) is not support protection.");

    /// <summary>The project has the most backup policies CSBS allows (<see cref="Policies.PolicyRules.MaxPoliciesPerType"/>).</summary>
    public static ApiError PolicyLimit() =>
        Bad("CSBS.0001", $"Service over limit: the number of backup policies has reached the upper limit ({Policies.PolicyRules.MaxPoliciesPerType}).");

    /// <summary>
    /// Why a restore is refused, with the API reference's restore codes: the target server does not exist (6000), is not
    /// stopped or is busy (6015), a mapped disk is not attached to it (6014). DECISION: the reference has no code for a
    /// backup that is not available, a mapping that names no disk of the backup or a disk too small; those answer the
    /// parameter check's CSBS.9001.
    /// </summary>
    public static ApiError Of(RestoreRefusal refusal) => refusal.Problem switch
    {
        RestoreProblem.ServerNotFound => Bad("CSBS.6000", $"Server {refusal.Subject} does not exist."),
        RestoreProblem.ServerNotStopped or RestoreProblem.ServerBusy or RestoreProblem.DiskBusy => Bad("CSBS.6015", refusal.Message),
        RestoreProblem.DiskNotAttached or RestoreProblem.VolumeNotFound => Bad("CSBS.6014", $"Volume(s) ({refusal.Subject}) not found in target server."),
        _ => ApiError.BadBody(ServiceKind.Csbs, refusal.Message),
    };

    public static ApiError RestoreTypeNotSupported(string resourceId, string resourceType) =>
        Bad("CSBS.6013", $"Resource ({resourceId}) type ({resourceType}) is not support restoration.");

    public static ApiError ProviderInvalid() => ApiError.BadBody(ServiceKind.Csbs, "provider invalid");

    private static ApiError Bad(string code, string message) => new(ServiceKind.Csbs, StatusCodes.Status400BadRequest, code, message);
}
