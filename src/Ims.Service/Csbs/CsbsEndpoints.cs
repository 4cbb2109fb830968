using System.Text.Json.Nodes;
using Ims.Service.Auth;
using Ims.Service.Backups;
using Ims.Service.Ecs;
using Ims.Service.Evs;
using Ims.Service.Hosting;
using Ims.Service.Http;
using Ims.Service.Ims;
using Ims.Service.Jobs;
using Ims.Service.Storage;
using Ims.Service.Vpc;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace Ims.Service.Csbs;

/// <summary>
/// CSBS v1: ask whether servers can be backed up, back one up (a checkpoint with one checkpoint item, captured by a
/// durable job), read and list checkpoint items, delete a checkpoint. CSBS backups are separate from CBR ones: each
/// service sees only its own.
/// </summary>
public static class CsbsEndpoints
{
    /// <summary>The one provider clients address (GSDK/GTC hard-code it).</summary>
    public const string ProviderId = "fc4d5750-22e7-4798-8a46-f48f62c4c1da";

    public const string JobType = "csbsCreateBackup";
    private const string Service = "CSBS";
    private const string ServerType = "OS::Nova::Server";

    public static IEndpointRouteBuilder MapCsbs(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/{project_id}").ForService(ServiceKind.Csbs);
        group.MapPost("/providers/{provider_id}/resources/action", CheckProtectable);
        group.MapPost("/providers/{provider_id}/resources/{resource_id}/action", Protect);
        group.MapDelete("/providers/{provider_id}/checkpoints/{checkpoint_id}", DeleteCheckpoint);
        group.MapGet("/checkpoint_items", ListItems);
        group.MapGet("/checkpoint_items/{checkpoint_item_id}", ShowItem);
        return app;
    }

    /// <summary><c>check_protectable</c> (can these servers be backed up), or <c>check_restorable</c> (see <see cref="CsbsRestoreEndpoints"/>).</summary>
    private static async Task<IResult> CheckProtectable(string provider_id, HttpContext http, Caller caller, BackupCapture capture, Database db,
        BackupStore backups, ServerStore servers, VolumeStore volumes, TimeProvider time)
    {
        var ct = http.RequestAborted;
        if (provider_id != ProviderId) return CsbsErrors.ProviderInvalid();
        var (request, error) = await JsonBody.ReadAsync<CheckProtectableRequest>(http, ServiceKind.Csbs);
        if (error is not null) return error;
        if (request!.CheckRestorable is not null)
            return await CsbsRestoreEndpoints.CheckRestorableAsync(request.CheckRestorable, http, caller, db, backups, servers, volumes, time);
        if (request!.CheckProtectable is not { Count: > 0 } queries || queries.Count > 256)
            return ApiError.BadBody(ServiceKind.Csbs, "check_protectable must list 1 to 256 resources.");
        if (queries.Any(q => q is null || string.IsNullOrEmpty(q.ResourceId) || string.IsNullOrEmpty(q.ResourceType)))
            return ApiError.BadBody(ServiceKind.Csbs, "Each entry of check_protectable needs resource_id and resource_type.");

        var results = new List<ProtectableWire>();
        foreach (var query in queries)
        {
            var problem = query.ResourceType != ServerType
                ? CsbsErrors.TypeNotSupported(query.ResourceId!, query.ResourceType!)
                : CsbsErrors.Of(await capture.CheckServerAsync(caller.ProjectId, query.ResourceId!, ct));
            results.Add(new ProtectableWire(problem is null, query.ResourceType!, query.ResourceId!,
                problem?.Code ?? "", problem?.Message ?? ""));
        }
        return TypedResults.Json(new { protectable = results });
    }

