using Ims.Service.Jobs;

namespace Ims.Service.Ecs;

public static class EcsRegistration
{
    public static IServiceCollection AddEcs(this IServiceCollection services)
    {
        services.AddSingleton<Catalog>();
        services.AddSingleton<JobHandler, CreateServerJob>();
        services.AddSingleton<JobHandler, DeleteServerJob>();
        services.AddSingleton<JobHandler>(_ => PowerJob.Stop());
        services.AddSingleton<JobHandler>(_ => PowerJob.Start());
        services.AddSingleton<JobHandler>(_ => PowerJob.Reboot());
        services.AddSingleton<JobHandler, AttachVolumeJob>();
        services.AddSingleton<JobHandler, DetachVolumeJob>();
        services.AddSingleton<JobHandler, ChangeOsJob>();
        return services;
    }

    public static IEndpointRouteBuilder MapEcs(this IEndpointRouteBuilder app) =>
        app.MapEcsCatalog().MapServers().MapServerDisks().MapServerChangeOs();
}
