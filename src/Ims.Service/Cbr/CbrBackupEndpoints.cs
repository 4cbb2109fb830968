using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ims.Service.Auth;
using Ims.Service.Backups;
using Ims.Service.Ecs;
using Ims.Service.Http;
using Ims.Service.Ims;
using Ims.Service.Jobs;
using Ims.Service.Storage;

namespace Ims.Service.Cbr;

/// <summary>
/// CBR restore points (checkpoints) and backups. Creating a checkpoint starts one backup per server synchronously and
/// leaves the capture to a durable job; clients poll the checkpoint until it is available. A checkpoint lives exactly as
/// long as one of its backups does.
/// </summary>
public static class CbrBackupEndpoints
{
    public const string JobType = "cbrCreateCheckpoint";
    private const string Service = "CBR";

    public static IEndpointRouteBuilder MapCbrBackups(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v3/{project_id}").ForService(ServiceKind.Cbr);
        group.MapPost("/checkpoints", CreateCheckpoint);
        group.MapGet("/checkpoints/{checkpoint_id}", ShowCheckpoint);
        group.MapGet("/backups", ListBackups);
        group.MapGet("/backups/{backup_id}", ShowBackup);
        group.MapDelete("/backups/{backup_id}", DeleteBackup);
        return app;
    }

