using Ims.Service.Http;

namespace Ims.Service.Auth;

/// <summary>
/// Authenticates every routed request by token (<c>X-Auth-Token</c>) or AK/SK signature, and keeps a caller
/// out of other projects' paths. Failures answer as the API gateway does: 401 <c>APIGW.0301</c>.
/// </summary>
public sealed class AuthenticationMiddleware(RequestDelegate next, TokenService tokens, Accounts accounts, TimeProvider time)
{
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromMinutes(15);

    public async Task InvokeAsync(HttpContext http)
    {
        var endpoint = http.GetEndpoint();
        if (endpoint is null || endpoint.Metadata.GetMetadata<AnonymousEndpoint>() is not null)
        {
            await next(http);
            return;
        }

        var (caller, reason) = await AuthenticateAsync(http);
        if (caller is null)
        {
            await new ApiError(ServiceKind.Gateway, StatusCodes.Status401Unauthorized, "APIGW.0301",
                $"Incorrect IAM authentication information: {reason}").ExecuteAsync(http);
            return;
        }
        caller.AttachTo(http);

        if (http.Request.RouteValues.TryGetValue("project_id", out var pathProject) && pathProject is string p && p != caller.ProjectId)
        {
            var service = http.ServiceOf();
            await new ApiError(service, StatusCodes.Status403Forbidden, ErrorBodies.ForbiddenCode(service),
                "The project ID in the request path does not match the project of the credentials.").ExecuteAsync(http);
            return;
        }
        await next(http);
    }

    private async Task<(Caller? Caller, string Reason)> AuthenticateAsync(HttpContext http)
    {
        var token = http.Request.Headers["X-Auth-Token"].ToString();
        if (token.Length > 0)
        {
            var validated = tokens.Validate(token);
            return validated is null ? (null, "the token is invalid or has expired") : (validated.Value.Caller, "");
        }

        var header = SdkSignature.ParseHeader(http.Request.Headers.Authorization.ToString());
        if (header is null) return (null, "no token and no AK/SK signature in the request");

        if (!SdkSignature.TryParseSdkDate(http.Request.Headers["X-Sdk-Date"].ToString(), out var signedAt))
            return (null, "X-Sdk-Date is missing or malformed");
        if ((time.GetUtcNow() - signedAt).Duration() > MaxClockSkew)
            return (null, "the request time differs from the server time by more than 15 minutes");

        var key = accounts.KeyByAccess(header.AccessKey);
        if (key is null) return (null, "the access key does not exist");

        // The body is hashed from pooled segments: a request whose signature does not match allocates nothing for it.
        var contentSha = http.Request.Headers["X-Sdk-Content-Sha256"].ToString();
        var bodyHash = contentSha.Length > 0 ? contentSha : (await JsonBody.BufferAsync(http)).Sha256Hex();
        var query = http.Request.Query.SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string>(q.Key, v ?? "")));
        var canonical = SdkSignature.CanonicalRequest(http.Request.Method, http.Request.Path.Value ?? "/", query,
            header.SignedHeaders, name => name.Equals("host", StringComparison.OrdinalIgnoreCase)
                ? http.Request.Host.Value
                : http.Request.Headers[name].ToString(), bodyHash);
        var expected = SdkSignature.Sign(canonical, http.Request.Headers["X-Sdk-Date"].ToString(), key.Secret, header.Scope);
        if (!SdkSignature.FixedTimeEquals(expected, header.Signature))
            return (null, "the request signature does not match");

        var projectId = http.Request.Headers["X-Project-Id"].ToString();
        if (projectId.Length == 0 && http.Request.RouteValues.TryGetValue("project_id", out var p) && p is string pathProject)
            projectId = pathProject;
        var domainScoped = false;
        if (projectId.Length == 0 && http.GetEndpoint()?.Metadata.GetMetadata<DomainScopedEndpoint>() is not null)
        {
            // Account-level APIs (IAM's domain calls, EPS): GlobalCredentials send X-Domain-Id, and the SDKs' own project
            // and domain look-ups send neither header. The caller acts for the whole account; the account's first
            // project stands in as its project, which these endpoints never use as a scope.
            var domainId = http.Request.Headers["X-Domain-Id"].ToString();
            if (domainId.Length > 0 && domainId != key.User.Domain.Id) return (null, "X-Domain-Id is not the access key's account");
            projectId = accounts.ProjectsOf(key.User.Domain).FirstOrDefault()?.Id ?? "";
            domainScoped = true;
        }
        if (projectId.Length == 0) return (null, "X-Project-Id is required with AK/SK authentication");
        var project = accounts.FindProject(key.User.Domain, projectId, null);
        if (project is null) return (null, "the project does not belong to the access key's account");
        return (new Caller(key.User, project, AuthMethod.AkSk) { DomainScoped = domainScoped }, "");
    }
}
