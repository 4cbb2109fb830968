using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ims.Tests.Infrastructure;

public enum AuthMode
{
    /// <summary>X-Auth-Token from our IAM endpoint (terraform, curl).</summary>
    Token,
    /// <summary>SDK-HMAC-SHA256 with <c>Access=</c> (Huawei SDK v3).</summary>
    AkSk,
    /// <summary>SDK-HMAC-SHA256 with <c>Credential=</c> (gophertelekomcloud).</summary>
    AkSkCredential,
}

public sealed record ApiResponse(HttpStatusCode Status, string Body, HttpResponseHeaders Headers)
{
    private JsonNode? _json;

    public int Code => (int)Status;

    public JsonNode Json => _json ??= JsonNode.Parse(Body) ?? throw new InvalidOperationException("empty body");

    public JsonNode this[string name] => Json[name] ?? throw new KeyNotFoundException($"'{name}' missing in {Body}");

    public ApiResponse Expect(int status)
    {
        Assert.True(Code == status, $"expected HTTP {status}, got {Code}: {Body}");
        return this;
    }

    /// <summary>Asserts an IMS-shaped error body.</summary>
    public void ExpectImsError(int status, string code)
    {
        Expect(status);
        Assert.Equal(code, (string?)Json["error"]?["code"]);
        Assert.False(string.IsNullOrEmpty((string?)Json["error"]?["message"]));
    }
}

/// <summary>A client of the running service acting as one tenant, with either kind of credentials.</summary>
public sealed class ApiClient(Uri baseAddress, TestTenant tenant, AuthMode mode) : IDisposable
{
    private static readonly HttpClient Http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(1) })
    {
        Timeout = TimeSpan.FromSeconds(60),
    };

    private string? _token;

    public TestTenant Tenant { get; } = tenant;
    public string ProjectId => Tenant.ProjectId;
    public Uri BaseAddress { get; } = baseAddress;

    public Task<ApiResponse> GetAsync(string path) => SendAsync(HttpMethod.Get, path);
    public Task<ApiResponse> PostAsync(string path, object? body) => SendAsync(HttpMethod.Post, path, body);
    public Task<ApiResponse> PutAsync(string path, object? body) => SendAsync(HttpMethod.Put, path, body);
    public Task<ApiResponse> DeleteAsync(string path, object? body = null) => SendAsync(HttpMethod.Delete, path, body);

    /// <summary>Sends a request; <paramref name="body"/> is JSON-serialised, or sent verbatim when it is a string or bytes.</summary>
    public async Task<ApiResponse> SendAsync(HttpMethod method, string path, object? body = null, string? contentType = "application/json")
    {
        using var request = new HttpRequestMessage(method, new Uri(BaseAddress, path));
        byte[] bytes = body switch
        {
            null => [],
            string raw => Encoding.UTF8.GetBytes(raw),
            byte[] raw => raw,
            _ => JsonSerializer.SerializeToUtf8Bytes(body),
        };
        if (body is not null)
        {
            request.Content = new ByteArrayContent(bytes);
            if (contentType is not null) request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }
        if (mode == AuthMode.Token)
        {
            request.Headers.TryAddWithoutValidation("X-Auth-Token", await TokenAsync());
        }
        else
        {
            request.Headers.TryAddWithoutValidation("X-Project-Id", Tenant.ProjectId);
            ClientSigner.Sign(request, bytes, Tenant.AccessKey, Tenant.SecretKey, DateTime.UtcNow,
                mode == AuthMode.AkSkCredential ? Tenant.ProjectName : null);
        }
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.Headers.Contains("X-Request-Id"), $"{method} {path} answered without X-Request-Id");
        return new ApiResponse(response.StatusCode, text, response.Headers);
    }

    public async Task<string> TokenAsync()
    {
        if (_token is not null) return _token;
        var response = await IssueTokenAsync(BaseAddress, Tenant.UserName, Tenant.Password, Tenant.DomainName, Tenant.ProjectId);
        response.Expect(201);
        _token = response.Headers.GetValues("X-Subject-Token").Single();
        return _token;
    }

    public static async Task<ApiResponse> IssueTokenAsync(Uri baseAddress, string user, string password, string domain, string projectId)
    {
        var body = new
        {
            auth = new
            {
                identity = new { methods = new[] { "password" }, password = new { user = new { name = user, password, domain = new { name = domain } } } },
                scope = new { project = new { id = projectId } },
            },
        };
        using var content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        using var response = await Http.PostAsync(new Uri(baseAddress, "/v3/auth/tokens"), content);
        return new ApiResponse(response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers);
    }

    /// <summary>Polls a job until it is SUCCESS or FAIL, with a deadline (never a fixed sleep).</summary>
    public async Task<JsonNode> WaitForJobAsync(string jobId, TimeSpan? timeout = null)
    {
        JsonNode? last = null;
        await Poll.UntilAsync(async () =>
        {
            var job = (await GetAsync($"/v1/{ProjectId}/jobs/{jobId}")).Expect(200);
            last = job.Json;
            return (string?)last["status"] is "SUCCESS" or "FAIL";
        }, timeout ?? TimeSpan.FromSeconds(30), $"job {jobId} to finish");
        return last!;
    }

    /// <summary>Polls a job and asserts that it succeeded.</summary>
    public async Task<JsonNode> WaitForJobSuccessAsync(string jobId, TimeSpan? timeout = null)
    {
        var job = await WaitForJobAsync(jobId, timeout);
        Assert.True((string?)job["status"] == "SUCCESS", $"job {jobId} ended: {job.ToJsonString()}");
        return job;
    }

    public void Dispose() { }
}
