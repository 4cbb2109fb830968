using System.Text.Json.Serialization;
using Ims.Service.Auth;
using Ims.Service.Hosting;
using Ims.Service.Http;
using Ims.Service.Ims;
using Ims.Service.Storage;
using Microsoft.Extensions.Options;

namespace Ims.Service.Eps;

/// <summary>
/// The slice of the Enterprise Project Management Service that terraform calls to move an image between enterprise
/// projects (contract §1.1 Update step 6): migrate a resource, then list an enterprise project's resources until it shows.
/// EPS is a global service acting for the caller's whole account: a body's project may be any project of the caller's
/// account, and a project of another account holds nothing the caller can find. The enterprise project must be one of the
/// caller's account (<see cref="EnterpriseProjectManagement"/>) and enabled. Images are the only resource type served.
/// </summary>
public static class EnterpriseProjectEndpoints
{
    public const string ImagesType = "images";

    public static IEndpointRouteBuilder MapEnterpriseProjects(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1.0/enterprise-projects/{enterprise_project_id}").ForService(ServiceKind.Eps).AllowDomainScope();
        group.MapPost("/resources-migrate", MigrateResource);
        group.MapPost("/resources/filter", FilterResources);
        return app;
    }

    /// <summary>Moves one image into the enterprise project; 204 with no body, as the real service answers.</summary>
    private static async Task<IResult> MigrateResource(string enterprise_project_id, HttpContext http, Caller caller, Accounts accounts,
        Database db, ImageStore images, EnterpriseProjectCheck check, IOptions<ServiceOptions> options, TimeProvider time)
    {
        var ct = http.RequestAborted;
        if (await check.EpsRefusalAsync(caller.Domain.Id, enterprise_project_id, ct) is { } refused) return refused;
        var (body, error) = await JsonBody.ReadAsync<MigrateRequest>(http, ServiceKind.Eps);
        if (error is not null) return error;
        if (string.IsNullOrEmpty(body!.ResourceType)) return BadRequest("resource_type is required.");
        if (body.ResourceType != ImagesType) return BadRequest($"The resource type {body.ResourceType} is not supported here; only {ImagesType}.");
        if (string.IsNullOrEmpty(body.ResourceId)) return BadRequest("resource_id is required.");
        if (string.IsNullOrEmpty(body.ProjectId)) return BadRequest("project_id is required for region-level resources such as images.");
        if (body.RegionId is { Length: > 0 } region && region != options.Value.EffectiveRegion)
            return BadRequest($"The region {region} is not served here ({options.Value.EffectiveRegion}).");

        if (accounts.FindProject(caller.User.Domain, body.ProjectId, null) is null) return NotFound(body.ResourceId);
        await using var write = await db.BeginWriteAsync(ct);
        var image = await images.GetOwnAsync(write, body.ProjectId, body.ResourceId, ct);
        if (image is null) return NotFound(body.ResourceId);
        await images.SetEnterpriseProjectAsync(write, image.Id, enterprise_project_id, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
        await write.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    /// <summary>The images of the given projects (those of the caller's account) in the enterprise project, oldest first.</summary>
    private static async Task<IResult> FilterResources(string enterprise_project_id, HttpContext http, Caller caller, Accounts accounts,
        ImageStore images, EnterpriseProjectCheck check, IOptions<ServiceOptions> options)
    {
        var ct = http.RequestAborted;
        if (await check.EpsRefusalAsync(caller.Domain.Id, enterprise_project_id, ct) is { } refused) return refused;
        var (body, error) = await JsonBody.ReadAsync<FilterRequest>(http, ServiceKind.Eps);
        if (error is not null) return error;
        if (body!.ResourceTypes is not { Count: > 0 } types) return BadRequest("resource_types is required.");
        if (types.FirstOrDefault(t => t != ImagesType) is { } unsupported)
            return BadRequest($"The resource type {unsupported} is not supported here; only {ImagesType}.");
        if (body.Projects is not { Count: > 0 } projects)
            return new ApiError(ServiceKind.Eps, StatusCodes.Status400BadRequest, "EPS.0020", "Empty project list.");
        var limit = body.Limit ?? 1000;
        if (limit is < 1 or > 1000) return new ApiError(ServiceKind.Eps, StatusCodes.Status400BadRequest, "EPS.0017", "Invalid limit.");
        var offset = body.Offset ?? 0;
        if (offset < 0) return new ApiError(ServiceKind.Eps, StatusCodes.Status400BadRequest, "EPS.0018", "Invalid offset.");
        string? nameContains = null;
        foreach (var match in body.Matches ?? [])
        {
            if (match?.Key != "resource_name" || match.Value is not { Length: > 0 and <= 255 })
                return BadRequest("A match is {\"key\": \"resource_name\", \"value\": 1-255 characters}.");
            nameContains = match.Value;
        }

        // Projects of other accounts are not the caller's to see: they simply hold nothing.
        var own = projects.Where(p => p is not null).Select(p => accounts.FindProject(caller.User.Domain, p, null))
            .OfType<Project>().DistinctBy(p => p.Id).ToDictionary(p => p.Id);
        var rows = own.Count > 0 ? [.. await images.ListInEnterpriseProjectAsync(own.Keys.ToArray(), enterprise_project_id, ct)] : new List<ImageRow>();
        if (nameContains is not null) rows = rows.FindAll(r => r.Name.Contains(nameContains, StringComparison.Ordinal));
        var page = rows.Skip(offset).Take(limit).ToList();
        var region = options.Value.EffectiveRegion;
        return new JsonWriterResult(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("resources");
            foreach (var image in page)
            {
                w.WriteStartObject();
                w.WriteString("enterprise_project_id", image.EnterpriseProjectId);
                w.WriteString("project_id", image.Owner);
                w.WriteString("project_name", own[image.Owner].Name);
                w.WriteStartObject("resource_detail");
                w.WriteString("status", image.Status);
                w.WriteString("region_id", region);
                w.WriteEndObject();
                w.WriteString("resource_id", image.Id);
                w.WriteString("resource_name", image.Name);
                w.WriteString("resource_type", ImagesType);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("errors");
            w.WriteEndArray();
            w.WriteNumber("total_count", rows.Count);
            w.WriteEndObject();
        });
    }

    private static ApiError BadRequest(string detail) => ApiError.BadBody(ServiceKind.Eps, detail);

    private static ApiError NotFound(string resourceId) =>
        ApiError.NotFound(ServiceKind.Eps, $"Requested resources not found: no image {resourceId} in that project.");

    private sealed record MigrateRequest
    {
        [JsonPropertyName("resource_type")] public string? ResourceType { get; init; }
        [JsonPropertyName("resource_id")] public string? ResourceId { get; init; }
        [JsonPropertyName("project_id")] public string? ProjectId { get; init; }
        [JsonPropertyName("region_id")] public string? RegionId { get; init; }
        [JsonPropertyName("associated")] public bool? Associated { get; init; }
    }

    private sealed record FilterRequest
    {
        [JsonPropertyName("projects")] public List<string?>? Projects { get; init; }
        [JsonPropertyName("resource_types")] public List<string?>? ResourceTypes { get; init; }
        [JsonPropertyName("limit")] public int? Limit { get; init; }
        [JsonPropertyName("offset")] public int? Offset { get; init; }
        [JsonPropertyName("matches")] public List<MatchRequest?>? Matches { get; init; }
    }

    private sealed record MatchRequest
    {
        [JsonPropertyName("key")] public string? Key { get; init; }
        [JsonPropertyName("value")] public string? Value { get; init; }
    }
}
