using System.Text.Json.Serialization;
using Ims.Service.Auth;
using Ims.Service.Hosting;
using Ims.Service.Http;
using Microsoft.Extensions.Options;

namespace Ims.Service.Iam;

/// <summary>
/// The IAM (Keystone v3) slice clients need: issue and validate project-scoped tokens, list projects and the account.
/// Everything but the token issue is account-level: AK/SK callers may sign with the account (<c>X-Domain-Id</c>) or
/// with no id at all, as the SDKs do when they look up the project or account id they were not given.
/// </summary>
public static class IamEndpoints
{
    public static IEndpointRouteBuilder MapIam(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v3").ForService(ServiceKind.Iam);
        group.MapPost("/auth/tokens", IssueToken).AllowAnonymousCaller();
        group.MapGet("/auth/tokens", ValidateToken).AllowDomainScope();
        group.MapGet("/projects", ListProjects).AllowDomainScope();
        group.MapGet("/auth/projects", ListProjects).AllowDomainScope();
        group.MapGet("/auth/domains", ListDomains).AllowDomainScope();
        return app;
    }

    private static async Task<IResult> IssueToken(HttpContext http, Accounts accounts, TokenService tokens, IOptions<ServiceOptions> options)
    {
        var (body, error) = await JsonBody.ReadAsync<AuthRequest>(http, ServiceKind.Iam);
        if (error is not null) return error;
        var identity = body!.Auth?.Identity;
        if (identity?.Methods is null || !identity.Methods.Contains("password") || identity.Password?.User is not { } userRef
            || string.IsNullOrEmpty(userRef.Name) || userRef.Password is null)
            return ApiError.BadBody(ServiceKind.Iam, "Only the password method with a user name and password is supported.");

        var user = accounts.FindUser(userRef.Domain?.Name, userRef.Domain?.Id, userRef.Name);
        if (user is null || !SdkSignature.FixedTimeEquals(user.Password, userRef.Password))
            return new ApiError(ServiceKind.Iam, StatusCodes.Status401Unauthorized, "401", "The username or password is wrong.");

        var scope = body.Auth!.Scope?.Project;
        if (scope is null || (scope.Id is null && scope.Name is null))
            return ApiError.BadBody(ServiceKind.Iam, "A project scope (scope.project.id or scope.project.name) is required.");
        var project = accounts.FindProject(user.Domain, scope.Id, scope.Name);
        if (project is null)
            return new ApiError(ServiceKind.Iam, StatusCodes.Status401Unauthorized, "401", "The project does not exist in the user's account.");

        var issued = tokens.Issue(user, project);
        http.Response.Headers["X-Subject-Token"] = issued.Token;
        return TypedResults.Json(TokenBody(http, user, project, issued.IssuedAtMs, issued.ExpiresAtMs, options.Value),
            statusCode: StatusCodes.Status201Created);
    }

    /// <summary>
    /// Validates another token, as an administrator or the token's own user may: only tokens of the caller's account are
    /// found (IAM: "administrators can validate tokens of IAM users in their account only"); others are 404 like an
    /// expired one, so nothing about other accounts leaks.
    /// </summary>
    private static IResult ValidateToken(HttpContext http, Caller caller, TokenService tokens, IOptions<ServiceOptions> options)
    {
        var subject = http.Request.Headers["X-Subject-Token"].ToString();
        var validated = subject.Length == 0 ? null : tokens.Validate(subject);
        if (validated is not { } v || v.Caller.Domain != caller.Domain)
            return new ApiError(ServiceKind.Iam, StatusCodes.Status404NotFound, "404", "The token does not exist or has expired.");
        http.Response.Headers["X-Subject-Token"] = subject;
        var withCatalog = !string.Equals(QueryArgs.String(http, "nocatalog"), "true", StringComparison.OrdinalIgnoreCase);
        return TypedResults.Json(TokenBody(http, v.Caller.User, v.Caller.Project, v.IssuedAtMs, v.ExpiresAtMs, options.Value, withCatalog));
    }

