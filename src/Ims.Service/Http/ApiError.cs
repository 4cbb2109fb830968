namespace Ims.Service.Http;

/// <summary>
/// An expected failure, returned from handlers as a result. <see cref="ErrorBodies"/> renders it in the
/// wire shape of the service it belongs to.
/// </summary>
public sealed record ApiError(ServiceKind Service, int Status, string Code, string Message) : IResult
{
    public Task ExecuteAsync(HttpContext httpContext) => ErrorBodies.WriteAsync(httpContext, this);

    public static ApiError Ims(string code, string message, int status = StatusCodes.Status400BadRequest) =>
        new(ServiceKind.Ims, status, code, message);

    /// <summary>The generic "request body is malformed" error of a service.</summary>
    public static ApiError BadBody(ServiceKind service, string detail) =>
        new(service, StatusCodes.Status400BadRequest, ErrorBodies.BadRequestCode(service), detail);

    /// <summary>The storage (data folder or database) ran out of space: 400, in the service's shape.</summary>
    public static ApiError StorageFull(ServiceKind service) =>
        new(service, StatusCodes.Status400BadRequest, ErrorBodies.StorageFullCode,
            "Insufficient storage capacity: the service's storage ran out of space. Free space and try again.");

    public static ApiError NotFound(ServiceKind service, string message) =>
        new(service, StatusCodes.Status404NotFound, ErrorBodies.NotFoundCode(service), message);
}
