using System.Text.Json;
using System.Text.RegularExpressions;
using Ims.Service.Auth;
using Ims.Service.Backups;
using Ims.Service.Evs;
using Ims.Service.Http;
using Ims.Service.Ims;
using Ims.Service.Jobs;
using Ims.Service.Storage;
using Ims.Service.Vpc;

namespace Ims.Service.Ecs;

/// <summary>
/// POST /v1(.1)/{project_id}/cloudservers: validates the request against the catalog and the caller's own
/// network, image and disk references, then writes the servers, their disks and NICs and the createServer job in
/// one transaction.
/// </summary>
public static partial class ServerCreation
{
    public const int MaxCount = 100;
    public const int MaxNics = 12;
    public const int MaxDataVolumes = 23;

    public static readonly IReadOnlySet<string> SanPolicies =
        new HashSet<string>(StringComparer.Ordinal) { "OnlineAll", "OfflineShared", "OfflineInternal" };

    /// <summary>Metadata keys the platform writes; clients may read but not set them.</summary>
    public static readonly IReadOnlySet<string> SystemMetadataKeys = new HashSet<string>(StringComparer.Ordinal)
    {
        "charging_mode", "vpc_id", "image_name", "os_type", "os_bit", "metering.image_id", "metering.imagetype",
        "metering.resourcespeccode", "metering.resourcetype",
    };

