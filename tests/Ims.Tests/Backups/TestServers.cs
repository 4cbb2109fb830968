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

/// <summary>Servers for the backup tests, and the few server facts no public API exposes (task state, forced status).</summary>
public static class TestServers
{
    public static async Task<TestServer> CreateAsync(TestService service, ApiClient client, params int[] dataDisksGb)
    {
        // TEMPORARY until the ECS slice lands: rows written directly, shaped as ECS writes them.
        var db = service.App.Services.GetRequiredService<Database>();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var server = new TestServer(Guid.NewGuid().ToString("D"), $"ecs-{Guid.NewGuid():N}"[..16], Guid.NewGuid().ToString("D"), 40,
            dataDisksGb.Select(size => (Guid.NewGuid().ToString("D"), size)).ToList());
        await using var write = await db.BeginWriteAsync(CancellationToken.None);
        await write.Connection.ExecuteAsync(
            """
            INSERT INTO servers (id, project_id, name, status, flavor_id, image_id, availability_zone, vpc_id, os_type, created_at, updated_at)
            VALUES (@Id, @projectId, @Name, 'ACTIVE', 's6.large.2', 'img-1', 'az1', 'vpc-1', 'Linux', @now, @now)
            """, new { server.Id, projectId = client.ProjectId, server.Name, now }, write.Transaction);
        var disks = new[] { (Id: server.SystemVolumeId, SizeGb: server.SystemDiskGb, Boot: (int?)0) }
            .Concat(server.DataVolumes.Select(v => (v.Id, v.SizeGb, Boot: (int?)null))).ToList();
        for (var i = 0; i < disks.Count; i++)
        {
            await write.Connection.ExecuteAsync(
                """
                INSERT INTO volumes (id, project_id, name, size_gb, volume_type, availability_zone, status, bootable, created_at, updated_at)
                VALUES (@id, @projectId, @name, @size, 'SSD', 'az1', 'in-use', @bootable, @now, @now);
                INSERT INTO volume_attachments (volume_id, server_id, device, boot_index, attached_at)
                VALUES (@id, @serverId, @device, @boot, @now);
                """,
                new
                {
                    id = disks[i].Id, projectId = client.ProjectId, name = $"{server.Name}-disk{i}", size = disks[i].SizeGb,
                    bootable = disks[i].Boot == 0 ? 1 : 0, serverId = server.Id, device = $"/dev/vd{(char)('a' + i)}",
                    boot = disks[i].Boot, now,
                }, write.Transaction);
        }
        await write.CommitAsync(CancellationToken.None);
        return server;
    }

    /// <summary>The server's task state (ECS shows it nowhere the tests can rely on yet).</summary>
    public static async Task<string?> TaskStateAsync(TestService service, string serverId)
    {
        await using var conn = await service.App.Services.GetRequiredService<Database>().OpenAsync(CancellationToken.None);
        return await conn.QuerySingleAsync<string?>("SELECT task_state FROM servers WHERE id = @serverId", new { serverId });
    }

    /// <summary>Forces a server into a status no API can provoke on demand (ERROR, BUILD) or a busy task state.</summary>
    public static async Task ForceAsync(TestService service, string serverId, string? status = null, string? taskState = null)
    {
        await using var write = await service.App.Services.GetRequiredService<Database>().BeginWriteAsync(CancellationToken.None);
        await write.Connection.ExecuteAsync(
            "UPDATE servers SET status = COALESCE(@status, status), task_state = COALESCE(@taskState, task_state) WHERE id = @serverId",
            new { serverId, status, taskState }, write.Transaction);
        await write.CommitAsync(CancellationToken.None);
    }
}
