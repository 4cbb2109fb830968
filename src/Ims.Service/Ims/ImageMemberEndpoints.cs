using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Ims.Service.Auth;
using Ims.Service.Backups;
using Ims.Service.Cbr;
using Ims.Service.Hosting;
using Ims.Service.Http;
using Ims.Service.Jobs;
using Ims.Service.Storage;
using Microsoft.Extensions.Options;

namespace Ims.Service.Ims;

/// <summary>
/// Image sharing (spec §4.5): the Glance member API under <c>/v2/images/{image_id}/members</c>, which answers at once,
/// and the IMS batch API <c>/v1/cloudimages/members</c>, which checks every rule at once and leaves the writes to a
/// durable job. The owner adds and removes members; only a member answers (accepts or rejects) for itself.
/// </summary>
public static class ImageMemberEndpoints
{
    public static IEndpointRouteBuilder MapImageMembers(this IEndpointRouteBuilder app)
    {
        var native = app.MapGroup("/v2/images/{image_id}/members").ForService(ServiceKind.Ims);
        native.MapPost("", AddMember);
        native.MapGet("", ListMembers);
        native.MapGet("/{member_id}", ShowMember);
        native.MapPut("/{member_id}", UpdateMember);
        native.MapDelete("/{member_id}", RemoveMember);

        // The IMS views of the members (ListImageMembers, ShowImageMember; terraform's huaweicloud_ims_image_shared_members).
        var v1 = app.MapGroup("/v1/{project_id}/cloudimages/{image_id}/members").ForService(ServiceKind.Ims);
        v1.MapGet("", ListMembersPaged);
        v1.MapGet("/{member_id}", ShowMemberV1);

        var batch = app.MapGroup("/v1/cloudimages/members").ForService(ServiceKind.Ims);
        batch.MapPost("", AddMembers);
        batch.MapPut("", UpdateMembers);
        batch.MapDelete("", RemoveMembers);
        return app;
    }

    // ----- native (Glance) ----------------------------------------------------------------------------------------

    private static async Task<IResult> AddMember(string image_id, HttpContext http, Caller caller, Database db, ImageStore images, BackupStore backups,
        Accounts accounts,
        IOptions<ServiceOptions> options, TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (body, error) = await JsonBody.ReadAsync<MemberCreateRequest>(http, ServiceKind.Ims);
        if (error is not null) return error;
        if (string.IsNullOrEmpty(body!.Member)) return ImsErrors.Of("IMG.0001", "member is required.");

        await using var write = await db.BeginWriteAsync(ct);
        var facts = await ImageMembers.FindAsync(write, images, backups, caller.ProjectId, image_id, ct);
        if (facts is null) return ImsErrors.ImageNotFound(image_id);
        var refusal = ImageMembers.CheckShareable(facts, caller.ProjectId, options.Value.Profile)
            ?? ImageMembers.CheckMemberProject(accounts, caller.Project, body.Member);
        if (refusal is not null) return refusal;
        if (await images.GetMemberAsync(write, image_id, body.Member, ct) is not null)
            return ImsErrors.Of("IMG.0112", $"Project {body.Member} is already a member of image {image_id}.", StatusCodes.Status409Conflict);
        if (facts.MemberCount >= ImageMembers.LimitOf(facts.Image))
            return ImsErrors.Of("IMG.0088", $"Image {image_id} already has {facts.MemberCount} members, the most it may have.");

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await images.AddMemberAsync(write, image_id, body.Member, now, ct);
        await images.RefreshVisibilityAsync(write, [image_id], now, ct);
        var member = await images.GetMemberAsync(write, image_id, body.Member, ct);
        await write.CommitAsync(ct);
        return new JsonWriterResult(w => ImageMembers.Write(w, member!));
    }