    public static async Task<IResult> CreateAsync(HttpContext http, Caller caller, Database db, ServerStore serverStore, ImageStore images,
        BackupStore backups, VolumeStore volumes, VpcStore vpcs, JobQueue jobs, Catalog catalog, TimeProvider time)
    {
        var (body, error) = await JsonBody.ReadAsync<CreateServerRequest>(http, ServiceKind.Ecs);
        if (error is not null) return error;
        if (body!.Server is not { } spec) return EcsErrors.Invalid("Invalid key 'server' in the request body.");
        var problem = ValidateShape(spec, catalog);
        if (problem is not null) return problem;

        var ct = http.RequestAborted;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var write = await db.BeginWriteAsync(ct);
        var pid = caller.ProjectId;

        var image = await images.GetVisibleAsync(write, pid, spec.ImageRef!, ct);
        if (image is null) return EcsErrors.Invalid($"Image [{spec.ImageRef}] could not be found.");
        if (image.Status != "active") return EcsErrors.Invalid($"Image [{spec.ImageRef}] is not active.");
        if (image.IsDataImage) return EcsErrors.Invalid($"Image [{spec.ImageRef}] is a data disk image: servers boot from system disk images.");
        var windows = string.Equals(image.OsType, "Windows", StringComparison.OrdinalIgnoreCase);

        // A whole image brings its disks: the system disk and one data disk per captured disk, as recorded.
        var wholeImage = image.WholeImage ? await WholeImageDisks.LoadAsync(write, backups, image.BackupId!, ct) : null;
        if (image.WholeImage && wholeImage is null) return EcsErrors.Invalid($"Image [{spec.ImageRef}] has no system disk to restore.");

        var rootSize = spec.RootVolume!.Size ?? (int)Math.Max(image.MinDisk, 1);
        if (rootSize < image.MinDisk)
            return EcsErrors.Invalid($"The system disk size {rootSize} GB is smaller than the image's minimum disk size {image.MinDisk} GB.");

        var userMetadata = spec.Metadata?.ToDictionary(kv => kv.Key, kv => kv.Value!, StringComparer.Ordinal) ?? [];
        string? sanPolicy = null;
        if (userMetadata.TryGetValue("san_policy", out var requestedSan))
        {
            if (!windows) return EcsErrors.Invalid("metadata.san_policy applies to Windows images only.");
            if (!SanPolicies.Contains(requestedSan))
                return EcsErrors.Invalid($"Invalid metadata.san_policy '{requestedSan}': use OnlineAll, OfflineShared or OfflineInternal.");
        }
        // The SAN policy lives in the guest, so a server made from a whole image has its source's policy.
        if (windows) sanPolicy = requestedSan ?? wholeImage?.SanPolicy ?? "OnlineAll";

        if (await vpcs.GetVpcAsync(write, pid, spec.VpcId!, ct) is null) return EcsErrors.Invalid($"VPC [{spec.VpcId}] could not be found.");

        var subnetIds = spec.Nics!.Select(n => n!.SubnetId!).Distinct().ToList();
        var subnets = (await vpcs.GetSubnetsAsync(write, pid, subnetIds, ct)).ToDictionary(s => s.Id, StringComparer.Ordinal);
        foreach (var id in subnetIds)
        {
            if (!subnets.TryGetValue(id, out var subnet)) return EcsErrors.Invalid($"Subnet [{id}] could not be found.");
            if (subnet.VpcId != spec.VpcId) return EcsErrors.Invalid($"Subnet [{id}] does not belong to VPC [{spec.VpcId}].");
        }

        var groupIds = (spec.SecurityGroups ?? []).Select(g => g!.Id!).Distinct().ToList();
        if (groupIds.Count > 0)
        {
            var found = await vpcs.CountSecurityGroupsAsync(write, pid, groupIds, ct);
            if (found != groupIds.Count) return EcsErrors.Invalid("One or more security groups could not be found.");
        }
        else
        {
            // As on ECS, a server created without security groups joins the project's "default" group.
            groupIds = await vpcs.GetDefaultSecurityGroupIdAsync(write, pid, ct) is { } defaultGroup ? [defaultGroup] : [];
        }

        var zone = spec.AvailabilityZone ?? catalog.Zones[0];
        var flavor = Catalog.FindFlavor(spec.FlavorRef)!;
        var count = spec.Count ?? 1;
        var metadata = new Dictionary<string, string>(userMetadata, StringComparer.Ordinal)
        {
            ["charging_mode"] = "0",
            ["vpc_id"] = spec.VpcId!,
            ["image_name"] = image.Name,
            ["os_type"] = windows ? "Windows" : "Linux",
            ["os_bit"] = string.IsNullOrEmpty(image.OsBit) ? "64" : image.OsBit,
            ["metering.image_id"] = image.Id,
            ["metering.imagetype"] = image.Imagetype,
            ["metering.resourcespeccode"] = $"{flavor.Id}.{(windows ? "win" : "linux")}",
            ["metering.resourcetype"] = "1",
        };
        var tags = (spec.ServerTags ?? []).Select(t => $"{t!.Key}={t.Value ?? ""}")
            .Concat((spec.Tags ?? []).Select(t => t!)).Distinct().ToList();
        var enterpriseProject = spec.ExtendParam?.EnterpriseProjectId is { Length: > 0 } eps ? eps : "0";

        var serverIds = new List<string>();
        var volumeIds = new List<string>();
        var newVolumes = new List<NewVolume>();
        var attachments = new List<NewAttachment>();
        var ports = new List<NewPort>();
        var servers = new List<ServerRow>();
        var takenIps = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        // Addresses are picked from what the subnet's ports hold (a unique index backs it): concurrent creations in a
        // subnet take turns, each subnet's lock in one order so that two requests cannot wait for each other.
        foreach (var subnetId in subnets.Keys.Order(StringComparer.Ordinal))
            await write.LockAsync($"subnet-addresses:{subnetId}", ct);
        for (var i = 0; i < count; i++)
        {
            var serverId = Ids.NewUuid();
            var name = count > 1 && spec.IsAutoRename != false ? $"{spec.Name}-{i + 1:0000}" : spec.Name!;
            serverIds.Add(serverId);
            servers.Add(new ServerRow
            {
                Id = serverId, ProjectId = pid, Name = name, Description = spec.Description ?? "", FlavorId = flavor.Id,
                ImageId = image.Id, AvailabilityZone = zone, VpcId = spec.VpcId!, KeyName = spec.KeyName,
                OsType = windows ? "Windows" : "Linux", SanPolicy = sanPolicy,
                UserData = string.IsNullOrEmpty(spec.UserData) ? null : spec.UserData,
                Metadata = JsonSerializer.Serialize(metadata), Tags = JsonSerializer.Serialize(tags),
                SecurityGroupIds = JsonSerializer.Serialize(groupIds), EnterpriseProjectId = enterpriseProject, CreatedAt = now, UpdatedAt = now,
            });

            var rootId = Ids.NewUuid();
            newVolumes.Add(new NewVolume
            {
                Id = rootId, ProjectId = pid, Name = name, SizeGb = rootSize, VolumeType = spec.RootVolume.VolumeType!,
                AvailabilityZone = zone, Bootable = true, ImageId = image.Id, Metadata = CleanMap(spec.RootVolume.Metadata),
                // The system disk starts as the image: a whole image's captured system disk, else the image's own content.
                SourceManifestId = wholeImage is not null ? wholeImage.SystemManifestId : image.ManifestId,
            });
            attachments.Add(new NewAttachment(rootId, serverId, "/dev/vda", 0, DeleteOnTermination: true, now));
            volumeIds.Add(rootId);

            var letter = 'b';
            foreach (var (disk, index) in (wholeImage?.DataDisks ?? []).Select((d, n) => (d, n)))
            {
                var dataId = Ids.NewUuid();
                var volumeMetadata = new Dictionary<string, string>(StringComparer.Ordinal);
                // Windows brings disks offline when its SAN policy is not OnlineAll; the disk says so.
                if (image.DataDisksOffline) volumeMetadata[WholeImageDisks.OfflineKey] = "true";
                newVolumes.Add(new NewVolume
                {
                    Id = dataId, ProjectId = pid, Name = $"{name}-volume-{index + 1:0000}", SizeGb = (int)disk.SizeGb,
                    VolumeType = disk.VolumeType, AvailabilityZone = zone, Multiattach = disk.Multiattach, Metadata = volumeMetadata,
                    SourceManifestId = disk.ManifestId,
                });
                attachments.Add(new NewAttachment(dataId, serverId, $"/dev/vd{letter++}", null, DeleteOnTermination: false, now));
                volumeIds.Add(dataId);
            }
            foreach (var (data, index) in (spec.DataVolumes ?? []).Select((d, n) => (d!, n + (wholeImage?.DataDisks.Count ?? 0))))
            {
                var dataId = Ids.NewUuid();
                var volumeMetadata = CleanMap(data.Metadata);
                if (data.Passthrough is { } passthrough) volumeMetadata["hw:passthrough"] = passthrough ? "true" : "false";
                newVolumes.Add(new NewVolume
                {
                    Id = dataId, ProjectId = pid, Name = $"{name}-volume-{index + 1:0000}", SizeGb = data.Size!.Value,
                    VolumeType = data.VolumeType!, AvailabilityZone = zone, Multiattach = data.Multiattach ?? data.Shareable ?? false,
                    Metadata = volumeMetadata,
                });
                attachments.Add(new NewAttachment(dataId, serverId, $"/dev/vd{letter++}", null, DeleteOnTermination: false, now));
                volumeIds.Add(dataId);
            }

            var primary = true;
            foreach (var nic in spec.Nics!)
            {
                var subnet = subnets[nic!.SubnetId!];
                var taken = takenIps.TryGetValue(subnet.Id, out var set) ? set : takenIps[subnet.Id] = new HashSet<string>(StringComparer.Ordinal);
                var (ip, refusal) = await Ports.AllocateAsync(write, vpcs, subnet, nic.IpAddress, taken, ct);
                switch (refusal)
                {
                    case Ports.Refusal.OutsideSubnet:
                        return EcsErrors.Invalid($"The IP address {nic.IpAddress} is not a usable address of subnet [{subnet.Id}] ({subnet.Cidr}).");
                    case Ports.Refusal.InUse:
                        return new ApiError(ServiceKind.Ecs, StatusCodes.Status400BadRequest, EcsErrors.IpInUse,
                            $"The private IP address {nic.IpAddress} is already in use.");
                    case Ports.Refusal.Exhausted:
                        return new ApiError(ServiceKind.Ecs, StatusCodes.Status400BadRequest, EcsErrors.SubnetExhausted,
                            $"Subnet [{subnet.Id}] has no free IP addresses.");
                }
                taken.Add(ip!);
                ports.Add(new NewPort(Ids.NewUuid(), pid, subnet.Id, serverId, $"compute:{zone}", ip!, Ports.NewMac(),
                    JsonSerializer.Serialize(groupIds), primary, now));
                primary = false;
            }
        }

        await serverStore.InsertAsync(write, servers, ct);
        await volumes.CreateAsync(write, newVolumes, ct);
        await volumes.AttachAsync(write, attachments, ct);
        await vpcs.InsertPortsAsync(write, ports, ct);

        var jobId = await jobs.EnqueueAsync(write, "ecs", CreateServerJob.Type, pid, new CreateServersPayload(serverIds, volumeIds),
            EcsJobEntities.ForServers("createSingleServer", serverIds), serverIds[0], await serverStore.GetNodeAsync(write, serverIds[0], ct), ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new CreateServerResponse(jobId, serverIds));
    }

