using Ims.DataPlane;
using Ims.Service.Hosting;
using Microsoft.Extensions.Options;

namespace Ims.Service.Data;

/// <summary>The data plane and its settings (<c>Ims:DataPlane</c>: <c>Parallelism</c>, <c>IoDepth</c>, <c>Root</c>).</summary>
public static class DataPlaneRegistration
{
    public const string Section = "Ims:DataPlane";

    public static IServiceCollection AddDataPlane(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<DataPlaneOptions>(configuration.GetSection(Section),
                options => options.Problems().Select(problem => $"{Section}:{problem}"))
            // The disks' bytes, chunks and manifests: by default a folder beside the database.
            .PostConfigure<IOptions<ServiceOptions>>((options, service) =>
            {
                if (string.IsNullOrWhiteSpace(options.Root))
                    options.Root = Path.Combine(Path.GetFullPath(service.Value.DataDir), "data");
            });
        services.AddSingleton(sp => DataPlane.DataPlane.Open(sp.GetRequiredService<IOptions<DataPlaneOptions>>().Value,
            sp.GetRequiredService<TimeProvider>()));
        return services;
    }
}
