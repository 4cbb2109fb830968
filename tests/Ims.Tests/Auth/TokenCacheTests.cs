using Ims.Service.Auth;
using Ims.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Ims.Tests.Auth;

/// <summary>Checked tokens are cached for speed; the cache must never keep a token alive or let a forged one in.</summary>
public sealed class TokenCacheTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private TestService _service = null!;

    public async Task InitializeAsync() =>
        _service = await TestService.StartAsync(configure: b => b.Services.AddSingleton<TimeProvider>(_clock));

    public async Task DisposeAsync() => await _service.DisposeAsync();

    [Fact]
    public async Task A_cached_token_still_expires_on_time()
    {
        var token = await IssueAsync();
        Assert.Equal(200, await ProjectsStatusAsync(token));

        // Past the cache's trust period the token is checked again, and it is still valid.
        _clock.Advance(TokenService.CacheFor + TimeSpan.FromSeconds(1));
        Assert.Equal(200, await ProjectsStatusAsync(token));

        // Checked again 30 s before its expiry, it is trusted beyond that; at expiry it is refused all the same.
        _clock.Advance(TokenService.Lifetime - TokenService.CacheFor - TimeSpan.FromSeconds(31));
        Assert.Equal(200, await ProjectsStatusAsync(token));
        _clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(401, await ProjectsStatusAsync(token));
    }

    [Fact]
    public async Task A_forged_token_is_refused_while_the_real_one_is_cached()
    {
        var token = await IssueAsync();
        Assert.Equal(200, await ProjectsStatusAsync(token));

        var forged = token[..^2] + (token[^2] == 'A' ? "B" : "A") + token[^1];
        Assert.Equal(401, await ProjectsStatusAsync(forged));
        Assert.Equal(401, await ProjectsStatusAsync(token + "x"));
        Assert.Equal(200, await ProjectsStatusAsync(token));
    }

    private async Task<string> IssueAsync()
    {
        var alice = TestAccounts.Alice;
        var issued = await ApiClient.IssueTokenAsync(_service.BaseAddress, alice.UserName, alice.Password, alice.DomainName, alice.ProjectId);
        issued.Expect(201);
        return issued.Headers.GetValues("X-Subject-Token").Single();
    }

    private async Task<int> ProjectsStatusAsync(string token)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_service.BaseAddress, "/v3/projects"));
        request.Headers.TryAddWithoutValidation("X-Auth-Token", token);
        using var response = await http.SendAsync(request);
        return (int)response.StatusCode;
    }
}