    /// <summary>Checks everything that needs no database: presence, formats, ranges and the catalog.</summary>
    private static ApiError? ValidateShape(ServerSpec spec, Catalog catalog)
    {
        if (string.IsNullOrEmpty(spec.Name) || !NamePattern().IsMatch(spec.Name))
            return EcsErrors.Invalid("Invalid server name: use 1 to 64 letters, digits, underscores (_), hyphens (-) and periods (.).");
        if (spec.Description is { Length: > 85 }) return EcsErrors.Invalid("The description cannot exceed 85 characters.");
        if (string.IsNullOrEmpty(spec.ImageRef)) return EcsErrors.Invalid("imageRef is required.");
        if (!Ids.IsUuid(spec.ImageRef)) return EcsErrors.Invalid($"Image [{spec.ImageRef}] could not be found.");
        if (string.IsNullOrEmpty(spec.FlavorRef)) return EcsErrors.Invalid("flavorRef is required.");
        if (Catalog.FindFlavor(spec.FlavorRef) is null) return EcsErrors.Invalid($"Flavor [{spec.FlavorRef}] could not be found.");
        if (string.IsNullOrEmpty(spec.VpcId)) return EcsErrors.Invalid("vpcid is required.");
        if (spec.AvailabilityZone is not null && !catalog.IsZone(spec.AvailabilityZone))
            return EcsErrors.Invalid($"Availability zone [{spec.AvailabilityZone}] is invalid.");
        if (spec.Count is { } count && count is < 1 or > MaxCount)
            return EcsErrors.Invalid($"count must be between 1 and {MaxCount}.");
        if (spec.Nics is not { Count: > 0 } nics) return EcsErrors.Invalid("nics is required and must contain at least one NIC.");
        if (nics.Count > MaxNics) return EcsErrors.Invalid($"An ECS can have at most {MaxNics} NICs.");
        foreach (var nic in nics)
        {
            if (nic is null || string.IsNullOrEmpty(nic.SubnetId)) return EcsErrors.Invalid("nics[].subnet_id is required.");
            if (nic.IpAddress is not null && !Ports.IsIpv4(nic.IpAddress))
                return EcsErrors.Invalid($"Invalid nics[].ip_address '{nic.IpAddress}'.");
            if (nic.IpAddress is not null && (spec.Count ?? 1) > 1)
                return EcsErrors.Invalid("A fixed ip_address cannot be used when creating several ECSs at once.");
            if (nic.Ipv6Enable == true) return EcsErrors.Invalid("IPv6 NICs are not supported.");
        }
        if (spec.RootVolume is not { } root) return EcsErrors.Invalid("root_volume is required.");
        if (!Catalog.VolumeTypes.Contains(root.VolumeType ?? ""))
            return EcsErrors.Invalid($"Invalid root_volume.volumetype '{root.VolumeType}'.");
        if (root.Size is { } rootSize && rootSize is < 1 or > 1024)
            return EcsErrors.Invalid("root_volume.size must be between 1 and 1024 GB.");
        if (spec.DataVolumes is { Count: > MaxDataVolumes })
            return EcsErrors.Invalid($"An ECS can be created with at most {MaxDataVolumes} data disks.");
        foreach (var data in spec.DataVolumes ?? [])
        {
            if (data is null || !Catalog.VolumeTypes.Contains(data.VolumeType ?? ""))
                return EcsErrors.Invalid($"Invalid data_volumes[].volumetype '{data?.VolumeType}'.");
            if (data.Size is not { } size || size is < 10 or > 32768)
                return EcsErrors.Invalid("data_volumes[].size is required and must be between 10 and 32768 GB.");
        }
        foreach (var group in spec.SecurityGroups ?? [])
            if (group is null || string.IsNullOrEmpty(group.Id)) return EcsErrors.Invalid("security_groups[].id is required.");
        if (!string.IsNullOrEmpty(spec.UserData) && ValidateUserData(spec.UserData) is { } userDataError) return userDataError;
        var metadataProblem = ValidateMetadata(spec.Metadata);
        if (metadataProblem is not null) return metadataProblem;
        foreach (var tag in spec.ServerTags ?? [])
            if (tag is null || string.IsNullOrEmpty(tag.Key) || tag.Key.Length > 36 || tag.Value is { Length: > 43 })
                return EcsErrors.Invalid("server_tags[] needs a key of 1 to 36 characters and a value of at most 43.");
        foreach (var tag in spec.Tags ?? [])
            if (string.IsNullOrEmpty(tag)) return EcsErrors.Invalid("tags[] cannot contain empty values.");
        if (spec.ExtendParam?.ChargingMode is { } mode && IsPrePaid(mode))
            return EcsErrors.Invalid("Yearly/monthly (prePaid) ECSs are not supported; use postPaid.");
        if (spec.PublicIp is { ValueKind: not JsonValueKind.Null })
            return EcsErrors.Invalid("EIPs are not supported: create the ECS without publicip.");
        return null;
    }

