namespace Ims.Service.Http;

/// <summary>The cloud service an endpoint belongs to; it decides the shape of that endpoint's error bodies.</summary>
public enum ServiceKind
{
    Gateway,
    Iam,
    Ims,
    Ecs,
    /// <summary>The OpenStack compute API (<c>/v2.1/{project_id}/servers</c>): Nova's fault bodies.</summary>
    Nova,
    Evs,
    Vpc,
    VpcV3,
    Cbr,
    Csbs,
    Eps,
    Admin,
}

/// <summary>Endpoint metadata naming the service of a route group.</summary>
public sealed record ServiceTag(ServiceKind Service);

/// <summary>Endpoint metadata marking a route that needs no credentials (token issue, version documents).</summary>
public sealed record AnonymousEndpoint;

/// <summary>
/// Endpoint metadata marking an account-level (global) API: IAM's domain calls and EPS. An AK/SK request to it may
/// name the account (<c>X-Domain-Id</c>, as the SDKs' GlobalCredentials do) or nothing at all (the SDKs' own project
/// and domain look-ups) instead of a project.
/// </summary>
public sealed record DomainScopedEndpoint;

public static class ServiceTagExtensions
{
    public static TBuilder ForService<TBuilder>(this TBuilder builder, ServiceKind service) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ServiceTag(service));

    public static TBuilder AllowAnonymousCaller<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new AnonymousEndpoint());

    public static TBuilder AllowDomainScope<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new DomainScopedEndpoint());

    public static ServiceKind ServiceOf(this HttpContext http) =>
        http.GetEndpoint()?.Metadata.GetMetadata<ServiceTag>()?.Service ?? ServiceKind.Gateway;
}
