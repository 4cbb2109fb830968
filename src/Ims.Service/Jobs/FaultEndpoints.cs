using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Ims.Service.Http;
using Ims.Service.Ims;

namespace Ims.Service.Jobs;

/// <summary>
/// <c>/admin/v1/faults</c>: rules that make chosen jobs fail at a step with a chosen error code, or run slower
/// (<see cref="JobFaults"/>). An admin API outside the cloud API, for client authors testing their failure paths.
/// </summary>
public static partial class FaultEndpoints
{
    public const long MaxDelayMs = 600_000;
    private const int MaxMessageLength = 1024;
    private const int MaxIdLength = 255;

    public static IEndpointRouteBuilder MapFaults(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/admin/v1/faults").AdminOnly();
        group.MapPost("", CreateFault);
        group.MapGet("", ListFaults);
        group.MapGet("/{fault_id}", GetFault);
        group.MapDelete("/{fault_id}", DeleteFault);
        group.MapDelete("", DeleteAllFaults);
        return app;
    }

    private static async Task<IResult> CreateFault(JobFaults faults, IEnumerable<JobHandler> handlers, TimeProvider time, HttpContext http)
    {
        var (body, error) = await JsonBody.ReadAsync<FaultRequest>(http, ServiceKind.Admin);
        if (error is not null) return error;
        if (Validate(body!, handlers.ToList()) is { } invalid) return invalid;

        var id = Ids.NewUuid();
        var rule = new FaultRule
        {
            Id = id,
            JobType = body!.JobType,
            ResourceId = body.ResourceId,
            Step = body.Step,
            ErrorCode = body.ErrorCode,
            // An IMS code reads as the real service words it; other services' codes get a traceable reason.
            Message = body.ErrorCode is null ? null
                : body.Message ?? (body.ErrorCode.StartsWith("IMG.", StringComparison.Ordinal)
                    ? ImsErrors.MessageOf(body.ErrorCode)
                    : $"Fault injected by rule {id}."),
            DelayMs = body.DelayMs ?? 0,
            Remaining = body.Count,
            CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };
        await faults.InsertAsync(rule, http.RequestAborted);
        return TypedResults.Created($"/admin/v1/faults/{id}", new FaultResponse(View(rule, [])));
    }

    private static async Task<IResult> ListFaults(JobFaults faults, HttpContext http)
    {
        var rules = await faults.ListAsync(http.RequestAborted);
        var chosen = await faults.ChosenJobsAsync(rules.Select(r => r.Id).ToList(), http.RequestAborted);
        return TypedResults.Json(new FaultListResponse(rules.Select(r => View(r, chosen[r.Id])).ToList()));
    }

    private static async Task<IResult> GetFault(string fault_id, JobFaults faults, HttpContext http)
    {
        var rule = await faults.FindAsync(fault_id, http.RequestAborted);
        if (rule is null) return NotFound(fault_id);
        var chosen = await faults.ChosenJobsAsync([rule.Id], http.RequestAborted);
        return TypedResults.Json(new FaultResponse(View(rule, chosen[rule.Id])));
    }

    private static async Task<IResult> DeleteFault(string fault_id, JobFaults faults, HttpContext http) =>
        await faults.DeleteAsync(fault_id, http.RequestAborted) ? TypedResults.NoContent() : NotFound(fault_id);

    private static async Task<IResult> DeleteAllFaults(JobFaults faults, HttpContext http)
    {
        await faults.DeleteAsync(null, http.RequestAborted);
        return TypedResults.NoContent();
    }

