using System.Text.RegularExpressions;
using Ims.Tests.Infrastructure;
using Ims.Tests.Ims;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Ims.Tests.Http;

/// <summary>
/// Every route the service maps, called with malformed and wrongly typed bodies and odd path values, by an
/// authenticated caller: each answer is a 4xx (or a success) with a JSON error body, never a 5xx.
/// </summary>
public sealed partial class GarbageInputTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    /// <summary>
    /// Bodies that are not well-formed text: unpaired surrogate escapes (in a value, in a name, in a patch value) and
    /// bytes that are not UTF-8. The JSON parsers accept them and fail only when the string is read.
    /// </summary>
    private static readonly object[] MalformedText =
    [
        """[{"op":"replace","path":"/name","value":"\ud800"}]""",
        """[{"replace":"/name","value":"\udc00x"}]""",
        """{"name":"\ud800","description":"\udfff","backup_id":"\ud800","tags":["\ud800.x"],"chargingMode":"\ud800","limit":"\ud800"}""",
        """{"\ud800":1,"server":{"name":"\ud800","publicip":{"eip":"\ud800"},"os:scheduler_hints":{"x":"\udbff"}}}""",
        """{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"\ud800","password":"\ud800","domain":{"name":"\ud800"}}}}}}""",
        new byte[] { (byte)'{', (byte)'"', (byte)'n', (byte)'a', (byte)'m', (byte)'e', (byte)'"', (byte)':', (byte)'"', 0xff, 0xc0, 0xed, 0xa0, 0x80, (byte)'"', (byte)'}' },
    ];

    private static readonly object?[] Bodies =
    [
        null, "", "{", "[]", "null", "42", "\"text\"", "{\"a\":1}", "[{\"op\":\"replace\"}]",
        "{\"name\":123,\"size\":\"ten\",\"server\":[],\"volume\":\"x\",\"vault\":1,\"checkpoint\":{\"parameters\":7}}",
        "{\"images\":\"x\",\"projects\":{},\"tags\":5,\"action\":[],\"delete_backup\":\"yes\"}",
        .. MalformedText,
    ];

    private static readonly string[] PathValues = ["0", "not-a-uuid", "00000000-0000-0000-0000-000000000000", "%20", "x.y"];

    [Fact]
    public async Task No_route_answers_garbage_with_a_server_error()
    {
        var client = fixture.Service.Client(TestAccounts.Alice);
        var routes = Routes().ToList();
        Assert.True(routes.Count > 50, $"only {routes.Count} routes found");

        var failures = new List<string>();
        var calls = 0;
        foreach (var (pattern, methods) in routes)
        {
            foreach (var method in methods)
            {
                foreach (var value in PathValues)
                {
                    var path = Parameter().Replace(pattern, m => m.Groups[1].Value == "project_id" ? client.ProjectId : value);
                    if (!path.StartsWith('/')) path = "/" + path;
                    foreach (var body in method is "GET" ? Bodies.Take(1) : Bodies)
                    {
                        var response = await client.SendAsync(new HttpMethod(method), path, body);
                        calls++;
                        Check(failures, method, path, body, response);
                    }
                }
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {calls} calls failed:\n{string.Join("\n", failures.Take(30))}");
    }

    /// <summary>
    /// Malformed text sent to the routes of an image that exists (so no handler stops at "not found" before it reads
    /// the body): the update in both dialects, the tag calls, members, sharing, copy and export. Each is a 4xx, and the
    /// image keeps its name. Deletions run last.
    /// </summary>
    [Fact]
    public async Task Malformed_text_sent_to_an_existing_image_is_a_400_on_every_route()
    {
        var client = fixture.Service.Client(TestAccounts.Alice);
        var image = await TestImages.CreateAsync(fixture.Service, client);
        var routes = Routes()
            .Where(r => r.Pattern.Contains("{image_id}", StringComparison.Ordinal))
            .SelectMany(r => r.Methods.Select(m => (r.Pattern, Method: m)))
            .OrderBy(r => r.Method == "DELETE")
            .ToList();
        Assert.Contains(routes, r => r.Method == "PATCH" && r.Pattern == "/v2/cloudimages/{image_id}");

        var failures = new List<string>();
        foreach (var (pattern, method) in routes)
        {
            var path = Parameter().Replace(pattern, m => m.Groups[1].Value switch
            {
                "project_id" => client.ProjectId,
                "image_id" => image.Id(),
                _ => "x",
            });
            if (!path.StartsWith('/')) path = "/" + path;
            foreach (var body in MalformedText)
            {
                foreach (var contentType in method == "PATCH"
                    ? (string[])["application/json", "application/openstack-images-v2.1-json-patch", "application/openstack-images-v2.0-json-patch"]
                    : ["application/json"])
                {
                    var response = await client.SendAsync(new HttpMethod(method), path, body, contentType);
                    Check(failures, method, path, body, response);
                    if (method == "PATCH") Assert.True(response.Code == 400, $"PATCH {path} [{contentType}] -> {response.Code} {response.Body}");
                }
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} calls failed:\n{string.Join("\n", failures.Take(30))}");
    }

    private IEnumerable<(string Pattern, IReadOnlyList<string> Methods)> Routes() =>
        fixture.Service.App.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .OfType<RouteEndpoint>()
            .Select(e => (Pattern: e.RoutePattern.RawText ?? "", Methods: e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? []))
            .Where(r => r.Methods.Count > 0 && !r.Pattern.Contains('*', StringComparison.Ordinal));

    private static void Check(List<string> failures, string method, string path, object? body, ApiResponse response)
    {
        var shown = body is byte[] bytes ? Convert.ToHexString(bytes) : body;
        if (response.Code >= 500) failures.Add($"{method} {path} [{shown}] -> {response.Code} {response.Body}");
        else if (response.Code >= 400 && !response.Body.TrimStart().StartsWith('{'))
            failures.Add($"{method} {path} [{shown}] -> {response.Code} without a JSON body: {response.Body}");
    }

    [GeneratedRegex(@"\{([a-z_]+)\}")]
    private static partial Regex Parameter();
}