    /// <summary><c>protect</c> (back the server up), or <c>restore</c> a backup onto it (see <see cref="CsbsRestoreEndpoints"/>).</summary>
    private static async Task<IResult> Protect(string provider_id, string resource_id, HttpContext http, Caller caller, Database db,
        BackupStore backups, BackupCapture capture, JobQueue jobs, ServerStore servers, VolumeStore volumes, TimeProvider time)
    {
        var ct = http.RequestAborted;
        if (provider_id != ProviderId) return CsbsErrors.ProviderInvalid();
        var (request, error) = await JsonBody.ReadAsync<ProtectRequest>(http, ServiceKind.Csbs);
        if (error is not null) return error;
        if (request!.Restore is not null)
            return await CsbsRestoreEndpoints.RestoreAsync(request.Restore, provider_id, resource_id, http, caller, db, backups, servers, volumes,
                jobs, time);
        var body = request!.Protect;
        if (body is null) return ApiError.BadBody(ServiceKind.Csbs, "protect is required.");
        if (body.BackupName is { } name && (name.Length is 0 or > 255 || !name.All(c => char.IsLetterOrDigit(c) || c is '_' or '-')))
            return ApiError.BadBody(ServiceKind.Csbs, "backup_name must be 1 to 255 letters, digits, underscores or hyphens.");
        if (body.Description is { } description && (description.Length > 255 || description.Any(c => c is '<' or '>')))
            return ApiError.BadBody(ServiceKind.Csbs, "description must be at most 255 characters without angle brackets.");
        if (body.Tags is { } tags && (tags.Count > 10 || tags.Any(t => string.IsNullOrEmpty(t?.Key))))
            return ApiError.BadBody(ServiceKind.Csbs, "tags must be at most 10 tags with a key each.");
        var resourceType = body.ResourceType ?? ServerType;
        if (resourceType != ServerType) return CsbsErrors.TypeNotSupported(resource_id, resourceType);

        await using var write = await db.BeginWriteAsync(ct);
        var server = await capture.CheckServerAsync(write, caller.ProjectId, resource_id, ct);
        if (CsbsErrors.Of(server) is { } refused) return refused;

        var backupName = body.BackupName ?? $"manualbk_{Ids.NewHex32()[..4]}";
        var started = await capture.StartServerBackupAsync(write, Service, caller.ProjectId, resource_id, vaultId: null, backupName,
            body.Description ?? "", body.Incremental ?? false, ct);
        if (started is null) return CsbsErrors.Busy(resource_id);
        var (checkpointId, backupId) = started.Value;
        await jobs.EnqueueAsync(write, "csbs", JobType, caller.ProjectId, new CheckpointJobPayload(checkpointId),
            new JsonObject { ["checkpoint_id"] = checkpointId, ["backup_id"] = backupId }, checkpointId,
            await servers.GetNodeAsync(write, resource_id, ct), ct);
        var checkpoint = await backups.GetCheckpointAsync(write, caller.ProjectId, Service, checkpointId, ct);
        await write.CommitAsync(ct);

        return TypedResults.Json(new
        {
            checkpoint = new CsbsCheckpointWire
            {
                Id = checkpointId,
                Status = BackupStatus.Protecting,
                CreatedAt = WireTime.MicrosNoZone(checkpoint!.CreatedAt),
                ProjectId = caller.ProjectId,
                ProtectionPlan = new ProtectionPlanWire(BackupRecords.ChildId(checkpointId, "protection-plan"), backupName,
                    [new PlanResourceWire(resource_id, ServerType, server.Name, new { })]),
            },
        });
    }

