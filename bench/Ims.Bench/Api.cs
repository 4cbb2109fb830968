using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ims.Bench;

/// <summary>The default account of src/Ims.Service/accounts.json (local development credentials, not secrets).</summary>
internal static class DefaultAccount
{
    public const string Domain = "local";
    public const string User = "admin";
    public const string Password = "ims-local-password";
    public const string ProjectId = "0b1e494e2660441a957313163095fe5c";
}

/// <summary>A failure that ends the run with a message rather than a stack trace.</summary>
internal sealed class BenchFailure(string message) : Exception(message);

/// <summary>
/// The populating client: plain JSON calls as terraform makes them, checked strictly, since a wrong answer would make
/// every figure after it meaningless. Not used for measuring.
/// </summary>
internal sealed class Api(HttpClient http, string token)
{
    public static readonly TimeSpan PollLimit = TimeSpan.FromSeconds(120);

    public string ProjectId => DefaultAccount.ProjectId;

    public static async Task<string> IssueTokenAsync(HttpClient http, CancellationToken ct)
    {
        var body = new
        {
            auth = new
            {
                identity = new
                {
                    methods = new[] { "password" },
                    password = new { user = new { name = DefaultAccount.User, password = DefaultAccount.Password, domain = new { name = DefaultAccount.Domain } } },
                },
                scope = new { project = new { id = DefaultAccount.ProjectId } },
            },
        };
        using var content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        using var response = await http.PostAsync("/v3/auth/tokens", content, ct);
        if (response.StatusCode != HttpStatusCode.Created || !response.Headers.TryGetValues("X-Subject-Token", out var tokens))
            throw new BenchFailure($"POST /v3/auth/tokens answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
        return tokens.Single();
    }

    public Task<JsonNode> GetAsync(string path, CancellationToken ct) => SendAsync(HttpMethod.Get, path, null, 200, ct);

    public Task<JsonNode> PostAsync(string path, object body, int expected, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, path, body, expected, ct);

    private async Task<JsonNode> SendAsync(HttpMethod method, string path, object? body, int expected, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.TryAddWithoutValidation("X-Auth-Token", token);
        if (body is not null)
            request.Content = new StringContent(body as string ?? JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        using var response = await http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if ((int)response.StatusCode != expected)
            throw new BenchFailure($"{method} {path} answered {(int)response.StatusCode}, expected {expected}: {text}");
        return JsonNode.Parse(text) ?? throw new BenchFailure($"{method} {path} answered an empty body.");
    }

    /// <summary>Polls a job until SUCCESS; FAIL or the poll limit ends the run.</summary>
    public async Task<JsonNode> WaitForJobAsync(string jobId, CancellationToken ct)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(PollLimit.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var job = await GetAsync($"/v1/{ProjectId}/jobs/{jobId}", ct);
            switch ((string?)job["status"])
            {
                case "SUCCESS": return job;
                case "FAIL": throw new BenchFailure($"Job {jobId} failed: {job.ToJsonString()}");
            }
            if (Stopwatch.GetTimestamp() > deadline) throw new BenchFailure($"Job {jobId} did not finish within {PollLimit.TotalSeconds:0} s.");
            await Task.Delay(10, ct);
        }
    }
}
