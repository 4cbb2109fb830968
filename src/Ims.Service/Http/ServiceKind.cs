namespace Ims.Service.Http;

/// <summary>The cloud service an endpoint belongs to; it decides the shape of that endpoint's error bodies.</summary>
public enum ServiceKind
{
    Gateway,
    Iam,
    Ims,
    Ecs,
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

public static class ServiceTagExtensions
{
    public static TBuilder ForService<TBuilder>(this TBuilder builder, ServiceKind service) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ServiceTag(service));

    public static TBuilder AllowAnonymousCaller<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new AnonymousEndpoint());

    public static ServiceKind ServiceOf(this HttpContext http) =>
        http.GetEndpoint()?.Metadata.GetMetadata<ServiceTag>()?.Service ?? ServiceKind.Gateway;
}
