using Ims.Service.Hosting;

namespace Ims.Service.Jobs;

/// <summary>The job engine's services and settings (<c>Ims:Jobs</c>).</summary>
public static class JobsRegistration
{
    public static IServiceCollection AddJobEngine(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<JobOptions>(configuration.GetSection(JobOptions.Section), options => options.Problems());
        services.AddSingleton<JobQueue>();
        services.AddSingleton<JobFaults>();
        services.AddHostedService<JobRunner>();
        return services;
    }
}
