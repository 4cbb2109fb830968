using System.Text.Json;
using Ims.Service.Auth;
using Ims.Service.Backups;
using Ims.Service.Cbr;
using Ims.Service.Hosting;
using Ims.Service.Http;
using Ims.Service.Storage;

namespace Ims.Service.Ims;

/// <summary>A row of <c>image_members</c>: one project an image is shared with.</summary>
public sealed record MemberRow
{
    public string ImageId { get; init; } = "";
    public string MemberId { get; init; } = "";
    public string Status { get; init; } = "";
    public string? VaultId { get; init; }
    public long CreatedAt { get; init; }
    public long UpdatedAt { get; init; }
}

public static class MemberStatus
{
    public const string Pending = "pending";
    public const string Accepted = "accepted";
    public const string Rejected = "rejected";
}

/// <summary>What sharing needs to know about an image beyond its row.</summary>
public sealed record ShareFacts(ImageRow Image, string? BackupService, bool SourceBackupShared, long MemberCount);

/// <summary>
/// The sharing rules (spec §4.5) and the <c>image_members</c> table, used by the native member API, the v1 batch API
/// and the member jobs alike, so that each rule answers the same code everywhere.
/// </summary>
public static class ImageMembers
{
    /// <summary>Member projects a whole image may have; system and data disk images may have 256.</summary>
    public const int WholeImageLimit = 10;
    public const int ImageLimit = 256;

    public static int LimitOf(ImageRow image) => image.WholeImage ? WholeImageLimit : ImageLimit;

    /// <summary>An image the viewer reaches (its own, public, or shared with it), with its sharing facts; null otherwise.</summary>
    public static async Task<ShareFacts?> FindAsync(WriteScope tx, ImageStore images, BackupStore backups, string viewer, string imageId,
        CancellationToken ct)
    {
        var image = await images.GetVisibleAsync(tx, viewer, imageId, ct);
        if (image is null) return null;
        return new ShareFacts(image, await backups.GetServiceAsync(tx, image.BackupId, ct), image.SourceBackupShared,
            await images.CountMembersAsync(tx, image.Id, ct));
    }

    /// <summary>Why <paramref name="caller"/> cannot share the image now; null when it can.</summary>
    public static ApiError? CheckShareable(ShareFacts facts, string caller, CloudProfile profile)
    {
        var image = facts.Image;
        if (image.Visibility == "public") return ImsErrors.Of("IMG.0089");
        if (image.Owner != caller) return ImsErrors.Of("IMG.0047");
        if (image.Status != "active") return ImsErrors.Of("IMG.0046", $"Image {image.Id} is {image.Status}; only active images can be shared.");
        if (!image.WholeImage) return null;
        // Only whole images backed by a CBR backup (mode C, or mode A with a vault) can be shared.
        if (facts.BackupService != "CBR")
            return ImsErrors.Of("IMG.0135", "Only full-ECS images created from CBR backups can be shared.");
        if (profile == CloudProfile.Otc && facts.SourceBackupShared)
            return ImsErrors.Of("IMG.0135", "A full-ECS image created from a shared CBR backup cannot be shared.");
        return null;
    }

    /// <summary>
    /// Whether <paramref name="memberId"/> can become a member of an image of <paramref name="owner"/>: another project
    /// this deployment knows (any account), in the same region.
    /// </summary>
    public static ApiError? CheckMemberProject(Accounts accounts, Project owner, string memberId)
    {
        if (memberId == owner.Id) return ImsErrors.Of("IMG.0076");
        var member = accounts.ProjectById(memberId);
        if (member is null) return ImsErrors.Of("IMG.0108", $"The project {memberId} was not found in the current region.");
        return ProjectRegions.RegionOf(member) == ProjectRegions.RegionOf(owner)
            ? null
            : ImsErrors.Of("IMG.0177", $"The project {memberId} is in region {ProjectRegions.RegionOf(member)}; images are shared within a region.");
    }

    /// <summary>
    /// The vault a member names when accepting a whole image: one of its own server-backup vaults, available
    /// (<c>IMG.0184</c> when absent or not the member's).
    /// </summary>
    public static async Task<ApiError?> CheckMemberVaultAsync(WriteScope tx, VaultStore vaults, string member, string? vaultId, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(vaultId))
            return ImsErrors.Of("IMG.0184", "vault_id is required to accept a shared full-ECS image created from a CBR backup.");
        var vault = await vaults.GetAsync(tx, member, vaultId, ct);
        if (vault is null) return ImsErrors.Of("IMG.0184", $"Failed to obtain the vault {vaultId}.");
        if (vault.ObjectType != "server" || vault.ProtectType != "backup") return ImsErrors.Of("IMG.0193");
        return vault.Status == "available" ? null : ImsErrors.Of("IMG.0188");
    }

    /// <summary>Glance's member object; times as image times (seconds, Z).</summary>
    public static void Write(Utf8JsonWriter w, MemberRow member)
    {
        w.WriteStartObject();
        w.WriteString("status", member.Status);
        w.WriteString("created_at", WireTime.Seconds(member.CreatedAt));
        w.WriteString("updated_at", WireTime.Seconds(member.UpdatedAt));
        w.WriteString("image_id", member.ImageId);
        w.WriteString("member_id", member.MemberId);
        w.WriteString("schema", "/v2/schemas/member");
        w.WriteEndObject();
    }
}

/// <summary>
/// The region of a project. Huawei IAM names a region's default project after the region (<c>cn-north-4</c>) and
/// its sub-projects <c>{region}_{suffix}</c>; this deployment serves every region its accounts file has a project in.
/// </summary>
public static class ProjectRegions
{
    public static string RegionOf(Project project)
    {
        var split = project.Name.IndexOf('_', StringComparison.Ordinal);
        return split < 0 ? project.Name : project.Name[..split];
    }
}
