using Ims.Service.Ecs;
using Ims.Service.Evs;

namespace Ims.Service.Hosting;

/// <summary>The table of contents: every feature's services, seeds and endpoints, registered in one place.</summary>
internal static class Features
{
    public static void AddServices(IServiceCollection services)
    {
        services.AddEvs();
        services.AddEcs();
    }

    public static async Task SeedAsync(IServiceProvider services, CancellationToken ct)
    {
        await Task.CompletedTask;
    }

    public static void MapEndpoints(IEndpointRouteBuilder app)
    {
        app.MapEcs();
        app.MapVolumes();
    }
}
