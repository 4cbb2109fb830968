using Ims.Service.Auth;
using Ims.Service.Data;
using Ims.Service.Http;
using Ims.Service.Iam;
using Ims.Service.Jobs;
using Ims.Service.Nodes;
using Ims.Service.Obs;
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
            return string.IsNullOrWhiteSpace(options.Postgres)
                ? new SqliteDatabase(Path.Combine(Path.GetFullPath(options.DataDir), "ims.db"))
                : new PostgresDatabase(options.Postgres);
        });
        builder.Services.AddSingleton<SpaceReserve>();
        TrafficCounter.Install(builder, new TrafficCounter());
        builder.Services.AddHostedService<IdleMemoryTrim>();
        builder.Services.AddNodes(builder.Configuration);
        builder.Services.AddDataPlane(builder.Configuration);
        builder.Services.AddAccounts(builder.Configuration);
        builder.Services.AddJobEngine(builder.Configuration);
        builder.Services.AddObs(builder.Configuration);
        ObsRegistration.AddObsListeners(builder);
        Features.AddServices(builder.Services);

        configure?.Invoke(builder);

        var app = builder.Build();
        // Bad settings stop the start here, each named with its key, before anything touches the database.
        ValidatedOptions.CheckAtStart(app.Services);
        // Opening the data plane reaches the bucket when Ims:ObjectStore is set: wrong keys or endpoint stop the start.
        app.Services.GetRequiredService<DataPlane.DataPlane>();
        // The handlers' step names are the jobs' persisted progress: a duplicate stops the start (the runner checks again).
        JobHandler.CheckAll(app.Services.GetServices<JobHandler>());
        var db = app.Services.GetRequiredService<Database>();
        Migrator.MigrateAsync(db, CancellationToken.None).GetAwaiter().GetResult();
        app.Services.GetRequiredService<SpaceReserve>().EnsureAtStart();
        Features.SeedAsync(app.Services, CancellationToken.None).GetAwaiter().GetResult();

        // The bucket API's listener is S3, not the API gateway: its own routing, signatures and error shape.
        TrafficCounter.UseCounting(app);
        app.UseObs();
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

    private static ApiError UnknownRoute() =>
        new(ServiceKind.Gateway, StatusCodes.Status404NotFound, "APIGW.0101", "The API does not exist or has not been published.");
}
