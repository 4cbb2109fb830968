using Ims.Service.Storage;

namespace Ims.Service.Http;

/// <summary>
/// Last line of defence: whatever escapes a handler becomes an error body in the owning service's shape, never a
/// stack trace. Oversized and unreadable bodies keep their 4xx status.
/// </summary>
public sealed partial class ErrorMiddleware(RequestDelegate next, Database db, SpaceReserve reserve, ILogger<ErrorMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext http)
    {
        // Cheap while the reserve is in place; once space ran out, remakes it when space is back.
        reserve.TryRestore();
        try
        {
            await next(http);
        }
        catch (BadHttpRequestException ex) when (!http.Response.HasStarted)
        {
            var service = http.ServiceOf();
            var code = ex.StatusCode == StatusCodes.Status413PayloadTooLarge ? "APIGW.0413" : ErrorBodies.BadRequestCode(service);
            await new ApiError(service == ServiceKind.Gateway || ex.StatusCode == 413 ? ServiceKind.Gateway : service,
                ex.StatusCode, code, ex.StatusCode == 413 ? "The request body is too large." : "The request could not be read.")
                .ExecuteAsync(http);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nobody is left to answer.
        }
        catch (Exception ex) when (!http.Response.HasStarted && db.StorageFull(ex) is { } full)
        {
            // Not the client's fault, but nothing a retry fixes until space is freed: a 4xx that says so, never a 500.
            reserve.Release();
            Log.StorageFull(logger, http.Request.Method, http.Request.Path, full.Message);
            await ApiError.StorageFull(http.ServiceOf()).ExecuteAsync(http);
        }
        catch (Exception ex) when (!http.Response.HasStarted)
        {
            Log.Unhandled(logger, ex, http.Request.Method, http.Request.Path);
            var service = http.ServiceOf();
            var code = service == ServiceKind.Ims ? "IMG.0014" : "APIGW.0500";
            await new ApiError(service, StatusCodes.Status500InternalServerError, code,
                "An internal error occurred. Quote the X-Request-Id when reporting it.").ExecuteAsync(http);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(2001, LogLevel.Error, "Unhandled error on {Method} {Path}")]
        public static partial void Unhandled(ILogger logger, Exception ex, string method, string path);

        [LoggerMessage(2002, LogLevel.Warning, "Out of space on {Method} {Path}: {Reason}")]
        public static partial void StorageFull(ILogger logger, string method, string path, string reason);
    }
}
