using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ims.Tests.Infrastructure;

/// <summary>
/// A client of the admin fault-injection API (<c>/admin/v1/faults</c>). It sends no cloud credentials: the admin API
/// lets loopback callers in, or callers with the admin token when the host has one. For any test of a FAIL path.
/// </summary>
public sealed class Faults(Uri baseAddress, string? adminToken = null)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(60) };

    public const string Path = "/admin/v1/faults";

    /// <summary>Sends a request; <paramref name="body"/> is JSON-serialised, or sent verbatim when it is a string.</summary>
    public async Task<ApiResponse> SendAsync(HttpMethod method, string path, object? body = null,
        IDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(baseAddress, path));
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body is string raw ? Encoding.UTF8.GetBytes(raw) : JsonSerializer.SerializeToUtf8Bytes(body));
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json");
        }
        if (adminToken is not null) request.Headers.TryAddWithoutValidation("X-Admin-Token", adminToken);
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
            request.Headers.TryAddWithoutValidation(name, value);
        using var response = await Http.SendAsync(request);
        return new ApiResponse(response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers);
    }

    /// <summary>Creates a rule and returns it.</summary>
    public async Task<JsonNode> CreateAsync(object rule) =>
        (await SendAsync(HttpMethod.Post, Path, rule)).Expect(201)["fault"];

    public async Task<JsonNode> GetAsync(string id) =>
        (await SendAsync(HttpMethod.Get, $"{Path}/{id}")).Expect(200)["fault"];

    public async Task DeleteAsync(string id) => (await SendAsync(HttpMethod.Delete, $"{Path}/{id}")).Expect(204);

    /// <summary>Removes every rule.</summary>
    public async Task ClearAsync() => (await SendAsync(HttpMethod.Delete, Path)).Expect(204);
}

public static class AdminErrors
{
    /// <summary>Asserts the admin API's error shape, the API gateway's <c>{"error_code","error_msg","request_id"}</c>.</summary>
    public static void ExpectAdminError(this ApiResponse response, int status, string code)
    {
        response.Expect(status);
        Assert.True(code == (string?)response.Json["error_code"], $"expected {code}: {response.Body}");
        Assert.False(string.IsNullOrEmpty((string?)response.Json["error_msg"]), response.Body);
        Assert.False(string.IsNullOrEmpty((string?)response.Json["request_id"]), response.Body);
    }
}
