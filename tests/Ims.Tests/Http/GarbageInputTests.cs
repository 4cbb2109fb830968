using System.Text.RegularExpressions;
using Ims.Tests.Infrastructure;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Ims.Tests.Http;

/// <summary>
/// Every route the service maps, called with malformed and wrongly typed bodies and odd path values, by an
/// authenticated caller: each answer is a 4xx (or a success) with a JSON error body, never a 5xx.
/// </summary>
public sealed partial class GarbageInputTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private static readonly string?[] Bodies =
    [
        null, "", "{", "[]", "null", "42", "\"text\"", "{\"a\":1}", "[{\"op\":\"replace\"}]",
        "{\"name\":123,\"size\":\"ten\",\"server\":[],\"volume\":\"x\",\"vault\":1,\"checkpoint\":{\"parameters\":7}}",
        "{\"images\":\"x\",\"projects\":{},\"tags\":5,\"action\":[],\"delete_backup\":\"yes\"}",
    ];

    private static readonly string[] PathValues = ["0", "not-a-uuid", "00000000-0000-0000-0000-000000000000", "%20", "x.y"];

    [Fact]
    public async Task No_route_answers_garbage_with_a_server_error()
    {
        var client = fixture.Service.Client(TestAccounts.Alice);
        var routes = fixture.Service.App.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .OfType<RouteEndpoint>()
            .Select(e => (Pattern: e.RoutePattern.RawText ?? "", Methods: e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? []))
            .Where(r => r.Methods.Count > 0 && !r.Pattern.Contains('*', StringComparison.Ordinal))
            .ToList();
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
                        if (response.Code >= 500) failures.Add($"{method} {path} [{body}] -> {response.Code} {response.Body}");
                        else if (response.Code >= 400 && !response.Body.TrimStart().StartsWith('{'))
                            failures.Add($"{method} {path} [{body}] -> {response.Code} without a JSON body: {response.Body}");
                    }
                }
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {calls} calls failed:\n{string.Join("\n", failures.Take(30))}");
    }

    [GeneratedRegex(@"\{([a-z_]+)\}")]
    private static partial Regex Parameter();
}