    private static async Task<IResult> ListItems(HttpContext http, Caller caller, BackupStore backups, ImageStore images, ServerStore servers,
        VpcStore vpcs, IOptions<ServiceOptions> options)
    {
        var stores = new Stores(backups, images, servers, vpcs);
        var ct = http.RequestAborted;
        if (!QueryArgs.TryInt(http, "limit", ServiceKind.Csbs, out var limit, out var error, min: 1, max: 1000)) return error!;
        if (!QueryArgs.TryInt(http, "offset", ServiceKind.Csbs, out var offset, out error)) return error!;
        var pageSize = limit ?? 1000;
        var marker = QueryArgs.String(http, "marker") is { Length: > 0 } m ? m : null;
        var listed = await stores.Backups.ListAsync(BackupListFilter.FromQuery(http, caller.ProjectId, Service, "az") with
        {
            Marker = marker,
            Offset = offset ?? 0,
            // One more than the page: whether a next page exists.
            Limit = pageSize + 1,
        }, ct);
        if (listed is null) return ApiError.BadBody(ServiceKind.Csbs, $"The marker {marker} does not exist.");
        var (rows, count) = listed.Value;
        var page = rows.Take(pageSize).ToList();
        var items = await RenderAsync(stores, page, options.Value.EffectiveRegion, ct);
        var links = rows.Count > pageSize ? new[] { new { href = NextPage(http, page[^1].Id), rel = "next" } } : [];
        return TypedResults.Json(new { checkpoint_items = items, checkpoint_items_links = links, count });
    }

    private static async Task<IResult> ShowItem(string checkpoint_item_id, HttpContext http, Caller caller, BackupStore backups,
        ImageStore images, ServerStore servers, VpcStore vpcs, IOptions<ServiceOptions> options)
    {
        var stores = new Stores(backups, images, servers, vpcs);
        var ct = http.RequestAborted;
        var backup = await stores.Backups.GetBackupAsync(caller.ProjectId, Service, checkpoint_item_id, ct);
        if (backup is null) return ApiError.NotFound(ServiceKind.Csbs, $"The backup {checkpoint_item_id} does not exist.");
        var items = await RenderAsync(stores, [backup], options.Value.EffectiveRegion, ct);
        return TypedResults.Json(new { checkpoint_item = items[0] });
    }

    /// <summary>Deletes a backup record with its backup; refused (400, which clients retry) while it is still being created.</summary>
    private static async Task<IResult> DeleteCheckpoint(string provider_id, string checkpoint_id, HttpContext http, Caller caller, Database db,
        BackupStore backups, BackupRemoval removal)
    {
        var ct = http.RequestAborted;
        if (provider_id != ProviderId) return CsbsErrors.ProviderInvalid();
        await using var write = await db.BeginWriteAsync(ct);
        var checkpoint = await backups.GetCheckpointAsync(write, caller.ProjectId, Service, checkpoint_id, ct);
        if (checkpoint is null) return ApiError.NotFound(ServiceKind.Csbs, $"The backup record {checkpoint_id} does not exist.");
        var backupIds = (await backups.GetBackupsOfCheckpointAsync(write, checkpoint_id, ct))
            .Select(b => b.Id).ToList();
        switch (await removal.CheckAsync(write, backupIds, ct))
        {
            case RemovalProblem.Protecting:
                return ApiError.BadBody(ServiceKind.Csbs, $"The backup record {checkpoint_id} is still being created or restored from.");
            case RemovalProblem.UsedByImage:
                return ApiError.BadBody(ServiceKind.Csbs, $"A backup of record {checkpoint_id} was used to create an image; delete the image first.");
        }
        // The record goes with its backups (also one whose backups were already gone, which would otherwise linger).
        await removal.DeleteAsync(write, caller.ProjectId, backupIds, ct, checkpointIds: [checkpoint_id]);
        await write.CommitAsync(ct);
        return TypedResults.Ok();
    }

    // ----- helpers ------------------------------------------------------------------------------------------------