    private static ApiError? Validate(FaultRequest body, List<JobHandler> handlers)
    {
        if (body.JobType is not null && handlers.All(h => h.JobType != body.JobType))
            return Invalid($"job_type [{body.JobType}] is not a job type of this service; known: {Quoted(handlers.Select(h => h.JobType))}.");
        if (body.ResourceId is { Length: 0 or > MaxIdLength })
            return Invalid($"resource_id must have 1 to {MaxIdLength} characters (leave it out to match any resource).");
        if (body.Step is not null)
        {
            var scope = handlers.Where(h => body.JobType is null || h.JobType == body.JobType).ToList();
            if (!scope.Any(h => h.Steps.Any(s => s.Name == body.Step)))
                return Invalid(body.JobType is null
                    ? $"step [{body.Step}] is not a step of any job type."
                    : $"step [{body.Step}] is not a step of {body.JobType}; its steps: {Quoted(scope.SelectMany(h => h.Steps).Select(s => s.Name))}.");
        }
        if (body.ErrorCode is not null && !ErrorCodePattern().IsMatch(body.ErrorCode))
            return Invalid("error_code must be a service error code such as IMG.0014 or Ecs.0002: letters, a dot and four digits.");
        if (body.Message is not null)
        {
            if (body.ErrorCode is null) return Invalid("message needs an error_code: a rule without one only slows jobs.");
            if (body.Message.Length is 0 or > MaxMessageLength) return Invalid($"message must have 1 to {MaxMessageLength} characters.");
        }
        if (body.Count is < 1) return Invalid("count must be at least 1 (leave it out to choose every matching job).");
        if (body.DelayMs is < 0 or > MaxDelayMs) return Invalid($"delay_ms must be between 0 and {MaxDelayMs}.");
        if (body.ErrorCode is null && (body.DelayMs ?? 0) == 0)
            return Invalid("A rule needs an error_code, a delay_ms above 0, or both.");
        return null;
    }

    private static string Quoted(IEnumerable<string> names) => string.Join(", ", names.Distinct().Order(StringComparer.Ordinal).Select(n => $"[{n}]"));

    private static ApiError Invalid(string message) => ApiError.BadBody(ServiceKind.Admin, message);

    private static ApiError NotFound(string id) => ApiError.NotFound(ServiceKind.Admin, $"Fault rule {id} does not exist.");

    private static FaultView View(FaultRule rule, IEnumerable<string> jobIds) => new(
        rule.Id, rule.JobType, rule.ResourceId, rule.Step, rule.ErrorCode, rule.Message, rule.DelayMs, rule.Remaining,
        WireTime.Millis(rule.CreatedAt), jobIds.ToList());

    [GeneratedRegex("^[A-Za-z]+\\.[0-9]{4}$")]
    private static partial Regex ErrorCodePattern();

    /// <summary>A typo in a matcher would silently widen the rule to every job, so unknown members are refused.</summary>
    [JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
    private sealed record FaultRequest(
        [property: JsonPropertyName("job_type")] string? JobType,
        [property: JsonPropertyName("resource_id")] string? ResourceId,
        [property: JsonPropertyName("step")] string? Step,
        [property: JsonPropertyName("error_code")] string? ErrorCode,
        [property: JsonPropertyName("message")] string? Message,
        [property: JsonPropertyName("count")] int? Count,
        [property: JsonPropertyName("delay_ms")] long? DelayMs);

    private sealed record FaultResponse([property: JsonPropertyName("fault")] FaultView Fault);

    private sealed record FaultListResponse([property: JsonPropertyName("faults")] List<FaultView> Faults);

    /// <summary>A rule as the admin API shows it; <c>job_ids</c> are the jobs it has chosen so far.</summary>
    private sealed record FaultView(
        [property: JsonPropertyName("id")] string Id,
        [property: JsonPropertyName("job_type")] string? JobType,
        [property: JsonPropertyName("resource_id")] string? ResourceId,
        [property: JsonPropertyName("step")] string? Step,
        [property: JsonPropertyName("error_code")] string? ErrorCode,
        [property: JsonPropertyName("message")] string? Message,
        [property: JsonPropertyName("delay_ms")] long DelayMs,
        [property: JsonPropertyName("remaining")] long? Remaining,
        [property: JsonPropertyName("created_at")] string CreatedAt,
        [property: JsonPropertyName("job_ids")] List<string> JobIds);
}