    private static async Task<IResult> CreateCheckpoint(HttpContext http, Caller caller, Database db, VaultStore vaults, BackupStore backups,
        BackupCapture capture, Evs.VolumeStore volumes, JobQueue jobs, ServerStore servers)
    {
        var ct = http.RequestAborted;
        var (request, error) = await JsonBody.ReadAsync<CheckpointCreateRequest>(http, ServiceKind.Cbr);
        if (error is not null) return error;
        var body = request!.Checkpoint;
        if (body is null) return CbrErrors.BadRequest("checkpoint is required.");
        if (string.IsNullOrEmpty(body.VaultId)) return CbrErrors.BadRequest("checkpoint.vault_id is required.");
        var parameters = body.Parameters ?? new CheckpointParameters();
        if (parameters.Name is { } name && (name.Length is 0 or > 64 || name.Any(c => char.IsControl(c) || c is '<' or '>')))
            return CbrErrors.BadRequest("parameters.name must be 1 to 64 characters without angle brackets.");
        if (parameters.Description is { } description && (description.Length > 255 || description.Any(c => c is '<' or '>')))
            return CbrErrors.BadRequest("parameters.description must be at most 255 characters without angle brackets.");
        var (requested, requestError) = RequestedResources(parameters);
        if (requestError is not null) return requestError;

        await using var write = await db.BeginWriteAsync(ct);
        var vault = await vaults.GetAsync(write, caller.ProjectId, body.VaultId, ct);
        if (vault is null) return CbrErrors.VaultNotFound(body.VaultId);
        if (vault.ObjectType is not ("server" or "disk"))
            return CbrErrors.BadRequest("Only server and disk vaults can be backed up here; SFS Turbo backups are not supported.");
        var resourceType = Vaults.ResourceTypeOf(vault.ObjectType);
        if (requested.Select(r => r.Type).FirstOrDefault(type => type.Length > 0 && type != resourceType) is { } strayType)
            return CbrErrors.TypeMismatch(strayType, vault.ObjectType);
        var members = (await vaults.GetResourcesAsync(write, [vault.Id], ct))
            .ToDictionary(r => r.ResourceId, StringComparer.Ordinal);

        var skipped = new List<SkippedResourceWire>();
        var targets = new List<(VaultResourceRow Member, List<string> Excludes, long SizeGb)>();
        foreach (var (id, _, excludes) in requested.Count > 0
                     ? requested
                     : members.Values.Where(m => m.ResourceType == resourceType).Select(m => (m.ResourceId, resourceType, new List<string>())))
        {
            if (!members.TryGetValue(id, out var member))
            {
                skipped.Add(new SkippedResourceWire(id, resourceType, "", "BackupService.6302",
                    "The resource is not associated with the vault."));
                continue;
            }
            if (resourceType == Vaults.VolumeType)
            {
                if (await DiskSkipAsync(write, volumes, caller.ProjectId, member, ct) is { } diskSkip) skipped.Add(diskSkip);
                else targets.Add((member, [], member.Size));
                continue;
            }
            var check = await capture.CheckServerAsync(write, caller.ProjectId, id, ct);
            if (!check.Ok)
            {
                skipped.Add(Skip(member, check));
                continue;
            }
            var vaultExcludes = JsonSerializer.Deserialize<List<string>>(member.ExcludeVolumes) ?? [];
            targets.Add((member, [.. vaultExcludes.Union(excludes, StringComparer.Ordinal)], check.TotalSizeGb));
        }
        if (targets.Count == 0)
            return CbrErrors.NothingToBackUp(skipped.Count > 0 ? skipped[0].Reason : $"The vault has no {(resourceType == Vaults.VolumeType ? "disk" : "server")}.");
        // Each backup occupies its resource's size from the moment it starts, so all of them must fit now.
        var room = await Vaults.CheckRoomAsync(write, backups, vault, targets.Sum(t => t.SizeGb), ct);
        if (!room.Fits) return room.Refusal;

        var checkpointId = Ids.NewUuid();
        var backupName = parameters.Name ?? $"manualbk_{Ids.NewHex32()[..4]}";
        var incremental = parameters.Incremental ?? true;
        await capture.StartCheckpointAsync(write, new CheckpointStart
        {
            CheckpointId = checkpointId,
            ProjectId = caller.ProjectId,
            Service = Service,
            VaultId = vault.Id,
            Name = backupName,
            Description = parameters.Description ?? "",
            Incremental = incremental,
        }, ct);
        var excludesByBackup = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        string? firstServer = null;
        foreach (var (member, excludes, _) in targets)
        {
            var backupId = Ids.NewUuid();
            var start = new BackupStart
            {
                BackupId = backupId,
                ProjectId = caller.ProjectId,
                Service = Service,
                CheckpointId = checkpointId,
                VaultId = vault.Id,
                ServerId = member.ResourceId,
                Name = backupName,
                Description = parameters.Description ?? "",
                Incremental = incremental,
            };
            var started = resourceType == Vaults.VolumeType ? await capture.BeginDiskAsync(write, start, ct) : await capture.BeginAsync(write, start, ct);
            if (started)
            {
                excludesByBackup[backupId] = excludes;
                firstServer ??= member.ResourceId;
            }
            else skipped.Add(new SkippedResourceWire(member.ResourceId, member.ResourceType, member.Name, "BackupService.0001",
                "The resource is being backed up."));
        }
        if (excludesByBackup.Count == 0) return CbrErrors.NothingToBackUp("The resources are being backed up.");

        // The captures run where the disks are: the node hosting the first server (servers on several nodes in one
        // checkpoint are not split across nodes).
        await jobs.EnqueueAsync(write, "cbr", JobType, caller.ProjectId, new CheckpointJobPayload(checkpointId, excludesByBackup),
            // What the checkpoint's backup operation log shows (CbrOperationLogEndpoints).
            new JsonObject
            {
                ["checkpoint_id"] = checkpointId,
                ["vault_id"] = vault.Id,
                ["vault_name"] = vault.Name,
                ["provider_id"] = Vaults.ProviderIdOf(vault.ObjectType),
            }, checkpointId,
            resourceType == Vaults.VolumeType
                ? (await volumes.GetNodesAsync(write, [firstServer!], ct)).FirstOrDefault()
                : await servers.GetNodeAsync(write, firstServer!, ct), ct);
        var checkpoint = await backups.GetCheckpointAsync(write, caller.ProjectId, Service, checkpointId, ct);
        var rendered = RenderCheckpoint(checkpoint!, vault,
            await backups.GetBackupsOfCheckpointAsync(write, checkpointId, ct), skipped,
            await backups.CountAvailableByResourceAsync(write, vault.Id, [.. targets.Select(t => t.Member.ResourceId)], ct));
        await write.CommitAsync(ct);
        return TypedResults.Json(new { checkpoint = rendered });
    }

