using System.Net.Sockets;
using System.Text;
using Ims.Service.Hosting;
using Ims.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Ims.Tests.Http;

/// <summary>
/// The idle trim must run after a flood, not in it. A flood of refused requests with pooled bodies allocates under 4 MB
/// per 5 s, so when "quiet" meant little allocation the trim ran in the middle of the flood and never after it (the
/// service stayed at 337 MB after 20 quiet seconds).
/// </summary>
public sealed class IdleMemoryTrimTests
{
    private const long MB = 1024 * 1024;

    [Fact]
    public void A_flood_of_refused_requests_that_allocates_little_is_not_quiet()
    {
        Assert.False(IdleMemoryTrim.ShouldTrim(allocatedInInterval: 1 * MB, trafficInInterval: true, allocatedSinceTrim: 20 * MB, growthSinceTrim: 250 * MB));
    }

    [Fact]
    public void The_first_interval_without_traffic_after_the_process_grew_trims()
    {
        Assert.True(IdleMemoryTrim.ShouldTrim(allocatedInInterval: 1 * MB, trafficInInterval: false, allocatedSinceTrim: 20 * MB, growthSinceTrim: 190 * MB));
        Assert.True(IdleMemoryTrim.ShouldTrim(allocatedInInterval: 0, trafficInInterval: false, allocatedSinceTrim: 300 * MB, growthSinceTrim: 0));
    }

    [Fact]
    public void A_job_allocating_without_requests_or_an_idle_service_without_a_burst_is_left_alone()
    {
        Assert.False(IdleMemoryTrim.ShouldTrim(allocatedInInterval: 40 * MB, trafficInInterval: false, allocatedSinceTrim: 400 * MB, growthSinceTrim: 200 * MB));
        Assert.False(IdleMemoryTrim.ShouldTrim(allocatedInInterval: 0, trafficInInterval: false, allocatedSinceTrim: 30 * MB, growthSinceTrim: 40 * MB));
    }

    /// <summary>Kestrel answers an oversized header itself, before any middleware: the connection count still sees it.</summary>
    [Fact]
    public async Task Requests_kestrel_refuses_itself_and_ordinary_requests_are_both_seen_as_traffic()
    {
        await using var service = await TestService.StartAsync();
        var traffic = service.App.Services.GetRequiredService<TrafficCounter>();

        var before = traffic.Seen;
        var status = await RawRequestAsync(service.BaseAddress, $"GET / HTTP/1.1\r\nHost: x\r\nX-Big: {new string('a', 64 * 1024)}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 431", status, StringComparison.Ordinal);
        Assert.True(traffic.Seen > before, "a request Kestrel refused was not counted");

        before = traffic.Seen;
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(service.BaseAddress, "/v3/projects"));
        Assert.True(traffic.Seen >= before + 2, "a new connection and its request count twice");
    }

    private static async Task<string> RawRequestAsync(Uri address, string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(address.Host, address.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        var buffer = new byte[256];
        var read = await stream.ReadAsync(buffer);
        return Encoding.ASCII.GetString(buffer, 0, read);
    }
}
