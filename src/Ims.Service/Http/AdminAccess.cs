using System.Net;
using System.Security.Cryptography;
using System.Text;
using Ims.Service.Hosting;
using Microsoft.Extensions.Options;

namespace Ims.Service.Http;

/// <summary>
/// The gate of the admin API, which lies outside the cloud API: cloud credentials mean nothing there. Without
/// <c>Ims:AdminToken</c> only loopback callers get in; with it, any caller that sends the token as
/// <c>X-Admin-Token</c>, and no caller without it.
/// </summary>
public static class AdminAccess
{
    public const string TokenHeader = "X-Admin-Token";

    public static TBuilder AdminOnly<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.ForService(ServiceKind.Admin).AllowAnonymousCaller().AddEndpointFilter(CheckAsync);

    internal static async ValueTask<object?> CheckAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var token = http.RequestServices.GetRequiredService<IOptions<ServiceOptions>>().Value.AdminToken;
        if (!string.IsNullOrEmpty(token))
        {
            if (!SameSecret(http.Request.Headers[TokenHeader].ToString(), token))
                return new ApiError(ServiceKind.Admin, StatusCodes.Status401Unauthorized, "APIGW.0301",
                    $"The admin API needs the {TokenHeader} header with the configured admin token.");
        }
        else if (!IsLoopback(http.Connection.RemoteIpAddress))
        {
            return new ApiError(ServiceKind.Admin, StatusCodes.Status403Forbidden, ErrorBodies.ForbiddenCode(ServiceKind.Admin),
                "The admin API answers loopback callers only unless Ims:AdminToken is set.");
        }
        return await next(context);
    }

    /// <summary>Compares hashes so that neither the content nor the length of the token leaks through timing.</summary>
    private static bool SameSecret(string given, string expected) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));

    private static bool IsLoopback(IPAddress? address) =>
        address is not null && IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);
}
