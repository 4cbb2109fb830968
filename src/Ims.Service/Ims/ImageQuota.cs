using Ims.Service.Auth;
using Ims.Service.Hosting;
using Ims.Service.Http;
using Microsoft.Extensions.Options;

namespace Ims.Service.Ims;

/// <summary>
/// The private-image quota (spec §4.8): what <c>GET /v1/cloudimages/quota</c> reports and what creating an image
/// enforces (<c>IMG.0015</c>) are the same count, <see cref="ImageStore.CountQuotaAsync(string, CancellationToken)"/>. An image counts from the moment its create request is accepted
/// (<c>queued</c>, <c>saving</c>) while it lives (<c>active</c>); a failed (<c>killed</c>) or deleted one does not.
/// </summary>
public static class ImageQuota
{
    /// <summary>The documented upper bound of the quota a tenant can be given; a larger configured quota raises it.</summary>
    public const int DocumentedMax = 1000;

    public static IEndpointRouteBuilder MapImageQuota(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/v1/cloudimages").ForService(ServiceKind.Ims).MapGet("/quota", ShowQuota);
        return app;
    }

    /// <summary>Only the <c>image</c> resource is reported: the reference page's example lists no other.</summary>
    private static async Task<IResult> ShowQuota(HttpContext http, Caller caller, ImageStore images, IOptions<ServiceOptions> options)
    {
        var quota = options.Value.ImageQuota;
        var used = await images.CountQuotaAsync(caller.ProjectId, http.RequestAborted);
        return new JsonWriterResult(w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("quotas");
            w.WriteStartArray("resources");
            w.WriteStartObject();
            w.WriteString("type", "image");
            w.WriteNumber("used", used);
            w.WriteNumber("quota", quota);
            w.WriteNumber("min", 1);
            w.WriteNumber("max", Math.Max(DocumentedMax, quota));
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }
}
