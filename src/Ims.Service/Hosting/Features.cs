using Ims.Service.Backups;
using Ims.Service.Cbr;
using Ims.Service.Data;
using Ims.Service.Csbs;
using Ims.Service.Policies;
using Ims.Service.Ecs;
using Ims.Service.Eps;
using Ims.Service.Evs;
using Ims.Service.Iam;
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
        services.AddSingleton<ImageStore>();
        services.AddSingleton<EnterpriseProjectStore>();
        services.AddSingleton<EnterpriseProjectCheck>();
        services.AddSingleton<BackupStore>();
        services.AddSingleton<VaultStore>();
        services.AddSingleton<VpcStore>();
        services.AddSingleton<BackupRemoval>();
        services.AddSingleton<DiskFiles>();
        services.AddSingleton<DataJanitor>();
        services.AddHostedService(sp => sp.GetRequiredService<DataJanitor>());
        services.AddSingleton<JobHandler, WholeImageFromBackupJob>();
        services.AddSingleton<JobHandler, WholeImageFromServerJob>();
        services.AddSingleton<JobHandler, ImageFromServerJob>();
        services.AddSingleton<JobHandler, SystemImageFromVolumeJob>();
        services.AddSingleton<JobHandler, DataImagesFromVolumesJob>();
        services.AddSingleton<JobHandler, CopyImageInRegionJob>();
        services.AddSingleton<JobHandler, ExportImageJob>();
        services.AddSingleton<JobHandler, SystemImageImportJob>();
        services.AddSingleton<JobHandler, DataImageImportJob>();
        services.AddSingleton<JobHandler, RegisterImageFileJob>();
        services.AddSingleton<JobHandler, AddImageMembersJob>();
        services.AddSingleton<JobHandler, UpdateImageMembersJob>();
        services.AddSingleton<JobHandler, RemoveImageMembersJob>();
        services.AddSingleton<JobHandler, CrossRegionCopyJob>();
        services.AddEvs();
        services.AddEcs();
        services.AddSingleton<BackupCapture>();
        services.AddSingleton<BackupSteps>();
        services.AddSingleton<JobHandler, CbrCheckpointJob>();
        services.AddSingleton<JobHandler, CbrRestoreJob>();
        services.AddSingleton<JobHandler, CsbsBackupJob>();
        services.AddSingleton<JobHandler, CsbsRestoreJob>();
        services.AddSingleton<PolicyStore>();
        services.AddSingleton<PolicyScheduler>();
        services.AddSingleton<PolicyBackups>();
        services.AddSingleton<PolicyRetention>();
        services.AddSingleton<JobHandler, PolicyRunJob>();
        services.AddSingleton<JobHandler, CbrPolicyCheckpointJob>();
        services.AddSingleton<JobHandler, CsbsPolicyBackupJob>();
    }

    public static async Task SeedAsync(IServiceProvider services, CancellationToken ct)
    {
        var db = services.GetRequiredService<Database>();
        var time = services.GetRequiredService<TimeProvider>();
        var options = services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ServiceOptions>>().Value;
        var images = services.GetRequiredService<ImageStore>();
        await ImageUploadEndpoints.RecoverInterruptedAsync(db, images, options.ScratchDir, time, ct);
        await using (var tx = await db.BeginWriteAsync(ct))
        {
            await services.GetRequiredService<EnterpriseProjectStore>().EnsureDefaultsAsync(tx,
                services.GetRequiredService<Auth.Accounts>().Domains.Select(d => d.Id), time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            await tx.CommitAsync(ct);
        }
        await PublicImages.SeedAsync(db, images, services.GetRequiredService<DataPlane.DataPlane>(), options.ScratchDir, time, ct);
        await services.GetRequiredService<PolicyScheduler>().RepairAsync(db, ct);
    }

    public static void MapEndpoints(IEndpointRouteBuilder app)
    {
        app.MapIdentityVersion();
        app.MapImageApiVersions();
        app.MapImageSchemas();
        app.MapImages();
        app.MapImageUploads();
        app.MapImageDownloads();
        app.MapWholeImages();
        app.MapDiskImages();
        app.MapImageImports();
        app.MapImageUpdates();
        app.MapImageTags();
        app.MapImageQuota();
        app.MapOsVersions();
        app.MapEnterpriseProjects();
        app.MapEnterpriseProjectManagement();
        app.MapImageMembers();
        app.MapImageCopies();
        app.MapVpcs();
        app.MapSubnets();
        app.MapSecurityGroups();
        app.MapPorts();
        app.MapEcs();
        app.MapVolumes();
        app.MapVolumeChanges();
        app.MapCbrVaults();
        app.MapCbrBackups();
        app.MapCbrRestores();
        app.MapCbrOperationLogs();
        app.MapCbrPolicies();
        app.MapCsbs();
        app.MapCsbsRestores();
        app.MapCsbsPolicies();
        app.MapFaults();
        app.MapVolumeData();
        app.MapDataAdmin();
    }
}
