using Dapper;
using Ims.Service.Ecs;
using Ims.Service.Storage;
using Ims.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Ims.Tests.Ecs;

/// <summary>
/// While another job holds a server (its task_state is set, e.g. by a backup or a whole image), every ECS action on
/// it is refused; once the job lets go, they work again.
/// </summary>
public sealed class ServerGuardTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;
    private Database Db => Service.App.Services.GetRequiredService<Database>();

    [Fact]
    public async Task A_busy_server_refuses_power_disk_and_delete_requests_until_released()
    {
        var client = Service.Client(TestAccounts.Alice);
        var pid = client.ProjectId;
        var network = await Servers.CreateNetworkAsync(client);
        var serverId = await Servers.CreateServerAsync(client, network, [(10, "SAS")]);
        var dataDiskId = (string)(await Servers.GetServerAsync(client, serverId))["os-extended-volumes:volumes_attached"]![1]!["id"]!;
        var spare = await Servers.CreateVolumeAsync(client);

        var claim = await ClaimAsync(pid, serverId, "backing_up");
        Assert.True(claim.Claimed);
        Assert.Equal(ClaimOutcome.Busy, (await ClaimAsync(pid, serverId, "image_uploading")).Outcome);
        Assert.Equal(ClaimOutcome.NotFound, (await ClaimAsync(TestAccounts.Bob.ProjectId, serverId, "x")).Outcome);
        Assert.Equal("backing_up", (string?)(await Servers.GetServerAsync(client, serverId))["OS-EXT-STS:task_state"]);

        foreach (var action in new[] { "os-stop", "reboot" })
            (await client.PostAsync($"/v1/{pid}/cloudservers/action", $$$"""{"{{{action}}}":{"servers":[{"id":"{{{serverId}}}"}]}}"""))
                .ExpectError(409, "Ecs.0100");
        (await client.PostAsync($"/v1/{pid}/cloudservers/delete", new { servers = new[] { new { id = serverId } } })).ExpectError(409, "Ecs.0100");
        (await client.PostAsync($"/v1/{pid}/cloudservers/{serverId}/attachvolume", new { volumeAttachment = new { volumeId = spare } }))
            .ExpectError(409, "Ecs.0100");
        (await client.DeleteAsync($"/v1/{pid}/cloudservers/{serverId}/detachvolume/{dataDiskId}")).ExpectError(409, "Ecs.0100");
        Assert.Equal("available", (string?)(await client.GetAsync($"/v2/{pid}/cloudvolumes/{spare}")).Expect(200)["volume"]["status"]);

        await using (var write = await Db.BeginWriteAsync(CancellationToken.None))
        {
            await ServerGuards.ReleaseAsync(write, serverId, "backing_up", 0, CancellationToken.None);
            await write.CommitAsync(CancellationToken.None);
        }
        await Servers.PowerAsync(client, "os-stop", serverId);
        await Servers.AttachAsync(client, serverId, spare);
        await Servers.DeleteServerAsync(client, serverId, deleteVolumes: true);
    }

    [Fact]
    public async Task A_refused_batch_changes_none_of_its_servers()
    {
        var client = Service.Client(TestAccounts.Alice);
        var pid = client.ProjectId;
        var network = await Servers.CreateNetworkAsync(client);
        var idle = await Servers.CreateServerAsync(client, network);
        var busy = await Servers.CreateServerAsync(client, network);
        await ClaimAsync(pid, busy, "backing_up");

        (await client.PostAsync($"/v1/{pid}/cloudservers/action", $$$"""{"os-stop":{"servers":[{"id":"{{{idle}}}"},{"id":"{{{busy}}}"}]}}"""))
            .ExpectError(409, "Ecs.0100");
        var server = await Servers.GetServerAsync(client, idle);
        Assert.Equal("ACTIVE", (string?)server["status"]);
        Assert.Equal("", (string?)server["OS-EXT-STS:task_state"]);
    }

    [Fact]
    public async Task Disks_in_transit_are_visible_to_the_guard()
    {
        var client = Service.Client(TestAccounts.Alice);
        var network = await Servers.CreateNetworkAsync(client);
        var serverId = await Servers.CreateServerAsync(client, network);
        await using var write = await Db.BeginWriteAsync(CancellationToken.None);
        Assert.False(await ServerGuards.HasDisksInTransitAsync(write, serverId, CancellationToken.None));
        await write.Connection.ExecuteAsync("UPDATE volumes SET status = 'detaching' WHERE id IN (SELECT volume_id FROM volume_attachments WHERE server_id = @serverId)",
            new { serverId }, write.Transaction);
        Assert.True(await ServerGuards.HasDisksInTransitAsync(write, serverId, CancellationToken.None));
    }

    private async Task<ServerClaim> ClaimAsync(string projectId, string serverId, string taskState)
    {
        await using var write = await Db.BeginWriteAsync(CancellationToken.None);
        var claim = await ServerGuards.TryClaimAsync(write, projectId, serverId, taskState, 0, CancellationToken.None);
        await write.CommitAsync(CancellationToken.None);
        return claim;
    }
}