    /// <summary>
    /// The caller's account's projects. Filters: <c>name</c> (exact, as Keystone: the SDKs look up the project of a
    /// region by its name and expect exactly one), <c>domain_id</c> (another account's has none here), <c>enabled</c>.
    /// </summary>
    private static IResult ListProjects(HttpContext http, Caller caller, Accounts accounts)
    {
        var name = QueryArgs.String(http, "name");
        var domainId = QueryArgs.String(http, "domain_id");
        var enabled = QueryArgs.String(http, "enabled");
        var projects = accounts.ProjectsOf(caller.Domain)
            .Where(p => name is null || p.Name == name)
            .Where(p => domainId is null || p.Domain.Id == domainId)
            .Where(_ => enabled is null || !enabled.Equals("false", StringComparison.OrdinalIgnoreCase))
            .Select(p => new
            {
                id = p.Id,
                name = p.Name,
                domain_id = p.Domain.Id,
                parent_id = p.Domain.Id,
                enabled = true,
                is_domain = false,
                description = "",
                links = new { self = $"{BaseUrl(http)}/v3/projects/{p.Id}" },
            });
        return TypedResults.Json(new { projects, links = new { self = $"{BaseUrl(http)}{http.Request.Path}", previous = (string?)null, next = (string?)null } });
    }

    /// <summary>
    /// <c>GET /v3/auth/domains</c>: the account the credentials belong to. The SDKs' GlobalCredentials call it to learn
    /// the domain id they were not given, and take the first entry.
    /// </summary>
    private static IResult ListDomains(HttpContext http, Caller caller)
    {
        var url = BaseUrl(http);
        var domains = new[]
        {
            new
            {
                enabled = true,
                id = caller.Domain.Id,
                name = caller.Domain.Name,
                links = new { self = $"{url}/v3/domains/{caller.Domain.Id}" },
                description = "",
            },
        };
        return TypedResults.Json(new { domains, links = new { self = $"{url}/v3/auth/domains" } });
    }

    private static string BaseUrl(HttpContext http) => $"{http.Request.Scheme}://{http.Request.Host}";

    private static object TokenBody(HttpContext http, User user, Project project, long issuedAt, long expiresAt, ServiceOptions options,
        bool withCatalog = true)
    {
        var url = BaseUrl(http);
        var region = options.EffectiveRegion;
        // One endpoint serves every service, so each catalog entry points at the same base URL.
        string[] services = ["iam", "ims", "ecs", "evs", "vpc", "cbr", "csbs", "eps"];
        var catalog = services.Select(s => new
        {
            type = s == "iam" ? "identity" : s == "ims" ? "image" : s,
            id = Ids.NewHex32(),
            name = s,
            endpoints = new[]
            {
                new { id = Ids.NewHex32(), @interface = "public", region, region_id = region, url = s == "iam" ? $"{url}/v3" : url },
            },
        });
        return new
        {
            token = new
            {
                methods = new[] { "password" },
                expires_at = WireTime.Micros(expiresAt),
                issued_at = WireTime.Micros(issuedAt),
                user = new { id = user.Id, name = user.Name, domain = new { id = user.Domain.Id, name = user.Domain.Name }, password_expires_at = "" },
                project = new { id = project.Id, name = project.Name, domain = new { id = project.Domain.Id, name = project.Domain.Name } },
                roles = new[] { new { id = "0", name = "op_service" }, new { id = "1", name = "te_admin" } },
                catalog = withCatalog ? catalog : null,
            },
        };
    }

    private sealed record AuthRequest([property: JsonPropertyName("auth")] AuthBody? Auth);
    private sealed record AuthBody(
        [property: JsonPropertyName("identity")] Identity? Identity,
        [property: JsonPropertyName("scope")] Scope? Scope);
    private sealed record Identity(
        [property: JsonPropertyName("methods")] List<string>? Methods,
        [property: JsonPropertyName("password")] PasswordMethod? Password);
    private sealed record PasswordMethod([property: JsonPropertyName("user")] UserRef? User);
    private sealed record UserRef(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("password")] string? Password,
        [property: JsonPropertyName("domain")] NamedRef? Domain);
    private sealed record Scope([property: JsonPropertyName("project")] NamedRef? Project);
    private sealed record NamedRef(
        [property: JsonPropertyName("id")] string? Id,
        [property: JsonPropertyName("name")] string? Name);
}
