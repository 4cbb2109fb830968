using System.Data.Common;
using System.Text.Json;
using Dapper;
using Ims.Service.Auth;
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

    private const string Columns =
        "image_id AS ImageId, member_id AS MemberId, status, vault_id AS VaultId, created_at AS CreatedAt, updated_at AS UpdatedAt";

    public static int LimitOf(ImageRow image) => image.WholeImage ? WholeImageLimit : ImageLimit;

    /// <summary>
    /// Serialises the writers that count an image's members to decide whether one more fits: take it in the write
    /// transaction before counting, so concurrent additions cannot both take the last place.
    /// </summary>
    public static Task LockAsync(WriteScope write, string imageId, CancellationToken ct) =>
        write.LockAsync($"image-members:{imageId}", ct);

    /// <summary>An image the viewer reaches (its own, public, or shared with it), with its sharing facts; null otherwise.</summary>
    public static async Task<ShareFacts?> FindAsync(DbConnection conn, DbTransaction? tx, string viewer, string imageId, CancellationToken ct)
    {
        var image = await conn.QuerySingleOrDefaultAsync<ImageRow>(new CommandDefinition(
            $"SELECT {ImageRow.Columns} FROM images WHERE id = @imageId AND status NOT IN ('deleted', 'killed') AND {ImageQueries.VisibleTo}",
            new { imageId, project = viewer }, tx, cancellationToken: ct));
        if (image is null) return null;
        var facts = await conn.QuerySingleAsync<(string? Service, long Shared, long Members)>(new CommandDefinition(
            """
            SELECT (SELECT b.service FROM backups b WHERE b.id = i.backup_id),
                   i.source_backup_shared,
                   (SELECT COUNT(*) FROM image_members m WHERE m.image_id = i.id)
            FROM images i WHERE i.id = @imageId
            """, new { imageId }, tx, cancellationToken: ct));
        return new ShareFacts(image, facts.Service, facts.Shared != 0, facts.Members);
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
    public static async Task<ApiError?> CheckMemberVaultAsync(DbConnection conn, DbTransaction? tx, string member, string? vaultId, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(vaultId))
            return ImsErrors.Of("IMG.0184", "vault_id is required to accept a shared full-ECS image created from a CBR backup.");
        var vault = await Vaults.FindAsync(conn, tx, member, vaultId, ct);
        if (vault is null) return ImsErrors.Of("IMG.0184", $"Failed to obtain the vault {vaultId}.");
        if (vault.ObjectType != "server" || vault.ProtectType != "backup") return ImsErrors.Of("IMG.0193");
        return vault.Status == "available" ? null : ImsErrors.Of("IMG.0188");
    }

    public static async Task<MemberRow?> FindMemberAsync(DbConnection conn, DbTransaction? tx, string imageId, string memberId, CancellationToken ct) =>
        await conn.QuerySingleOrDefaultAsync<MemberRow>(new CommandDefinition(
            $"SELECT {Columns} FROM image_members WHERE image_id = @imageId AND member_id = @memberId",
            new { imageId, memberId }, tx, cancellationToken: ct));

    public static async Task<IReadOnlyList<MemberRow>> MembersOfAsync(DbConnection conn, DbTransaction? tx, string imageId, CancellationToken ct) =>
        (await conn.QueryAsync<MemberRow>(new CommandDefinition(
            $"SELECT {Columns} FROM image_members WHERE image_id = @imageId ORDER BY created_at, member_id",
            new { imageId }, tx, cancellationToken: ct))).AsList();

    /// <summary>Adds a pending member; false when the project already was one (its answer is kept).</summary>
    public static async Task<bool> AddAsync(WriteScope write, string imageId, string memberId, long now, CancellationToken ct) =>
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO image_members (image_id, member_id, status, vault_id, created_at, updated_at)
            VALUES (@imageId, @memberId, 'pending', NULL, @now, @now)
            ON CONFLICT (image_id, member_id) DO NOTHING
            """, new { imageId, memberId, now }, write.Transaction, cancellationToken: ct)) == 1;

    /// <summary>Records a member's answer; the vault is kept only for an acceptance. False when it is not a member.</summary>
    public static async Task<bool> SetStatusAsync(WriteScope write, string imageId, string memberId, string status, string? vaultId,
        long now, CancellationToken ct) =>
        await write.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE image_members SET status = @status, vault_id = @vaultId, updated_at = @now
            WHERE image_id = @imageId AND member_id = @memberId
            """,
            new { imageId, memberId, status, vaultId = status == MemberStatus.Accepted ? vaultId : null, now },
            write.Transaction, cancellationToken: ct)) == 1;

    public static async Task<bool> RemoveAsync(WriteScope write, string imageId, string memberId, CancellationToken ct) =>
        await write.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM image_members WHERE image_id = @imageId AND member_id = @memberId",
            new { imageId, memberId }, write.Transaction, cancellationToken: ct)) == 1;

    /// <summary>
    /// The owner's view follows the members (spec §7 Q17): <c>visibility</c> and <c>__imagetype</c> are <c>shared</c>
    /// while the image has a member in any state, <c>private</c> again once the last one is gone.
    /// </summary>
    public static Task RefreshVisibilityAsync(WriteScope write, IReadOnlyCollection<string> imageIds, long now, CancellationToken ct) =>
        imageIds.Count == 0 ? Task.CompletedTask : write.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE images
            SET visibility = CASE WHEN EXISTS (SELECT 1 FROM image_members m WHERE m.image_id = images.id) THEN 'shared' ELSE 'private' END,
                imagetype = CASE WHEN EXISTS (SELECT 1 FROM image_members m WHERE m.image_id = images.id) THEN 'shared' ELSE 'private' END,
                updated_at = @now
            WHERE id IN @imageIds AND visibility <> 'public'
              AND visibility <> CASE WHEN EXISTS (SELECT 1 FROM image_members m WHERE m.image_id = images.id) THEN 'shared' ELSE 'private' END
            """, new { imageIds, now }, write.Transaction, cancellationToken: ct));

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
