using Ims.Service.Http;

namespace Ims.Service.Iam;

/// <summary>
/// Keystone's <c>GET /v3</c>, as Huawei IAM answers it: the one identity version, with the self link clients
/// authenticate against. keystoneauth reads it first when given an <c>auth_url</c> ending in <c>/v3</c>. No credentials.
/// </summary>
public static class IdentityVersion
{
    public static IEndpointRouteBuilder MapIdentityVersion(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v3", Document).ForService(ServiceKind.Iam).AllowAnonymousCaller();
        return app;
    }

    private static JsonWriterResult Document(HttpContext http)
    {
        var self = $"{http.Request.Scheme}://{http.Request.Host}/v3/";
        return new JsonWriterResult(w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("version");
            w.WriteStartArray("media-types");
            w.WriteStartObject();
            w.WriteString("type", "application/vnd.openstack.identity-v3+json");
            w.WriteString("base", "application/json");
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteStartArray("links");
            w.WriteStartObject();
            w.WriteString("rel", "self");
            w.WriteString("href", self);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteString("id", "v3.6");
            w.WriteString("updated", "2016-04-04T00:00:00Z");
            w.WriteString("status", "stable");
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }
}
