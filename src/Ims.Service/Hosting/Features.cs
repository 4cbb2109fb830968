using Ims.Service.Ecs;
using Ims.Service.Evs;
using Ims.Service.Ims;
using Ims.Service.Jobs;
using Ims.Service.Storage;
using Ims.Service.Vpc;

namespace Ims.Service.Hosting;

/// <summary>The table of contents: every feature's services, seeds and endpoints, registered in one place.</summary>
internal static class Features
{
    public static void AddServices(IServiceCollection services)
    {
        services.AddSingleton<JobFaults>();
        services.AddSingleton<JobHandler, WholeImageFromBackupJob>();
        services.AddEvs();
        services.AddEcs();
    }

    public static async Task SeedAsync(IServiceProvider services, CancellationToken ct)
    {
        var db = services.GetRequiredService<Database>();
        var time = services.GetRequiredService<TimeProvider>();
        await PublicImages.SeedAsync(db, time, ct);
    }

    public static void MapEndpoints(IEndpointRouteBuilder app)
    {
        app.MapImages();
        app.MapWholeImages();
        app.MapVpcs();
        app.MapSubnets();
        app.MapSecurityGroups();
        app.MapPorts();
        app.MapEcs();
        app.MapVolumes();
        app.MapFaults();
    }
}