    private static string NextPage(HttpContext http, string marker)
    {
        var query = http.Request.Query
            .Where(q => q.Key != "marker")
            .SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string?>(q.Key, v)))
            .Append(new KeyValuePair<string, string?>("marker", marker));
        return QueryHelpers.AddQueryString($"{http.Request.Scheme}://{http.Request.Host}{http.Request.PathBase}{http.Request.Path}", query);
    }

    /// <summary>The stores a checkpoint item is read from.</summary>
    private sealed record Stores(BackupStore Backups, ImageStore Images, ServerStore Servers, VpcStore Vpcs);

    private sealed record ServerFacts
    {
        public string Id { get; init; } = "";
        public string FlavorId { get; init; } = "";
        public string? PrivateIp { get; init; }
        public string? ImageType { get; init; }
    }

    private static async Task<IReadOnlyList<CheckpointItemWire>> RenderAsync(Stores stores, IReadOnlyList<BackupRow> backups, string region,
        CancellationToken ct)
    {
        var ids = backups.Select(b => b.Id).ToArray();
        var volumes = await stores.Backups.GetVolumesOfAsync(ids, ct);
        var images = await stores.Images.ImagesOfBackupsAsync(ids, ct);
        var rows = await stores.Servers.GetManyAsync([.. backups.Select(b => b.ResourceId).Distinct()], ct);
        var addresses = await stores.Vpcs.GetPrimaryAddressesAsync([.. rows.Values.Select(r => new PortOwner(r.Id, r.ProjectId))], ct);
        var imageTypes = await stores.Images.GetManyAsync([.. rows.Values.Select(r => r.ImageId).Distinct()], ct);
        var servers = rows.Values.ToDictionary(r => r.Id, r => new ServerFacts
        {
            Id = r.Id,
            FlavorId = r.FlavorId,
            PrivateIp = addresses.GetValueOrDefault(r.Id),
            ImageType = imageTypes.GetValueOrDefault(r.ImageId)?.Imagetype,
        }, StringComparer.Ordinal);
        return backups.Select(b =>
        {
            var disks = volumes[b.Id].ToList();
            var server = servers.GetValueOrDefault(b.ResourceId);
            var flavor = Catalog.FindFlavor(server?.FlavorId);
            // A backup being restored from still holds all it captured.
            var available = b.Status is BackupStatus.Available or BackupStatus.Restoring;
            return new CheckpointItemWire
            {
                Id = b.Id,
                CheckpointId = b.CheckpointId,
                Name = b.Name,
                Description = b.Description,
                ResourceId = b.ResourceId,
                ResourceType = b.ResourceType,
                Status = b.Status,
                CreatedAt = WireTime.MicrosNoZone(b.CreatedAt),
                UpdatedAt = WireTime.MicrosNoZone(b.UpdatedAt),
                ExtendInfo = new CsbsExtendInfoWire
                {
                    AutoTrigger = b.PolicyId is not null,
                    Incremental = b.Incremental != 0,
                    Progress = available ? 100 : 0,
                    ResourceAz = b.ResourceAz,
                    ResourceName = b.ResourceName,
                    ResourceType = b.ResourceType,
                    Size = BackupRecords.StoredMegabytes(b),
                    FinishedAt = available && b.ProtectedAt is { } done ? WireTime.MicrosNoZone(done) : "",
                    FailReason = b.Status == BackupStatus.Error ? "The backup failed." : "",
                    FailOp = b.Status == BackupStatus.Error ? "backup" : "",
                    OsRegistryImages = images[b.Id].ToList(),
                    ContainSystemDisk = disks.Any(d => d.IsSystemDisk),
                    VolumeBackups = disks.Select(d => new VolumeBackupWire
                    {
                        Id = BackupRecords.ChildId(b.Id, d.VolumeId),
                        Bootable = d.Bootable != 0 || d.IsSystemDisk,
                        Incremental = b.Incremental != 0,
                        Name = $"{b.Name}-{d.Device.Split('/')[^1]}",
                        Size = available ? d.SizeGb * 1024 : 0,
                        SourceVolumeId = d.VolumeId,
                        SourceVolumeSize = d.SizeGb,
                        SourceVolumeName = d.Name,
                        Status = b.Status,
                    }).ToList(),
                },
                BackupData = new BackupDataWire
                {
                    RegionName = region,
                    Disk = disks.FirstOrDefault(d => d.IsSystemDisk)?.SizeGb ?? b.ResourceSize,
                    ImageType = server?.ImageType ?? "gold",
                    Ram = flavor?.RamMb ?? 0,
                    Vcpus = flavor?.Vcpus ?? 0,
                    PrivateIp = server?.PrivateIp ?? "",
                },
            };
        }).ToList();
    }
}
