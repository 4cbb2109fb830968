using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Ims.Service.Auth;
using Ims.Service.Backups;
using Ims.Service.Http;
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

    private static async Task<IResult> CreateCheckpoint(HttpContext http, Caller caller, Database db, BackupCapture capture, JobQueue jobs)
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
        var vault = await Vaults.FindAsync(write.Connection, write.Transaction, caller.ProjectId, body.VaultId, ct);
        if (vault is null) return CbrErrors.VaultNotFound(body.VaultId);
        if (vault.ObjectType != "server")
            return CbrErrors.BadRequest("Only server vaults can be backed up here; disk and SFS Turbo backups are not supported.");
        var members = (await Vaults.ResourcesAsync(write.Connection, write.Transaction, [vault.Id], ct))
            .ToDictionary(r => r.ResourceId, StringComparer.Ordinal);

        var skipped = new List<SkippedResourceWire>();
        var targets = new List<(VaultResourceRow Member, List<string> Excludes)>();
        foreach (var (id, excludes) in requested.Count > 0
                     ? requested
                     : members.Values.Where(m => m.ResourceType == Vaults.ServerType).Select(m => (m.ResourceId, new List<string>())))
        {
            if (!members.TryGetValue(id, out var member))
            {
                skipped.Add(new SkippedResourceWire(id, Vaults.ServerType, "", "BackupService.6302",
                    "The resource is not associated with the vault."));
                continue;
            }
            var check = await BackupCapture.CheckServerAsync(write.Connection, write.Transaction, caller.ProjectId, id, ct);
            if (!check.Ok)
            {
                skipped.Add(Skip(member, check));
                continue;
            }
            var vaultExcludes = JsonSerializer.Deserialize<List<string>>(member.ExcludeVolumes) ?? [];
            targets.Add((member, [.. vaultExcludes.Union(excludes, StringComparer.Ordinal)]));
        }
        if (targets.Count == 0)
            return CbrErrors.NothingToBackUp(skipped.Count > 0 ? skipped[0].Reason : "The vault has no server.");

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
        foreach (var (member, excludes) in targets)
        {
            var backupId = Ids.NewUuid();
            var started = await capture.BeginAsync(write, new BackupStart
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
            }, ct);
            if (started) excludesByBackup[backupId] = excludes;
            else skipped.Add(new SkippedResourceWire(member.ResourceId, member.ResourceType, member.Name, "BackupService.0001",
                "The resource is being backed up."));
        }
        if (excludesByBackup.Count == 0) return CbrErrors.NothingToBackUp("The resources are being backed up.");

        await jobs.EnqueueAsync(write, "cbr", JobType, caller.ProjectId, new CheckpointJobPayload(checkpointId, excludesByBackup),
            new JsonObject { ["checkpoint_id"] = checkpointId }, checkpointId, ct);
        var checkpoint = await BackupRecords.FindCheckpointAsync(write.Connection, write.Transaction, caller.ProjectId, Service,
            checkpointId, ct);
        var rendered = await RenderCheckpointAsync(write.Connection, write.Transaction, checkpoint!, skipped, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { checkpoint = rendered });
    }

    private static async Task<IResult> ShowCheckpoint(string checkpoint_id, HttpContext http, Caller caller, Database db)
    {
        var ct = http.RequestAborted;
        await using var conn = await db.OpenAsync(ct);
        var checkpoint = await BackupRecords.FindCheckpointAsync(conn, null, caller.ProjectId, Service, checkpoint_id, ct);
        if (checkpoint is null) return CbrErrors.ResourceNotFound("checkpoint", checkpoint_id);
        var rendered = await RenderCheckpointAsync(conn, null, checkpoint, [], ct);
        if (rendered.Vault.Resources.Count == 0) return CbrErrors.ResourceNotFound("checkpoint", checkpoint_id);
        return TypedResults.Json(new { checkpoint = rendered });
    }

    private static async Task<IResult> ListBackups(HttpContext http, Caller caller, Database db)
    {
        var ct = http.RequestAborted;
        if (!QueryArgs.TryInt(http, "offset", ServiceKind.Cbr, out var offset, out var error)) return error!;
        if (!QueryArgs.TryInt(http, "limit", ServiceKind.Cbr, out var limit, out error, min: 1, max: 1000)) return error!;
        var where = new List<string> { "project_id = @projectId", "service = 'CBR'" };
        var args = new DynamicParameters(new { projectId = caller.ProjectId, offset = offset ?? 0, limit = limit ?? 1000 });
        foreach (var (query, column) in new[]
                 {
                     ("checkpoint_id", "checkpoint_id"), ("vault_id", "vault_id"), ("resource_id", "resource_id"),
                     ("resource_type", "resource_type"), ("resource_name", "resource_name"), ("resource_az", "resource_az"),
                     ("status", "status"), ("name", "name"),
                 })
        {
            if (QueryArgs.String(http, query) is not { Length: > 0 } value) continue;
            where.Add($"{column} = @{query}");
            args.Add(query, value);
        }
        if (QueryArgs.String(http, "incremental") is { Length: > 0 } incremental)
        {
            if (!bool.TryParse(incremental, out var flag))
                return CbrErrors.BadRequest($"Invalid value '{incremental}' for query parameter incremental.");
            where.Add("incremental = @incremental");
            args.Add("incremental", flag ? 1 : 0);
        }
        // Every backup here is a backup (not a replica) of the caller's own project.
        if (QueryArgs.String(http, "image_type") is { Length: > 0 } imageType && imageType != "backup") where.Add("1 = 0");
        if (QueryArgs.String(http, "parent_id") is { Length: > 0 }) where.Add("1 = 0");

        var clause = string.Join(" AND ", where);
        await using var conn = await db.OpenAsync(ct);
        var count = await conn.ExecuteScalarAsync<long>(new CommandDefinition(
            $"SELECT COUNT(*) FROM backups WHERE {clause}", args, cancellationToken: ct));
        var page = (await conn.QueryAsync<BackupRow>(new CommandDefinition(
            $"SELECT {BackupRecords.BackupColumns} FROM backups WHERE {clause} ORDER BY created_at DESC, id DESC LIMIT @limit OFFSET @offset",
            args, cancellationToken: ct))).AsList();
        var backups = await RenderBackupsAsync(conn, page, ct);
        return TypedResults.Json(new { backups, count, offset = offset ?? 0, limit = limit ?? 1000 });
    }

    private static async Task<IResult> ShowBackup(string backup_id, HttpContext http, Caller caller, Database db)
    {
        var ct = http.RequestAborted;
        await using var conn = await db.OpenAsync(ct);
        var backup = await BackupRecords.FindBackupAsync(conn, null, caller.ProjectId, Service, backup_id, ct);
        if (backup is null) return CbrErrors.ResourceNotFound("backup", backup_id);
        return TypedResults.Json(new { backup = (await RenderBackupsAsync(conn, [backup], ct))[0] });
    }

    private static async Task<IResult> DeleteBackup(string backup_id, HttpContext http, Caller caller, Database db)
    {
        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        var backup = await BackupRecords.FindBackupAsync(write.Connection, write.Transaction, caller.ProjectId, Service, backup_id, ct);
        if (backup is null) return CbrErrors.ResourceNotFound("backup", backup_id);
        switch (await BackupRemoval.CheckAsync(write, [backup_id], ct))
        {
            case RemovalProblem.Protecting:
                return CbrErrors.InUse($"Backup {backup_id} is still being created.");
            case RemovalProblem.UsedByImage:
                return CbrErrors.InUse($"Backup {backup_id} was used to create an image; delete the image first.");
        }
        await BackupRemoval.DeleteAsync(write, caller.ProjectId, [backup_id], ct);
        await write.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    // ----- helpers ------------------------------------------------------------------------------------------------

    /// <summary>The servers a checkpoint request names (parameters.resources and resource_details), with their excluded disks.</summary>
    private static (List<(string Id, List<string> Excludes)> Resources, ApiError? Error) RequestedResources(CheckpointParameters parameters)
    {
        var result = new List<(string Id, List<string> Excludes)>();
        foreach (var id in parameters.Resources ?? [])
        {
            if (string.IsNullOrEmpty(id)) return ([], CbrErrors.BadRequest("parameters.resources must hold resource ids."));
            result.Add((id, []));
        }
        foreach (var detail in parameters.ResourceDetails ?? [])
        {
            if (detail is null || string.IsNullOrEmpty(detail.Id) || string.IsNullOrEmpty(detail.Type))
                return ([], CbrErrors.BadRequest("Each of parameters.resource_details needs an id and a type."));
            if (detail.Type != Vaults.ServerType) return ([], CbrErrors.TypeMismatch(detail.Type, "server"));
            var excludes = detail.ExtraInfo?.ExcludeVolumes ?? [];
            if (excludes.Any(string.IsNullOrEmpty)) return ([], CbrErrors.BadRequest("exclude_volumes must hold volume ids."));
            result.Add((detail.Id, excludes));
        }
        var duplicate = result.GroupBy(r => r.Id, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        return duplicate is null ? (result, null) : ([], CbrErrors.DuplicateResource(duplicate.Key));
    }

    private static SkippedResourceWire Skip(VaultResourceRow member, ServerCheck check) => check.Problem switch
    {
        ServerProblem.NotFound => new(member.ResourceId, member.ResourceType, member.Name, "BackupService.6302", "The server does not exist."),
        ServerProblem.BadStatus => new(member.ResourceId, member.ResourceType, member.Name, "BackupService.0001",
            $"The server is {check.Status}; only ACTIVE and SHUTOFF servers can be backed up."),
        ServerProblem.Busy => new(member.ResourceId, member.ResourceType, member.Name, "BackupService.0001", "The resource is being backed up."),
        _ => new(member.ResourceId, member.ResourceType, member.Name, "BackupService.0001", "The server has no disk to back up."),
    };

    private static async Task<CheckpointWire> RenderCheckpointAsync(DbConnection conn, DbTransaction? tx, CheckpointRow checkpoint,
        IReadOnlyList<SkippedResourceWire> skipped, CancellationToken ct)
    {
        var backups = await BackupRecords.BackupsOfCheckpointAsync(conn, tx, checkpoint.Id, ct);
        var vault = checkpoint.VaultId is null ? null : await Vaults.FindAsync(conn, tx, checkpoint.ProjectId, checkpoint.VaultId, ct);
        var resourceIds = backups.Select(b => b.ResourceId).ToArray();
        var counts = (await conn.QueryAsync<(string ResourceId, long Count)>(new CommandDefinition(
            """
            SELECT resource_id, COUNT(*) FROM backups
            WHERE vault_id = @vaultId AND service = 'CBR' AND status = 'available' AND resource_id IN @resourceIds
            GROUP BY resource_id
            """,
            new { vaultId = checkpoint.VaultId, resourceIds }, tx, cancellationToken: ct))).ToDictionary(r => r.ResourceId, r => r.Count);
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

    private static async Task<IReadOnlyList<BackupWire>> RenderBackupsAsync(DbConnection conn, IReadOnlyList<BackupRow> backups,
        CancellationToken ct)
    {
        var ids = backups.Select(b => b.Id).ToArray();
        var volumes = await BackupRecords.VolumesOfAsync(conn, null, ids, ct);
        var images = await BackupRecords.ImagesOfAsync(conn, null, ids, ct);
        return backups.Select(b =>
        {
            var disks = volumes[b.Id].ToList();
            return Render(b, new BackupExtendInfoWire
            {
                Bootable = disks.Any(d => d.IsSystemDisk),
                Incremental = b.Incremental != 0,
                OsImagesData = images[b.Id].Select(i => new ImageDataWire(i)).ToList(),
                ContainSystemDisk = disks.Any(d => d.IsSystemDisk),
                SystemDisk = false,
            }) with
            {
                Children = disks.Select(d => Render(b, new BackupExtendInfoWire
                {
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
        ProviderId = Vaults.ProviderIdOf("server"),
        EnterpriseProjectId = b.EnterpriseProjectId,
    };
}
