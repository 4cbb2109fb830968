using Ims.Service.Hosting;

namespace Ims.Service.Nodes;

/// <summary>The node's identity and settings (<c>Ims:Node</c>).</summary>
public static class NodeRegistration
{
    public static IServiceCollection AddNodes(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<NodeOptions>(configuration.GetSection(NodeOptions.Section), options => options.Problems());
        services.AddSingleton<NodeStore>();
        services.AddSingleton<NodeForwarding>();
        services.AddHostedService<NodeHeartbeat>();
        // A node that accepts the connection but never answers is reported unavailable after this, not waited for.
        services.AddHttpClient(NodeForwarding.ClientName, client => client.Timeout = TimeSpan.FromSeconds(60));
        return services;
    }
}
