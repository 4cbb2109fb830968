using Ims.Service.Jobs;

namespace Ims.Service.Ecs;

public static class EcsRegistration
{
    public static IServiceCollection AddEcs(this IServiceCollection services)
    {
        services.AddSingleton<Catalog>();
        services.AddSingleton<ServerStore>();
        services.AddSingleton<JobHandler, CreateServerJob>();
        services.AddSingleton<JobHandler, DeleteServerJob>();
        services.AddSingleton<JobHandler>(sp => PowerJob.Stop(sp.GetRequiredService<ServerStore>()));
        services.AddSingleton<JobHandler>(sp => PowerJob.Start(sp.GetRequiredService<ServerStore>()));
        services.AddSingleton<JobHandler>(sp => PowerJob.Reboot(sp.GetRequiredService<ServerStore>()));
        services.AddSingleton<JobHandler, AttachVolumeJob>();
        services.AddSingleton<JobHandler, DetachVolumeJob>();
        services.AddSingleton<JobHandler, ChangeOsJob>();
        services.AddSingleton<JobHandler, ResizeServerJob>();
        return services;
    }

    public static IEndpointRouteBuilder MapEcs(this IEndpointRouteBuilder app) =>
        app.MapEcsCatalog().MapServers().MapServerDisks().MapServerChangeOs().MapServerChanges().MapNovaServers();
}
