using Ims.DataPlane;
using Ims.Service.Hosting;
using Ims.Service.Nodes;
using Microsoft.Extensions.Options;

namespace Ims.Service.Data;

/// <summary>
/// The data plane and its settings (<c>Ims:DataPlane</c>: <c>Parallelism</c>, <c>IoDepth</c>, <c>Root</c>; and
/// <c>Ims:ObjectStore</c>: <c>Endpoint</c>, <c>Bucket</c>, <c>AccessKey</c>, <c>SecretKey</c>, <c>Region</c>, the bucket
/// that holds the chunks and manifests when set).
/// </summary>
public static class DataPlaneRegistration
{
    public const string Section = "Ims:DataPlane";
    public const string ObjectStoreSection = "Ims:ObjectStore";

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
        services.AddValidatedOptions<ObjectStoreOptions>(configuration.GetSection(ObjectStoreSection),
            options => options.IsSet ? options.Problems().Select(problem => $"{ObjectStoreSection}:{problem}") : []);
        services.AddOptions<DataPlaneOptions>().PostConfigure<IOptions<ObjectStoreOptions>>((options, objectStore) =>
        {
            if (options.ObjectStore is null && objectStore.Value.IsSet) options.ObjectStore = objectStore.Value;
        });
        // Shared through the database when several nodes may use the store (on PostgreSQL unless Ims:Node:SharedCoordination
        // says otherwise); the data plane's own in the process otherwise.
        var shared = configuration.GetValue<bool?>($"{NodeOptions.Section}:{nameof(NodeOptions.SharedCoordination)}")
            ?? !string.IsNullOrWhiteSpace(configuration[$"Ims:{nameof(ServiceOptions.Postgres)}"]);
        if (shared)
        {
            services.AddSingleton(sp =>
            {
                var node = sp.GetRequiredService<IOptions<NodeOptions>>().Value;
                return new DatabaseCoordination(sp.GetRequiredService<Storage.Database>(), sp.GetRequiredService<TimeProvider>(), node.Name,
                    node.Lease, sp.GetRequiredService<ILogger<DatabaseCoordination>>());
            });
        }
        services.AddSingleton(sp =>
        {
            try
            {
                return DataPlane.DataPlane.Open(sp.GetRequiredService<IOptions<DataPlaneOptions>>().Value, sp.GetRequiredService<TimeProvider>(),
                    sp.GetService<DatabaseCoordination>());
            }
            catch (ObjectStoreUnusableException unusable)
            {
                // The operator's to fix, like a bad setting: named, without a stack trace.
                throw new OptionsValidationException(ObjectStoreSection, typeof(ObjectStoreOptions), [$"{ObjectStoreSection}: {unusable.Message}"]);
            }
        });
        return services;
    }
}