    /// <summary>User data is Base64 of at most 32 KB.</summary>
    public static ApiError? ValidateUserData(string userData)
    {
        var buffer = new byte[userData.Length];
        if (!Convert.TryFromBase64String(userData, buffer, out var decoded)) return EcsErrors.Invalid("user_data must be Base64-encoded.");
        return decoded > 32 * 1024 ? EcsErrors.Invalid("user_data cannot exceed 32 KB before encoding.") : null;
    }

    public static bool IsValidName(string name) => NamePattern().IsMatch(name);

    /// <summary>Metadata is a map of non-empty keys to string values, as ECS requires.</summary>
    public static ApiError? ValidateMetadata(Dictionary<string, string?>? metadata)
    {
        foreach (var (key, value) in metadata ?? [])
        {
            if (key.Length is 0 or > 255) return EcsErrors.Invalid("Metadata keys must have 1 to 255 characters.");
            if (value is null || value.Length > 255) return EcsErrors.Invalid($"Metadata value of '{key}' must be a string of at most 255 characters.");
            if (SystemMetadataKeys.Contains(key)) return EcsErrors.Invalid($"Metadata key '{key}' is reserved.");
        }
        return null;
    }

    private static bool IsPrePaid(JsonElement mode) => mode.ValueKind switch
    {
        JsonValueKind.String => mode.GetString() is "prePaid" or "1",
        JsonValueKind.Number => mode.TryGetInt32(out var n) && n == 1,
        _ => false,
    };

    private static Dictionary<string, string> CleanMap(Dictionary<string, string?>? map) =>
        map?.Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value!, StringComparer.Ordinal) ?? [];

    [GeneratedRegex(@"^[\p{L}\p{N}_.\-]{1,64}$")]
    private static partial Regex NamePattern();
}