    private static async Task<IResult> ShowCheckpoint(string checkpoint_id, HttpContext http, Caller caller, VaultStore vaults,
        BackupStore backups)
    {
        var ct = http.RequestAborted;
        var checkpoint = await backups.GetCheckpointAsync(caller.ProjectId, Service, checkpoint_id, ct);
        if (checkpoint is null) return CbrErrors.ResourceNotFound("checkpoint", checkpoint_id);
        var members = await backups.GetBackupsOfCheckpointAsync(checkpoint.Id, ct);
        var rendered = RenderCheckpoint(checkpoint,
            checkpoint.VaultId is null ? null : await vaults.GetAsync(checkpoint.ProjectId, checkpoint.VaultId, ct), members, [],
            await backups.CountAvailableByResourceAsync(checkpoint.VaultId, [.. members.Select(b => b.ResourceId)], ct));
        if (rendered.Vault.Resources.Count == 0) return CbrErrors.ResourceNotFound("checkpoint", checkpoint_id);
        return TypedResults.Json(new { checkpoint = rendered });
    }

    private static async Task<IResult> ListBackups(HttpContext http, Caller caller, BackupStore store, ImageStore images)
    {
        var ct = http.RequestAborted;
        if (!QueryArgs.TryInt(http, "offset", ServiceKind.Cbr, out var offset, out var error)) return error!;
        if (!QueryArgs.TryInt(http, "limit", ServiceKind.Cbr, out var limit, out error, min: 1, max: 1000)) return error!;
        bool? incremental = null;
        if (QueryArgs.String(http, "incremental") is { Length: > 0 } rawIncremental)
        {
            if (!bool.TryParse(rawIncremental, out var flag))
                return CbrErrors.BadRequest($"Invalid value '{rawIncremental}' for query parameter incremental.");
            incremental = flag;
        }
        var filter = BackupListFilter.FromQuery(http, caller.ProjectId, Service, "resource_az") with
        {
            VaultId = QueryArgs.String(http, "vault_id"),
            Incremental = incremental,
            // Every backup here is a backup (not a replica) of the caller's own project.
            MatchesNothing = QueryArgs.String(http, "image_type") is { Length: > 0 } imageType && imageType != "backup"
                || QueryArgs.String(http, "parent_id") is { Length: > 0 },
            Offset = offset ?? 0,
            Limit = limit ?? 1000,
        };
        var (page, count) = (await store.ListAsync(filter, ct))!.Value;
        var backups = await RenderBackupsAsync(store, images, page, ct);
        return TypedResults.Json(new { backups, count, offset = offset ?? 0, limit = limit ?? 1000 });
    }

    private static async Task<IResult> ShowBackup(string backup_id, HttpContext http, Caller caller, BackupStore backups, ImageStore images)
    {
        var ct = http.RequestAborted;
        var backup = await backups.GetBackupAsync(caller.ProjectId, Service, backup_id, ct);
        if (backup is null) return CbrErrors.ResourceNotFound("backup", backup_id);
        return TypedResults.Json(new { backup = (await RenderBackupsAsync(backups, images, [backup], ct))[0] });
    }

