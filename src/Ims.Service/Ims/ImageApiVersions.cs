using Ims.Service.Http;

namespace Ims.Service.Ims;

/// <summary>
/// Version discovery of the image API, as IMS documents it ("Querying API Versions", "Querying an API Version") and as
/// Glance answers it: the catalog's <c>image</c> URL has no version, so openstacksdk, the <c>openstack</c> and
/// <c>glance</c> CLIs and the Huawei SDK's <c>list_versions</c> read <c>GET /</c> and follow the link of the version
/// they support. <c>GET /</c> and <c>GET /v2</c> answer 300 (Multiple Choices) as documented, Glance's
/// <c>GET /versions</c> 200. None needs credentials.
/// </summary>
public static class ImageApiVersions
{
    /// <summary>The versions IMS lists, newest first: id, status and the path its link names.</summary>
    private static readonly (string Id, string Status, string Path)[] Versions =
    [
        ("v2.2", "CURRENT", "/v2/"),
        ("v2.1", "SUPPORTED", "/v2/"),
        ("v2.0", "SUPPORTED", "/v2/"),
        ("v1.1", "DEPRECATED", "/v1/"),
        ("v1.0", "DEPRECATED", "/v1/"),
    ];

    public static IEndpointRouteBuilder MapImageApiVersions(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("").ForService(ServiceKind.Ims).AllowAnonymousCaller();
        group.MapGet("/", (HttpContext http) => Document(http, Versions));
        // The current version alone: what GET /{version} answers for the version clients use.
        group.MapGet("/v2", (HttpContext http) => Document(http, Versions[..1]));
        // Glance's own listing, which the glance CLI reads before anything else: the same document, 200.
        group.MapGet("/versions", (HttpContext http) => Document(http, Versions, StatusCodes.Status200OK));
        return app;
    }

    private static JsonWriterResult Document(HttpContext http, IEnumerable<(string Id, string Status, string Path)> versions,
        int status = StatusCodes.Status300MultipleChoices)
    {
        var root = $"{http.Request.Scheme}://{http.Request.Host}";
        return new JsonWriterResult(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("versions");
            foreach (var (id, status, path) in versions)
            {
                w.WriteStartObject();
                w.WriteString("status", status);
                w.WriteString("id", id);
                w.WriteStartArray("links");
                w.WriteStartObject();
                w.WriteString("href", root + path);
                w.WriteString("rel", "self");
                w.WriteEndObject();
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }, status);
    }
}
