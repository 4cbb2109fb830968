using Ims.Service.Hosting;

namespace Ims.Service.Nodes;

/// <summary>The node's identity and settings (<c>Ims:Node</c>).</summary>
public static class NodeRegistration
{
    public static IServiceCollection AddNodes(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<NodeOptions>(configuration.GetSection(NodeOptions.Section), options => options.Problems());
        return services;
    }
}
