using Ims.Service.Jobs;

namespace Ims.Service.Evs;

public static class EvsRegistration
{
    public static IServiceCollection AddEvs(this IServiceCollection services)
    {
        services.AddSingleton<VolumeStore>();
        services.AddSingleton<JobHandler, CreateVolumeJob>();
        services.AddSingleton<JobHandler, DeleteVolumeJob>();
        services.AddSingleton<JobHandler, ExtendVolumeJob>();
        return services;
    }
}
