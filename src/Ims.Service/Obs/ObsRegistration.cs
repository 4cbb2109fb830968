using Ims.DataPlane.Objects;
using Ims.Service.Hosting;
using Microsoft.Extensions.Options;

namespace Ims.Service.Obs;

/// <summary>The service's own bucket API (<c>Ims:Obs</c>): its listeners, store and object files.</summary>
public static class ObsRegistration
{
    public const string Section = "Ims:Obs";

    public static IServiceCollection AddObs(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<ObsOptions>(configuration.GetSection(Section), o => o.Problems().Select(p => $"{Section}:{p}"));
        services.AddSingleton<BucketStore>();
        services.AddSingleton<S3Authenticator>();
        services.AddSingleton(sp => new ObjectFiles(Path.Combine(Path.GetFullPath(sp.GetRequiredService<IOptions<ServiceOptions>>().Value.DataDir), "obs")));
        services.AddSingleton<IImageFileBuckets>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<ObsOptions>>().Value;
            return options.UsesExternalEndpoint
                ? new S3ImageFileBuckets(options)
                : new OwnImageFileBuckets(sp.GetRequiredService<BucketStore>(), sp.GetRequiredService<ObjectFiles>(), sp.GetRequiredService<TimeProvider>());
        });
        return services;
    }

    /// <summary>Adds the bucket API's listeners to the host's (<c>urls</c>), so that one Kestrel serves both.</summary>
    public static void AddObsListeners(WebApplicationBuilder builder)
    {
        var obsUrls = builder.Configuration[$"{Section}:Urls"];
        if (string.IsNullOrWhiteSpace(obsUrls)) return;
        var urls = builder.Configuration["urls"];
        builder.WebHost.UseUrls(string.IsNullOrWhiteSpace(urls) ? obsUrls : $"{urls};{obsUrls}");
    }

    /// <summary>
    /// Sends the requests that arrive on a bucket API listener to <see cref="ObsEndpoints"/>, ahead of the IMS routes:
    /// S3 routes by query sub-resource and host name, which the route table does not express.
    /// </summary>
    public static void UseObs(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<ObsOptions>>().Value;
        var ports = options.Listeners().Select(u => u.Port).ToHashSet();
        if (ports.Count == 0) return;
        app.Services.GetRequiredService<ObjectFiles>().RemoveTemporaryFiles();
        app.MapWhen(http => ports.Contains(http.Connection.LocalPort), branch => branch.Run(ObsEndpoints.HandleAsync));
    }
}
