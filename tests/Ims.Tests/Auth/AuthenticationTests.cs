using System.Net.Http.Headers;
using System.Text;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Auth;

public sealed class AuthenticationTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;

    [Fact]
    public async Task Password_token_is_issued_in_X_Subject_Token_and_validates()
    {
        var alice = TestAccounts.Alice;
        var issued = await ApiClient.IssueTokenAsync(Service.BaseAddress, alice.UserName, alice.Password, alice.DomainName, alice.ProjectId);
        issued.Expect(201);
        var token = issued.Headers.GetValues("X-Subject-Token").Single();
        Assert.Equal(alice.ProjectId, (string?)issued["token"]["project"]!["id"]);
        Assert.EndsWith("Z", (string?)issued["token"]["expires_at"]);

        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Service.BaseAddress, "/v3/auth/tokens"));
        request.Headers.Add("X-Auth-Token", token);
        request.Headers.Add("X-Subject-Token", token);
        using var response = await http.SendAsync(request);
        Assert.Equal(200, (int)response.StatusCode);
    }

    [Fact]
    public async Task Wrong_password_gets_401()
    {
        var alice = TestAccounts.Alice;
        var issued = await ApiClient.IssueTokenAsync(Service.BaseAddress, alice.UserName, "wrong", alice.DomainName, alice.ProjectId);
        issued.Expect(401);
        Assert.Equal(401, (int?)issued["error"]["code"]);
    }

    [Fact]
    public async Task Token_cannot_be_scoped_to_another_accounts_project()
    {
        var alice = TestAccounts.Alice;
        var issued = await ApiClient.IssueTokenAsync(Service.BaseAddress, alice.UserName, alice.Password, alice.DomainName, TestAccounts.Bob.ProjectId);
        issued.Expect(401);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("[]")]
    [InlineData("""{"auth":{"identity":{"methods":"password"}}}""")]
    [InlineData("""{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"alice","password":"alice-password"}}}}}""")]
    public async Task Malformed_token_requests_get_400_in_keystone_shape(string body)
    {
        using var http = new HttpClient();
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(new Uri(Service.BaseAddress, "/v3/auth/tokens"), content);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(400, (int)response.StatusCode);
        Assert.Contains("\"error\"", text, StringComparison.Ordinal);
        Assert.True(response.Headers.Contains("X-Request-Id"));
    }

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    [InlineData(AuthMode.AkSkCredential)]
    public async Task Every_auth_mode_reaches_the_callers_project(AuthMode mode)
    {
        var client = Service.Client(TestAccounts.Alice, mode);
        var response = await client.GetAsync($"/v1/{client.ProjectId}/jobs/{Guid.NewGuid():N}");
        response.ExpectImsError(404, "IMG.0031");
    }

    [Fact]
    public async Task Missing_credentials_get_the_gateway_401()
    {
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(Service.BaseAddress, $"/v1/{TestAccounts.Alice.ProjectId}/jobs/x"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(401, (int)response.StatusCode);
        Assert.Contains("\"error_code\":\"APIGW.0301\"", body, StringComparison.Ordinal);
        Assert.Contains("\"request_id\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_forged_token_gets_401()
    {
        var token = await Service.Client(TestAccounts.Alice).TokenAsync();
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Service.BaseAddress, $"/v1/{TestAccounts.Alice.ProjectId}/jobs/x"));
        request.Headers.Add("X-Auth-Token", token[..^3] + "AAA");
        using var response = await http.SendAsync(request);
        Assert.Equal(401, (int)response.StatusCode);
    }

    [Fact]
    public async Task A_tampered_body_breaks_the_signature()
    {
        var alice = TestAccounts.Alice;
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Service.BaseAddress, "/v3/projects"));
        request.Headers.Add("X-Project-Id", alice.ProjectId);
        request.Content = new ByteArrayContent("{\"name\":\"b\"}"u8.ToArray());
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json");
        ClientSigner.Sign(request, "{\"name\":\"a\"}"u8.ToArray(), alice.AccessKey, alice.SecretKey, DateTime.UtcNow);
        using var http = new HttpClient();
        using var response = await http.SendAsync(request);
        Assert.Equal(401, (int)response.StatusCode);
    }

    [Fact]
    public async Task A_signature_older_than_15_minutes_gets_401()
    {
        var alice = TestAccounts.Alice;
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Service.BaseAddress, $"/v1/{alice.ProjectId}/jobs/x"));
        request.Headers.Add("X-Project-Id", alice.ProjectId);
        ClientSigner.Sign(request, [], alice.AccessKey, alice.SecretKey, DateTime.UtcNow.AddMinutes(-16));
        using var http = new HttpClient();
        using var response = await http.SendAsync(request);
        Assert.Equal(401, (int)response.StatusCode);
    }

    [Fact]
    public async Task A_signature_for_another_accounts_project_gets_401()
    {
        var alice = TestAccounts.Alice;
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Service.BaseAddress, $"/v1/{TestAccounts.Bob.ProjectId}/jobs/x"));
        request.Headers.Add("X-Project-Id", TestAccounts.Bob.ProjectId);
        ClientSigner.Sign(request, [], alice.AccessKey, alice.SecretKey, DateTime.UtcNow);
        using var http = new HttpClient();
        using var response = await http.SendAsync(request);
        Assert.Equal(401, (int)response.StatusCode);
    }

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task A_foreign_project_in_the_path_gets_403(AuthMode mode)
    {
        var response = await Service.Client(TestAccounts.Alice, mode).GetAsync($"/v1/{TestAccounts.Bob.ProjectId}/jobs/{Guid.NewGuid():N}");
        response.ExpectImsError(403, "IMG.0030");
    }

    [Fact]
    public async Task Unknown_routes_get_the_gateway_404()
    {
        var response = await Service.Client(TestAccounts.Alice).GetAsync("/v9/nothing/here");
        response.Expect(404);
        Assert.Equal("APIGW.0101", (string?)response["error_code"]);
    }

    [Fact]
    public async Task Oversized_bodies_get_413_not_500()
    {
        // The service answers as soon as it sees the declared length, so the client sends only the headers.
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(Service.BaseAddress.Host, Service.BaseAddress.Port);
        var stream = tcp.GetStream();
        var head = $"POST /v3/auth/tokens HTTP/1.1\r\nHost: {Service.BaseAddress.Authority}\r\nContent-Type: application/json\r\nContent-Length: {13 * 1024 * 1024}\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        var buffer = new byte[4096];
        var read = await stream.ReadAsync(buffer);
        var text = Encoding.ASCII.GetString(buffer, 0, read);
        Assert.StartsWith("HTTP/1.1 413", text, StringComparison.Ordinal);
        Assert.Contains("X-Request-Id", text, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// A client that sends its whole 13 MB body before it reads the answer (the Python SDK, terraform) reads the 413, with
    /// either kind of credentials: the service reads and discards the rest of the body instead of resetting the
    /// connection under the client's feet (a broken pipe, no answer at all).
    /// </summary>
    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task A_client_that_streams_a_13_MB_body_reads_the_413(AuthMode mode)
    {
        var alice = TestAccounts.Alice;
        var body = new byte[13 * 1024 * 1024];
        Array.Fill(body, (byte)' ');
        body[0] = (byte)'{';
        body[^1] = (byte)'}';
        var uri = new Uri(Service.BaseAddress, "/v1/cloudimages/wholeimages/action");
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json");
        if (mode == AuthMode.Token) request.Headers.TryAddWithoutValidation("X-Auth-Token", await Service.Client(alice).TokenAsync());
        else
        {
            request.Headers.TryAddWithoutValidation("X-Project-Id", alice.ProjectId);
            ClientSigner.Sign(request, body, alice.AccessKey, alice.SecretKey, DateTime.UtcNow);
        }
        var head = new StringBuilder($"POST {uri.PathAndQuery} HTTP/1.1\r\nHost: {uri.Authority}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n");
        foreach (var (name, values) in request.Headers) head.Append(name).Append(": ").Append(string.Join(",", values)).Append("\r\n");
        head.Append("\r\n");

        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(uri.Host, uri.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()));
        for (var offset = 0; offset < body.Length; offset += 64 * 1024)
            await stream.WriteAsync(body.AsMemory(offset, Math.Min(64 * 1024, body.Length - offset)));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var answer = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.StartsWith("HTTP/1.1 413", answer, StringComparison.Ordinal);
        Assert.Contains("\"error_code\":\"APIGW.0413\"", answer, StringComparison.Ordinal);
    }
}