    /// <summary>The owner sees every member; a member sees only its own membership (as Glance does).</summary>
    private static async Task<IResult> ListMembers(string image_id, HttpContext http, Caller caller, ImageStore images)
    {
        var ct = http.RequestAborted;
        var image = await images.GetVisibleAsync(caller.ProjectId, image_id, ct);
        if (image is null) return ImsErrors.ImageNotFound(image_id);
        var members = (await images.GetMembersAsync( image_id, ct))
            .Where(m => image.Owner == caller.ProjectId || m.MemberId == caller.ProjectId)
            .ToList();
        return new JsonWriterResult(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("members");
            foreach (var member in members) ImageMembers.Write(w, member);
            w.WriteEndArray();
            w.WriteString("schema", "/v2/schemas/members");
            w.WriteEndObject();
        });
    }

    private static async Task<IResult> ShowMember(string image_id, string member_id, HttpContext http, Caller caller, ImageStore images)
    {
        var ct = http.RequestAborted;
        var image = await images.GetVisibleAsync(caller.ProjectId, image_id, ct);
        if (image is null) return ImsErrors.ImageNotFound(image_id);
        var member = image.Owner == caller.ProjectId || member_id == caller.ProjectId
            ? await images.GetMemberAsync( image_id, member_id, ct)
            : null;
        if (member is null) return MemberNotFound(image_id, member_id);
        return new JsonWriterResult(w => ImageMembers.Write(w, member));
    }

    /// <summary>
    /// <c>GET /v1/{project_id}/cloudimages/{image_id}/members</c>: the Glance list with IMS's paging. <c>limit</c> 1-1000
    /// (default 500); <c>marker</c> is the Base64 of the last member id of the previous page, as <c>page_info.next_marker</c>
    /// gives it while more members follow. Who sees whom is as in the native list.
    /// </summary>
    private static async Task<IResult> ListMembersPaged(string image_id, HttpContext http, Caller caller, ImageStore images)
    {
        var ct = http.RequestAborted;
        if (!QueryArgs.TryInt(http, "limit", ServiceKind.Ims, out var limit, out var limitError, 1, 1000)) return limitError!;
        string? after = null;
        if (QueryArgs.String(http, "marker") is { Length: > 0 } marker)
        {
            try
            {
                after = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(marker));
            }
            catch (FormatException)
            {
                return ImsErrors.Of("IMG.0001", "marker must be the Base64 next_marker of a previous page.");
            }
        }

        var image = await images.GetVisibleAsync(caller.ProjectId, image_id, ct);
        if (image is null) return ImsErrors.ImageNotFound(image_id);
        var members = (await images.GetMembersAsync(image_id, ct))
            .Where(m => image.Owner == caller.ProjectId || m.MemberId == caller.ProjectId)
            .ToList();
        var start = 0;
        if (after is not null)
        {
            var index = members.FindIndex(m => m.MemberId == after);
            if (index < 0) return ImsErrors.Of("IMG.0001", "marker names no member of the image.");
            start = index + 1;
        }
        var page = members.Skip(start).Take(limit ?? 500).ToList();
        var more = start + page.Count < members.Count;
        return new JsonWriterResult(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("members");
            foreach (var member in page) WriteV1(w, member);
            w.WriteEndArray();
            w.WriteString("schema", "/v2/schemas/members");
            w.WriteStartObject("page_info");
            if (more) w.WriteString("next_marker", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(page[^1].MemberId)));
            w.WriteNumber("current_count", page.Count);
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }

    /// <summary><c>GET /v1/{project_id}/cloudimages/{image_id}/members/{member_id}</c>: the native show, with <c>member_type</c>.</summary>
    private static async Task<IResult> ShowMemberV1(string image_id, string member_id, HttpContext http, Caller caller, ImageStore images)
    {
        var ct = http.RequestAborted;
        var image = await images.GetVisibleAsync(caller.ProjectId, image_id, ct);
        if (image is null) return ImsErrors.ImageNotFound(image_id);
        var member = image.Owner == caller.ProjectId || member_id == caller.ProjectId
            ? await images.GetMemberAsync(image_id, member_id, ct)
            : null;
        if (member is null) return MemberNotFound(image_id, member_id);
        return new JsonWriterResult(w => WriteV1(w, member));
    }

    /// <summary>IMS's member object: Glance's plus <c>member_type</c> (members here are always projects, so no <c>urn</c>).</summary>
    private static void WriteV1(System.Text.Json.Utf8JsonWriter w, MemberRow member)
    {
        w.WriteStartObject();
        w.WriteString("status", member.Status);
        w.WriteString("created_at", WireTime.Seconds(member.CreatedAt));
        w.WriteString("updated_at", WireTime.Seconds(member.UpdatedAt));
        w.WriteString("image_id", member.ImageId);
        w.WriteString("member_id", member.MemberId);
        w.WriteString("schema", "/v2/schemas/member");
        w.WriteString("member_type", "project");
        w.WriteEndObject();
    }

    private static async Task<IResult> UpdateMember(string image_id, string member_id, HttpContext http, Caller caller, Database db,
        ImageStore images, BackupStore backups, VaultStore vaults,
        TimeProvider time)
    {
        var ct = http.RequestAborted;
        var (body, error) = await JsonBody.ReadAsync<MemberUpdateRequest>(http, ServiceKind.Ims);
        if (error is not null) return error;
        if (StatusError(body!.Status) is { } statusError) return statusError;

        await using var write = await db.BeginWriteAsync(ct);
        var facts = await ImageMembers.FindAsync(write, images, backups, caller.ProjectId, image_id, ct);
        if (facts is null) return ImsErrors.ImageNotFound(image_id);
        if (member_id != caller.ProjectId)
        {
            // The owner knows its members but cannot answer for them; anyone else does not see other memberships.
            return facts.Image.Owner == caller.ProjectId
                ? ImsErrors.Of("IMG.0161", "Only the member project can accept or reject a shared image.", StatusCodes.Status403Forbidden)
                : MemberNotFound(image_id, member_id);
        }
        if (await images.GetMemberAsync(write, image_id, member_id, ct) is null)
            return MemberNotFound(image_id, member_id);
        if (body.Status == MemberStatus.Accepted && facts.Image.WholeImage
            && await ImageMembers.CheckMemberVaultAsync(write, vaults, caller.ProjectId, body.VaultId, ct) is { } vaultError)
            return vaultError;

        await images.SetMemberStatusAsync(write, image_id, member_id, body.Status!, body.VaultId, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
        var member = await images.GetMemberAsync(write, image_id, member_id, ct);
        await write.CommitAsync(ct);
        return new JsonWriterResult(w => ImageMembers.Write(w, member!));
    }

    private static async Task<IResult> RemoveMember(string image_id, string member_id, HttpContext http, Caller caller, Database db,
        ImageStore images, BackupStore backups,
        TimeProvider time)
    {
        var ct = http.RequestAborted;
        await using var write = await db.BeginWriteAsync(ct);
        var facts = await ImageMembers.FindAsync(write, images, backups, caller.ProjectId, image_id, ct);
        if (facts is null) return ImsErrors.ImageNotFound(image_id);
        if (facts.Image.Owner != caller.ProjectId) return ImsErrors.Of("IMG.0047");
        if (!await images.RemoveMemberAsync(write, image_id, member_id, ct)) return MemberNotFound(image_id, member_id);
        await images.RefreshVisibilityAsync(write, [image_id], time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
        await write.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    // ----- IMS batch API (jobs) -----------------------------------------------------------------------------------

    /// <summary>
    /// <c>POST /v1/cloudimages/members</c>: every image and project is checked now, so a request either answers with the
    /// first broken rule or starts a job that will succeed unless something changes meanwhile (the job checks again).
    /// </summary>
    private static async Task<IResult> AddMembers(HttpContext http, Caller caller, Database db, ImageStore store, BackupStore backups,
        Accounts accounts, JobQueue jobs,
        IOptions<ServiceOptions> options)
    {
        var ct = http.RequestAborted;
        var (body, error) = await JsonBody.ReadAsync<BatchMembersRequest>(http, ServiceKind.Ims);
        if (error is not null) return error;
        var (images, projects, listError) = Lists(body!.Images, body.Projects);
        if (listError is not null) return listError;

        await using var write = await db.BeginWriteAsync(ct);
        var shared = new List<ShareFacts>();
        foreach (var imageId in images)
        {
            var facts = await ImageMembers.FindAsync(write, store, backups, caller.ProjectId, imageId, ct);
            if (facts is null) return ImageNotInRequest(imageId);
            if (ImageMembers.CheckShareable(facts, caller.ProjectId, options.Value.Profile) is { } refusal) return refusal;
            shared.Add(facts);
        }
        foreach (var project in projects)
        {
            if (ImageMembers.CheckMemberProject(accounts, caller.Project, project) is { } projectError) return projectError;
        }
        foreach (var facts in shared)
        {
            var existing = (await store.GetMembersAsync(write, facts.Image.Id, ct))
                .Select(m => m.MemberId).ToHashSet(StringComparer.Ordinal);
            var total = existing.Count + projects.Count(p => !existing.Contains(p));
            if (total > ImageMembers.LimitOf(facts.Image))
                return ImsErrors.Of("IMG.0088",
                    $"Image {facts.Image.Id} would have {total} members; at most {ImageMembers.LimitOf(facts.Image)} are allowed.");
        }
        var jobId = await jobs.EnqueueAsync(write, "ims", AddImageMembersJob.Type, caller.ProjectId,
            new MembersPayload(images, projects, null, null), new JsonObject(), images[0], null, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { job_id = jobId });
    }

    /// <summary><c>PUT /v1/cloudimages/members</c>: the member (and only it) accepts or rejects images shared with it.</summary>
    private static async Task<IResult> UpdateMembers(HttpContext http, Caller caller, Database db, ImageStore store, BackupStore backups,
        VaultStore vaults, JobQueue jobs)
    {
        var ct = http.RequestAborted;
        var (body, error) = await JsonBody.ReadAsync<BatchMemberUpdateRequest>(http, ServiceKind.Ims);
        if (error is not null) return error;
        var (images, _, listError) = Lists(body!.Images, [caller.ProjectId]);
        if (listError is not null) return listError;
        if (string.IsNullOrEmpty(body.ProjectId)) return ImsErrors.Of("IMG.0001", "project_id is required.");
        if (body.ProjectId != caller.ProjectId)
            return ImsErrors.Of("IMG.0067", "project_id must be the project of the credentials: only a member answers for itself.");
        if (StatusError(body.Status) is { } statusError) return statusError;

        await using var write = await db.BeginWriteAsync(ct);
        var needsVault = false;
        foreach (var imageId in images)
        {
            var facts = await ImageMembers.FindAsync(write, store, backups, caller.ProjectId, imageId, ct);
            if (facts is null || facts.Image.Owner == caller.ProjectId
                || await store.GetMemberAsync(write, imageId, caller.ProjectId, ct) is null)
                return ImsErrors.Of("IMG.0027", $"Image {imageId} is not shared with project {caller.ProjectId}.");
            needsVault |= facts.Image.WholeImage;
        }
        if (body.Status == MemberStatus.Accepted && needsVault
            && await ImageMembers.CheckMemberVaultAsync(write, vaults, caller.ProjectId, body.VaultId, ct) is { } vaultError)
            return vaultError;
        var jobId = await jobs.EnqueueAsync(write, "ims", UpdateImageMembersJob.Type, caller.ProjectId,
            new MembersPayload(images, [caller.ProjectId], body.Status, string.IsNullOrEmpty(body.VaultId) ? null : body.VaultId),
            new JsonObject(), images[0], null, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { job_id = jobId });
    }

    /// <summary><c>DELETE /v1/cloudimages/members</c>: the owner stops sharing; a project that is no member is nothing to do.</summary>
    private static async Task<IResult> RemoveMembers(HttpContext http, Caller caller, Database db, ImageStore store, BackupStore backups,
        JobQueue jobs)
    {
        var ct = http.RequestAborted;
        var (body, error) = await JsonBody.ReadAsync<BatchMembersRequest>(http, ServiceKind.Ims);
        if (error is not null) return error;
        var (images, projects, listError) = Lists(body!.Images, body.Projects);
        if (listError is not null) return listError;

        await using var write = await db.BeginWriteAsync(ct);
        foreach (var imageId in images)
        {
            var facts = await ImageMembers.FindAsync(write, store, backups, caller.ProjectId, imageId, ct);
            if (facts is null) return ImageNotInRequest(imageId);
            if (facts.Image.Visibility == "public") return ImsErrors.Of("IMG.0089");
            if (facts.Image.Owner != caller.ProjectId) return ImsErrors.Of("IMG.0047");
        }
        var jobId = await jobs.EnqueueAsync(write, "ims", RemoveImageMembersJob.Type, caller.ProjectId,
            new MembersPayload(images, projects, null, null), new JsonObject(), images[0], null, ct);
        await write.CommitAsync(ct);
        return TypedResults.Json(new { job_id = jobId });
    }

    // ----- helpers ------------------------------------------------------------------------------------------------

    /// <summary>Both lists present, non-empty and made of non-empty ids; repeats collapse.</summary>
    private static (IReadOnlyList<string> Images, IReadOnlyList<string> Projects, ApiError? Error) Lists(List<string?>? images, List<string?>? projects)
    {
        if (images is not { Count: > 0 }) return ([], [], ImsErrors.Of("IMG.0001", "images must list at least one image ID."));
        if (projects is not { Count: > 0 }) return ([], [], ImsErrors.Of("IMG.0001", "projects must list at least one project ID."));
        if (images.Any(string.IsNullOrEmpty)) return ([], [], ImsErrors.Of("IMG.0001", "images must hold image IDs."));
        if (projects.Any(string.IsNullOrEmpty)) return ([], [], ImsErrors.Of("IMG.0001", "projects must hold project IDs."));
        return ([.. images.Select(i => i!).Distinct(StringComparer.Ordinal)], [.. projects.Select(p => p!).Distinct(StringComparer.Ordinal)], null);
    }

    private static ApiError? StatusError(string? status) => status switch
    {
        null or "" => ImsErrors.Of("IMG.0001", "status is required."),
        MemberStatus.Accepted or MemberStatus.Rejected => null,
        _ => ImsErrors.Of("IMG.0001", "status must be accepted or rejected."),
    };

    /// <summary>An image named in a request body is a bad request (400), not a missing resource.</summary>
    private static ApiError ImageNotInRequest(string imageId) => ImsErrors.Of("IMG.0027", $"Image {imageId} does not exist.");

    private static ApiError MemberNotFound(string imageId, string memberId) =>
        ImsErrors.Of("IMG.0114", $"Project {memberId} is not a member of image {imageId}.", StatusCodes.Status404NotFound);

    private sealed record MemberCreateRequest
    {
        [JsonPropertyName("member")] public string? Member { get; init; }
    }

    private sealed record MemberUpdateRequest
    {
        [JsonPropertyName("status")] public string? Status { get; init; }
        [JsonPropertyName("vault_id")] public string? VaultId { get; init; }
    }

    private sealed record BatchMembersRequest
    {
        [JsonPropertyName("images")] public List<string?>? Images { get; init; }
        [JsonPropertyName("projects")] public List<string?>? Projects { get; init; }
    }

    private sealed record BatchMemberUpdateRequest
    {
        [JsonPropertyName("images")] public List<string?>? Images { get; init; }
        [JsonPropertyName("project_id")] public string? ProjectId { get; init; }
        [JsonPropertyName("status")] public string? Status { get; init; }
        [JsonPropertyName("vault_id")] public string? VaultId { get; init; }
    }
}
