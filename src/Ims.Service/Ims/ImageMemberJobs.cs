using Ims.Service.Http;
using System.Text.Json.Nodes;
using Ims.Service.Cbr;
using Ims.Service.Jobs;

namespace Ims.Service.Ims;

/// <summary>The images and projects of a batch member request; <see cref="Status"/> and <see cref="VaultId"/> for updates.</summary>
public sealed record MembersPayload(IReadOnlyList<string> Images, IReadOnlyList<string> Projects, string? Status, string? VaultId);

/// <summary>
/// The batch member jobs. Each does all its writes in one step, so a crash redoes the whole batch or none of it; the
/// request already checked every rule, and the step checks again what may have changed since (the image was deleted,
/// another request filled the member list). <c>entities.results</c> reports each image and project pair; the job
/// fails only when every pair failed (spec §4.5).
/// </summary>
public abstract class ImageMembersJob : JobHandler
{
    public override string StorageFullCode => ErrorBodies.StorageFullCode;

    protected sealed record Outcome(string ImageId, string ProjectId, string? Code = null, string? Reason = null);

    protected static Outcome Failed(string imageId, string projectId, string code, string? reason = null) =>
        new(imageId, projectId, code, reason ?? ImsErrors.MessageOf(code));

    protected static void Report(JobContext job, IReadOnlyList<Outcome> outcomes)
    {
        job.Entities["results"] = new JsonArray([.. outcomes.Select(o => (JsonNode)new JsonObject
        {
            ["image_id"] = o.ImageId,
            ["project_id"] = o.ProjectId,
            ["status"] = o.Code is null ? "success" : "failed",
        })]);
        if (outcomes.Count > 0 && outcomes.All(o => o.Code is not null))
            throw JobContext.Fail(outcomes[0].Code!, outcomes[0].Reason!);
    }
}

/// <summary><c>POST /v1/cloudimages/members</c>: the projects become pending members of the owner's images.</summary>
public sealed class AddImageMembersJob(ImageStore images) : ImageMembersJob
{
    public const string Type = "imsAddImageMembersJob";

    public override string JobType => Type;

    public override IReadOnlyList<JobStep> Steps { get; } =
    [
        new("AddMembers", async (job, write, ct) =>
        {
            var payload = job.Payload<MembersPayload>();
            var outcomes = new List<Outcome>();
            // The member limit is counted below, per image: every image's lock first, in one order.
            await images.LockMembersAsync(write, payload.Images, ct);
            foreach (var imageId in payload.Images)
            {
                var image = await images.GetLiveAsync(write, imageId, ct);
                foreach (var projectId in payload.Projects)
                {
                    if (image is null || image.Owner != job.ProjectId) outcomes.Add(Failed(imageId, projectId, "IMG.0027"));
                    else if (image.Status != "active") outcomes.Add(Failed(imageId, projectId, "IMG.0046"));
                    else if (await images.GetMemberAsync(write, imageId, projectId, ct) is not null)
                        outcomes.Add(new(imageId, projectId));
                    else if (await images.CountMembersAsync(write, imageId, ct) >= ImageMembers.LimitOf(image))
                        outcomes.Add(Failed(imageId, projectId, "IMG.0088"));
                    else
                    {
                        await images.AddMemberAsync(write, imageId, projectId, job.NowMs, ct);
                        outcomes.Add(new(imageId, projectId));
                    }
                }
            }
            await images.RefreshVisibilityAsync(write, payload.Images, job.NowMs, ct);
            Report(job, outcomes);
        }),
    ];
}

/// <summary><c>PUT /v1/cloudimages/members</c>: the member records its answer for each image.</summary>
public sealed class UpdateImageMembersJob(ImageStore images, VaultStore vaults) : ImageMembersJob
{
    public const string Type = "imsUpdateImageMembersJob";

    public override string JobType => Type;

    public override IReadOnlyList<JobStep> Steps { get; } =
    [
        new("UpdateMembers", async (job, write, ct) =>
        {
            var payload = job.Payload<MembersPayload>();
            var outcomes = new List<Outcome>();
            foreach (var imageId in payload.Images)
            {
                var image = await images.GetLiveAsync(write, imageId, ct);
                if (image is null)
                {
                    outcomes.Add(Failed(imageId, job.ProjectId, "IMG.0027"));
                    continue;
                }
                // The vault may have gone since the request: an acceptance without one would leave nowhere for the backup.
                if (payload.Status == MemberStatus.Accepted && image.WholeImage
                    && await ImageMembers.CheckMemberVaultAsync(write, vaults, job.ProjectId, payload.VaultId, ct) is { } vaultError)
                {
                    outcomes.Add(Failed(imageId, job.ProjectId, vaultError.Code, vaultError.Message));
                    continue;
                }
                outcomes.Add(await images.SetMemberStatusAsync(write, imageId, job.ProjectId, payload.Status!, payload.VaultId, job.NowMs, ct)
                    ? new(imageId, job.ProjectId)
                    : Failed(imageId, job.ProjectId, "IMG.0027", $"Image {imageId} is not shared with project {job.ProjectId}."));
            }
            Report(job, outcomes);
        }),
    ];
}

/// <summary><c>DELETE /v1/cloudimages/members</c>: the owner stops sharing; removing a non-member succeeds.</summary>
public sealed class RemoveImageMembersJob(ImageStore images) : ImageMembersJob
{
    public const string Type = "imsDelImageMembersJob";

    public override string JobType => Type;

    public override IReadOnlyList<JobStep> Steps { get; } =
    [
        new("RemoveMembers", async (job, write, ct) =>
        {
            var payload = job.Payload<MembersPayload>();
            var outcomes = new List<Outcome>();
            foreach (var imageId in payload.Images)
            {
                var image = await images.GetLiveAsync(write, imageId, ct);
                foreach (var projectId in payload.Projects)
                {
                    if (image is null || image.Owner != job.ProjectId)
                    {
                        outcomes.Add(Failed(imageId, projectId, "IMG.0027"));
                        continue;
                    }
                    await images.RemoveMemberAsync(write, imageId, projectId, ct);
                    outcomes.Add(new(imageId, projectId));
                }
            }
            await images.RefreshVisibilityAsync(write, payload.Images, job.NowMs, ct);
            Report(job, outcomes);
        }),
    ];
}
