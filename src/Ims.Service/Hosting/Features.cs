using Ims.Service.Backups;
using Ims.Service.Cbr;
using Ims.Service.Csbs;
using Ims.Service.Jobs;

namespace Ims.Service.Hosting;

/// <summary>The table of contents: every feature's services, seeds and endpoints, registered in one place.</summary>
internal static class Features
{
    public static void AddServices(IServiceCollection services)
    {
        services.AddSingleton<BackupCapture>();
        services.AddSingleton<JobHandler, CbrCheckpointJob>();
        services.AddSingleton<JobHandler, CsbsBackupJob>();
    }

    public static async Task SeedAsync(IServiceProvider services, CancellationToken ct)
    {
        await Task.CompletedTask;
    }

    public static void MapEndpoints(IEndpointRouteBuilder app)
    {
        app.MapCbrVaults();
        app.MapCbrBackups();
        app.MapCsbs();
    }
}
