using Ims.Service.Http;

namespace Ims.Service.Ecs;

/// <summary>
/// The ECS error codes this emulator answers with. Real ECS reports most request problems as <c>Ecs.0005</c>
/// ("invalid request parameter") with a specific message; the other codes follow the public ECS error table.
/// </summary>
public static class EcsErrors
{
    public const string InvalidParameter = "Ecs.0005";
    public const string IpInUse = "Ecs.0010";
    public const string SubnetExhausted = "Ecs.0012";
    public const string InvalidState = "Ecs.0100";
    public const string ServerNotFound = "Ecs.0114";

    public static ApiError Invalid(string message) =>
        new(ServiceKind.Ecs, StatusCodes.Status400BadRequest, InvalidParameter, message);

    public static ApiError NotFound(string serverId) =>
        new(ServiceKind.Ecs, StatusCodes.Status404NotFound, ServerNotFound, $"Instance[{serverId}] could not be found.");

    /// <summary>The server is in the wrong state for the request (or another task is working on it).</summary>
    public static ApiError Conflict(string message) =>
        new(ServiceKind.Ecs, StatusCodes.Status409Conflict, InvalidState, message);
}