    private static async Task<IResult> DeleteBackup(string backup_id, HttpContext http, Caller caller, Database db, BackupStore backups,
        BackupRemoval removal)
    {
        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        var backup = await backups.GetBackupAsync(write, caller.ProjectId, Service, backup_id, ct);
        if (backup is null) return CbrErrors.ResourceNotFound("backup", backup_id);
        if (backup.Status == BackupStatus.Restoring) return CbrErrors.InUse($"Backup {backup_id} is being restored.");
        switch (await removal.CheckAsync(write, [backup_id], ct))
        {
            case RemovalProblem.Protecting:
                return CbrErrors.InUse($"Backup {backup_id} is still being created.");
            case RemovalProblem.UsedByImage:
                return CbrErrors.InUse($"Backup {backup_id} was used to create an image; delete the image first.");
        }
        await removal.DeleteAsync(write, caller.ProjectId, [backup_id], ct);
        await write.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    // ----- helpers ------------------------------------------------------------------------------------------------

    /// <summary>The servers a checkpoint request names (parameters.resources and resource_details), with their excluded disks.</summary>
    private static (List<(string Id, string Type, List<string> Excludes)> Resources, ApiError? Error) RequestedResources(
        CheckpointParameters parameters, string? vaultResourceType = null)
    {
        var result = new List<(string Id, string Type, List<string> Excludes)>();
        foreach (var id in parameters.Resources ?? [])
        {
            if (string.IsNullOrEmpty(id)) return ([], CbrErrors.BadRequest("parameters.resources must hold resource ids."));
            result.Add((id, vaultResourceType ?? "", []));
        }
        foreach (var detail in parameters.ResourceDetails ?? [])
        {
            if (detail is null || string.IsNullOrEmpty(detail.Id) || string.IsNullOrEmpty(detail.Type))
                return ([], CbrErrors.BadRequest("Each of parameters.resource_details needs an id and a type."));
            if (detail.Type is not (Vaults.ServerType or Vaults.VolumeType)) return ([], CbrErrors.TypeMismatch(detail.Type, "server or disk"));
            var excludes = detail.ExtraInfo?.ExcludeVolumes ?? [];
            if (excludes.Any(string.IsNullOrEmpty)) return ([], CbrErrors.BadRequest("exclude_volumes must hold volume ids."));
            result.Add((detail.Id, detail.Type, excludes));
        }
        var duplicate = result.GroupBy(r => r.Id, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        return duplicate is null ? (result, null) : ([], CbrErrors.DuplicateResource(duplicate.Key));
    }

    /// <summary>Why a disk of a disk vault cannot be backed up now, or null when it can.</summary>
    private static async Task<SkippedResourceWire?> DiskSkipAsync(WriteScope write, Evs.VolumeStore volumes, string projectId,
        VaultResourceRow member, CancellationToken ct)
    {
        var disk = await volumes.GetAsync(write, projectId, member.ResourceId, ct);
        if (disk is null)
            return new(member.ResourceId, member.ResourceType, member.Name, "BackupService.6302", "The disk does not exist.");
        if (disk.Status == BackupCapture.DiskBackingUp)
            return new(member.ResourceId, member.ResourceType, member.Name, "BackupService.0001", "The resource is being backed up.");
        if (disk.Status is not (Evs.VolumeStatus.Available or Evs.VolumeStatus.InUse))
            return new(member.ResourceId, member.ResourceType, member.Name, "BackupService.0001",
                $"The disk is {disk.Status}; only available and in-use disks can be backed up.");
        return null;
    }

    private static SkippedResourceWire Skip(VaultResourceRow member, ServerCheck check) => check.Problem switch
    {
        ServerProblem.NotFound => new(member.ResourceId, member.ResourceType, member.Name, "BackupService.6302", "The server does not exist."),
        ServerProblem.BadStatus => new(member.ResourceId, member.ResourceType, member.Name, "BackupService.0001",
            $"The server is {check.Status}; only ACTIVE and SHUTOFF servers can be backed up."),
        ServerProblem.Busy => new(member.ResourceId, member.ResourceType, member.Name, "BackupService.0001", "The resource is being backed up."),
        _ => new(member.ResourceId, member.ResourceType, member.Name, "BackupService.0001", "The server has no disk to back up."),
    };

    private static CheckpointWire RenderCheckpoint(CheckpointRow checkpoint, VaultRow? vault, IReadOnlyList<BackupRow> backups,
        IReadOnlyList<SkippedResourceWire> skipped, IReadOnlyDictionary<string, long> counts)
    {
        return new CheckpointWire
        {
            Id = checkpoint.Id,
            ProjectId = checkpoint.ProjectId,
            Status = checkpoint.Status,
            CreatedAt = WireTime.MicrosNoZone(checkpoint.CreatedAt),
            Vault = new CheckpointVaultWire
            {
                Id = checkpoint.VaultId ?? "",
                Name = vault?.Name ?? "",
                Resources = backups.Select(b => new CheckpointResourceWire
                {
                    Id = b.ResourceId,
                    Name = b.ResourceName,
                    Type = b.ResourceType,
                    ProtectStatus = b.Status,
                    ResourceSize = b.ResourceSize.ToString(CultureInfo.InvariantCulture),
                    BackupSize = BackupRecords.StoredMegabytes(b).ToString(CultureInfo.InvariantCulture),
                    BackupCount = counts.GetValueOrDefault(b.ResourceId).ToString(CultureInfo.InvariantCulture),
                }).ToList(),
                SkippedResources = skipped,
            },
            ExtraInfo = new CheckpointExtraInfoWire(checkpoint.Name, checkpoint.Description, -1),
        };
    }

    private static async Task<IReadOnlyList<BackupWire>> RenderBackupsAsync(BackupStore store, ImageStore imageStore,
        IReadOnlyList<BackupRow> backups, CancellationToken ct)
    {
        var ids = backups.Select(b => b.Id).ToArray();
        var volumes = await store.GetVolumesOfAsync(ids, ct);
        var images = await imageStore.ImagesOfBackupsAsync(ids, ct);
        return backups.Select(b =>
        {
            var disks = volumes[b.Id].ToList();
            return Render(b, new BackupExtendInfoWire
            {
                AutoTrigger = b.PolicyId is not null,
                Bootable = disks.Any(d => d.IsSystemDisk),
                Incremental = b.Incremental != 0,
                OsImagesData = images[b.Id].Select(i => new ImageDataWire(i)).ToList(),
                ContainSystemDisk = disks.Any(d => d.IsSystemDisk),
                SystemDisk = false,
            }) with
            {
                // A disk backup is itself the backup of one disk: it has no per-disk children.
                Children = b.IsDiskBackup ? [] : disks.Select(d => Render(b, new BackupExtendInfoWire
                {
                    AutoTrigger = b.PolicyId is not null,
                    Bootable = d.Bootable != 0 || d.IsSystemDisk,
                    Incremental = b.Incremental != 0,
                    OsImagesData = [],
                    ContainSystemDisk = d.IsSystemDisk,
                    SystemDisk = d.IsSystemDisk,
                }) with
                {
                    Id = BackupRecords.ChildId(b.Id, d.VolumeId),
                    ResourceId = d.VolumeId,
                    ResourceName = d.Name,
                    ResourceSize = d.SizeGb,
                    ResourceType = Vaults.VolumeType,
                    ProviderId = Vaults.ProviderIdOf("disk"),
                }).ToList(),
            };
        }).ToList();
    }

    private static BackupWire Render(BackupRow b, BackupExtendInfoWire extendInfo) => new()
    {
        CheckpointId = b.CheckpointId,
        CreatedAt = WireTime.MicrosNoZone(b.CreatedAt),
        Description = b.Description,
        ExtendInfo = extendInfo,
        Id = b.Id,
        Name = b.Name,
        ProjectId = b.ProjectId,
        ProtectedAt = b.ProtectedAt is { } at ? WireTime.MicrosNoZone(at) : null,
        ResourceAz = b.ResourceAz,
        ResourceId = b.ResourceId,
        ResourceName = b.ResourceName,
        ResourceSize = b.ResourceSize,
        ResourceType = b.ResourceType,
        Status = b.Status,
        UpdatedAt = WireTime.MicrosNoZone(b.UpdatedAt),
        VaultId = b.VaultId ?? "",
        ProviderId = Vaults.ProviderIdOf(b.IsDiskBackup ? "disk" : "server"),
        EnterpriseProjectId = b.EnterpriseProjectId,
    };
}
