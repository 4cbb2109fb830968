using System.Collections.Concurrent;
using Dapper;
using Ims.Service.Storage;
using Ims.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Ims.Tests.Backups;

/// <summary>A server the backup tests work on: its system disk and data disks.</summary>
public sealed record TestServer(string Id, string Name, string SystemVolumeId, int SystemDiskGb, IReadOnlyList<(string Id, int SizeGb)> DataVolumes)
{
    public int TotalGb => SystemDiskGb + DataVolumes.Sum(v => v.SizeGb);
}

/// <summary>
/// Real ECS servers for the backup tests, made over HTTP, plus the two server facts no public API can provoke on
/// demand (an ERROR or BUILD status, a task state held by some other job).
/// </summary>
public static class TestServers
{
    public const int SystemDiskGb = 40;

    private static readonly ConcurrentDictionary<string, Lazy<Task<TestNetwork>>> Networks = new(StringComparer.Ordinal);

    public static async Task<TestServer> CreateAsync(TestService service, ApiClient client, params int[] dataDisksGb)
    {
        // Keyed by the data folder, unique per service: a later service may reuse a loopback port.
        var network = await Networks.GetOrAdd($"{service.DataDir}|{client.ProjectId}",
            _ => new Lazy<Task<TestNetwork>>(() => Servers.CreateNetworkAsync(client))).Value;
        var name = Servers.UniqueName("ecs");
        var id = await Servers.CreateServerAsync(client, network, dataDisksGb.Select(size => (size, "SAS")), rootSize: SystemDiskGb, name: name);
        var devices = (await client.GetAsync($"/v1/{client.ProjectId}/cloudservers/{id}/block_device")).Expect(200)["volumeAttachments"]
            .AsArray().Select(d => (Id: (string)d!["volumeId"]!, Size: (int)d["size"]!, Boot: (int)d["bootIndex"]!)).ToList();
        var system = devices.Single(d => d.Boot == 0);
        var data = devices.Where(d => d.Boot != 0).Select(d => (d.Id, d.Size)).ToList();
        Assert.Equal(dataDisksGb.Order(), data.Select(d => d.Size).Order());
        return new TestServer(id, name, system.Id, system.Size, data);
    }

    /// <summary>The server's task state as ECS shows it (null when no job holds the server).</summary>
    public static async Task<string?> TaskStateAsync(ApiClient client, string serverId)
    {
        var state = (string?)(await Servers.GetServerAsync(client, serverId))["OS-EXT-STS:task_state"];
        return string.IsNullOrEmpty(state) ? null : state;
    }

    /// <summary>Forces a server into a status no API provokes on demand (ERROR, BUILD) or into a foreign job's task state.</summary>
    public static async Task ForceAsync(TestService service, string serverId, string? status = null, string? taskState = null)
    {
        await using var write = await service.App.Services.GetRequiredService<Database>().BeginWriteAsync(CancellationToken.None);
        await write.Connection.ExecuteAsync(
            "UPDATE servers SET status = COALESCE(@status, status), task_state = COALESCE(@taskState, task_state) WHERE id = @serverId",
            new { serverId, status, taskState }, write.Transaction);
        await write.CommitAsync(CancellationToken.None);
    }
}
