using System.Net.Sockets;
using Dapper;
using Ims.Service.Nodes;
using Ims.Service.Storage;
using Ims.Tests.DataPlane;
using Ims.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Ims.Tests.Nodes;

/// <summary>
/// A data request for a volume another node hosts, when that node cannot serve it: a 503 naming the node, at once
/// (the forwarding itself, between two live nodes, is in <see cref="MultiNodeTests"/>).
/// </summary>
public sealed class NodeForwardingTests : IAsyncLifetime
{
    private TestService service = null!;

    public async Task InitializeAsync() => service = await TestService.StartAsync(extra: ["--Ims:Node:Name=node-here"]);

    public async Task DisposeAsync() => await service.DisposeAsync();

    private Database Db => service.App.Services.GetRequiredService<Database>();

    private async Task ExecuteAsync(string sql, object args)
    {
        await using var write = await Db.BeginWriteAsync(CancellationToken.None);
        await write.Connection.ExecuteAsync(sql, args, write.Transaction);
        await write.CommitAsync(CancellationToken.None);
    }

    private async Task RegisterAsync(string url, DateTimeOffset heartbeat)
    {
        await using var write = await Db.BeginWriteAsync(CancellationToken.None);
        await service.App.Services.GetRequiredService<NodeStore>().UpsertAsync(write, "node-gone", url, 0,
            heartbeat.ToUnixTimeMilliseconds(), CancellationToken.None);
        await write.CommitAsync(CancellationToken.None);
    }

    private async Task<string> Expect503Async(ApiClient client, string volumeId)
    {
        using var response = await DiskBytes.SendAsync(client, HttpMethod.Get, DiskBytes.PathOf(client, volumeId, "sha256"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(503 == (int)response.StatusCode, body);
        Assert.Contains("\"code\":\"Ims.0503\"", body, StringComparison.Ordinal);
        Assert.Contains("node node-gone", body, StringComparison.Ordinal);
        return body;
    }

    [Fact]
    public async Task A_volume_of_a_node_that_is_unknown_down_or_silent_gets_a_503_naming_it()
    {
        var client = service.Client(TestAccounts.Alice);
        var volumeId = await Servers.CreateVolumeAsync(client);
        (await DiskBytes.Sha256Async(client, volumeId)).ToString(); // served here: this node hosts it
        await ExecuteAsync("UPDATE volumes SET node = 'node-gone' WHERE id = @volumeId", new { volumeId });

        Assert.Contains("never registered", await Expect503Async(client, volumeId), StringComparison.Ordinal);

        await RegisterAsync("http://127.0.0.1:9", DateTimeOffset.UtcNow - TimeSpan.FromMinutes(5));
        Assert.Contains("last heartbeat was 300 s ago", await Expect503Async(client, volumeId), StringComparison.Ordinal);

        // Alive by its heartbeat, but nothing listens at its address.
        using var closed = new TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        var port = ((System.Net.IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        await RegisterAsync($"http://127.0.0.1:{port}", DateTimeOffset.UtcNow);
        Assert.Contains("does not answer", await Expect503Async(client, volumeId), StringComparison.Ordinal);

        // Registered at this node's own address: the forwarded request is refused, not forwarded in a loop.
        await RegisterAsync(service.BaseAddress.ToString().TrimEnd('/'), DateTimeOffset.UtcNow);
        Assert.Contains("node names disagree", await Expect503Async(client, volumeId), StringComparison.Ordinal);

        // Another project's volume is not revealed: 404 as anywhere.
        using var other = await DiskBytes.SendAsync(service.Client(TestAccounts.Bob), HttpMethod.Get,
            $"/data/v1/{TestAccounts.Bob.ProjectId}/volumes/{volumeId}/sha256");
        Assert.Equal(404, (int)other.StatusCode);
    }
}
