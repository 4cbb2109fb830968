using Ims.Service.Auth;
using Ims.Service.Http;
using Ims.Service.Iam;
using Ims.Service.Jobs;
using Ims.Service.Storage;
using Microsoft.Extensions.Options;

namespace Ims.Service.Hosting;

/// <summary>Builds the one host that serves every service's paths. Used by Program and by the tests.</summary>
public static class ServiceHost
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Services.Configure<ServiceOptions>(builder.Configuration.GetSection("Ims"));
        builder.Services.ConfigureHttpJsonOptions(json =>
        {
            // Wire names are spelled out on every contract type; nothing is renamed implicitly.
            json.SerializerOptions.PropertyNamingPolicy = null;
            json.SerializerOptions.Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        });
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<Database>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<ServiceOptions>>().Value;
            return new SqliteDatabase(Path.Combine(Path.GetFullPath(options.DataDir), "ims.db"));
        });
        // The disks' bytes: a folder beside the database; chunks and manifests there too, or in the bucket
        // Ims:ObjectStore names (checked, and the bucket reached, at start).
        builder.Services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<ServiceOptions>>().Value;
            return DataPlane.DataPlane.Open(new DataPlane.DataPlaneOptions
            {
                Root = Path.Combine(Path.GetFullPath(options.DataDir), "data"),
                ObjectStore = ObjectStoreSettings(sp.GetRequiredService<IConfiguration>()),
            }, sp.GetRequiredService<TimeProvider>());
        });
        builder.Services.AddSingleton<Accounts>();
        builder.Services.AddSingleton<TokenService>();
        builder.Services.AddSingleton<JobQueue>();
        builder.Services.AddHostedService<JobRunner>();
        Features.AddServices(builder.Services);

        configure?.Invoke(builder);

        var app = builder.Build();
        var db = app.Services.GetRequiredService<Database>();
        Migrator.MigrateAsync(db, CancellationToken.None).GetAwaiter().GetResult();
        app.Services.GetRequiredService<DataPlane.DataPlane>();
        Features.SeedAsync(app.Services, CancellationToken.None).GetAwaiter().GetResult();

        app.UseRequestIds();
        app.UseMiddleware<ErrorMiddleware>();
        app.UseStatusCodePages(async context =>
        {
            // Responses the framework ends without a body (405, 415, ...) still get the gateway's error shape.
            var http = context.HttpContext;
            var status = http.Response.StatusCode;
            await new ApiError(ServiceKind.Gateway, status, status == 404 ? "APIGW.0101" : $"APIGW.0{status}",
                status == 405 ? "The method is not allowed for this API." : "The API does not exist or has not been published.")
                .ExecuteAsync(http);
        });
        app.UseRouting();
        app.UseMiddleware<AuthenticationMiddleware>();

        app.MapIam();
        app.MapJobs();
        Features.MapEndpoints(app);
        app.MapFallback(UnknownRoute).AllowAnonymousCaller();
        return app;
    }

    /// <summary>The <c>Ims:ObjectStore</c> settings, or null when none is given; refuses incomplete or malformed ones.</summary>
    private static DataPlane.ObjectStoreOptions? ObjectStoreSettings(IConfiguration configuration)
    {
        var settings = configuration.GetSection("Ims:ObjectStore").Get<DataPlane.ObjectStoreOptions>();
        if (settings is not { IsSet: true }) return null;
        var problems = settings.Problems();
        if (problems.Count > 0)
            throw new InvalidOperationException("The Ims:ObjectStore settings are not usable: " + string.Join(" ", problems));
        return settings;
    }

    private static ApiError UnknownRoute() =>
        new(ServiceKind.Gateway, StatusCodes.Status404NotFound, "APIGW.0101", "The API does not exist or has not been published.");
}
