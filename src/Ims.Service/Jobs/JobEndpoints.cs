using System.Text.Json;
using System.Text.Json.Nodes;
using Ims.Service.Auth;
using Ims.Service.Http;

namespace Ims.Service.Jobs;

/// <summary>
/// <c>GET /v1/{project_id}/jobs/{job_id}</c>, shared by IMS, ECS and EVS: job ids are unique across the service and
/// each job answers in the shape of its own kind.
/// </summary>
public static class JobEndpoints
{
    public static IEndpointRouteBuilder MapJobs(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/{project_id}/jobs/{job_id}", GetJob).ForService(ServiceKind.Ims);
        return app;
    }

    private static async Task<IResult> GetJob(string job_id, Caller caller, JobQueue queue, HttpContext http)
    {
        var job = await queue.FindAsync(caller.ProjectId, job_id, http.RequestAborted);
        if (job is null)
            return ApiError.Ims("IMG.0031", "The resource ID in the request is incorrect.", StatusCodes.Status404NotFound);
        return new JsonWriterResult(w => JobWire.Write(w, job));
    }
}

/// <summary>The wire shape of a job (identical keys for IMS, ECS and EVS; entities differ by kind).</summary>
public static class JobWire
{
    public static void Write(Utf8JsonWriter writer, JobRow job)
    {
        writer.WriteStartObject();
        writer.WriteString("status"u8, job.Status);
        writer.WritePropertyName("entities"u8);
        if (job.Service == "ecs" && job.Entities.Contains("\"sub_jobs\"", StringComparison.Ordinal)
            || job.Service == "ims" && job.Entities.Contains("\"sub_jobs_result\"", StringComparison.Ordinal))
            MirrorSubJobs(job).WriteTo(writer);
        else
            writer.WriteRawValue(job.Entities, skipInputValidation: true);
        writer.WriteString("job_id"u8, job.Id);
        writer.WriteString("job_type"u8, job.JobType);
        writer.WriteString("begin_time"u8, WireTime.Millis(job.BeginTime));
        WriteNullable(writer, "end_time", job.EndTime is { } end ? WireTime.Millis(end) : null);
        WriteNullable(writer, "error_code", job.ErrorCode);
        WriteNullable(writer, "fail_reason", job.FailReason);
        writer.WriteEndObject();
    }

    /// <summary>ECS sub-jobs (and IMS's, <c>sub_jobs_result</c>) run in lockstep with their parent here, so they report the parent's state.</summary>
    private static JsonObject MirrorSubJobs(JobRow job)
    {
        var entities = JsonNode.Parse(job.Entities)!.AsObject();
        if ((entities["sub_jobs"] ?? entities["sub_jobs_result"]) is JsonArray subJobs)
        {
            foreach (var sub in subJobs.OfType<JsonObject>())
            {
                sub["status"] = job.Status;
                sub["begin_time"] = WireTime.Millis(job.BeginTime);
                sub["end_time"] = job.EndTime is { } end ? WireTime.Millis(end) : null;
                sub["error_code"] = job.ErrorCode;
                sub["fail_reason"] = job.FailReason;
            }
        }
        return entities;
    }

    private static void WriteNullable(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is null) writer.WriteNull(name);
        else writer.WriteString(name, value);
    }
}
