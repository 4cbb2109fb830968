using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ims;

/// <summary>
/// Rules that only show while a whole image is being made. Jobs are paced (a second per step) so that a request
/// sent right after the create lands while the job is still at work; the tests poll, they never sleep.
/// </summary>
public sealed class WholeImageInFlightTests : IAsyncLifetime
{
    private TestService _service = null!;

    public async Task InitializeAsync() =>
        _service = await TestService.StartAsync(extra: ["--Ims:Jobs:StepDelay=00:00:01", "--Ims:ImageQuota=2"]);

    public async Task DisposeAsync() => await _service.DisposeAsync();

    [Fact]
    public async Task While_a_stopped_ECS_is_imaged_it_cannot_be_started_nor_lose_its_system_disk()
    {
        var client = _service.Client(TestAccounts.Alice);
        var server = await TestServers.CreateAsync(_service, client, 10);
        await Servers.PowerAsync(client, "os-stop", server.Id);
        var vaultId = await Cbr.CreateVaultAsync(client);

        var jobId = await WholeImages.CreateAsync(client, new { name = "in-flight", instance_id = server.Id, vault_id = vaultId });

        var start = await client.SendAsync(HttpMethod.Post, $"/v1/{client.ProjectId}/cloudservers/action",
            $$$"""{"os-start":{"servers":[{"id":"{{{server.Id}}}"}]}}""");
        start.ExpectError(409, "Ecs.0100");
        (await client.DeleteAsync($"/v1/{client.ProjectId}/cloudservers/{server.Id}/detachvolume/{server.SystemVolumeId}"))
            .ExpectError(409, "Ecs.0100");
        // A second whole image of the same ECS is refused while the first one takes its backup.
        (await client.PostAsync(WholeImages.CreatePath, new { name = "again", instance_id = server.Id, vault_id = vaultId }))
            .ExpectImsError(400, "IMG.0136");

        var running = (await client.GetAsync($"/v1/{client.ProjectId}/jobs/{jobId}")).Expect(200);
        Assert.Contains((string?)running["status"], new[] { "INIT", "RUNNING" });
        Assert.True(running.Json.AsObject().ContainsKey("end_time"));
        Assert.Null(running.Json["end_time"]); // JSON null while the job runs

        await WholeImages.WaitForImageAsync(client, jobId);
        await Servers.PowerAsync(client, "os-start", server.Id);
    }

    [Fact]
    public async Task Images_being_created_count_against_the_quota()
    {
        var client = _service.Client(TestAccounts.Bob);
        var server = await TestServers.CreateAsync(_service, client);
        var (vaultId, _) = await Cbr.BackUpAsync(client, server.Id);
        foreach (var _ in Enumerable.Range(0, 2))
            await Cbr.WaitAvailableAsync(client, (string)(await Cbr.CreateCheckpointAsync(client, vaultId, server.Id))["id"]!);
        var backups = (await client.GetAsync($"/v3/{client.ProjectId}/backups?vault_id={vaultId}")).Expect(200)["backups"].AsArray()
            .Select(b => (string)b!["id"]!).ToList();
        Assert.Equal(3, backups.Count);

        var first = await WholeImages.CreateAsync(client, WholeImages.FromCbr(backups[0]));
        var second = await WholeImages.CreateAsync(client, WholeImages.FromCbr(backups[1]));
        // Both images are still queued or saving, and already hold the quota of two.
        (await client.PostAsync(WholeImages.CreatePath, WholeImages.FromCbr(backups[2]))).ExpectImsError(400, "IMG.0015");
        await WholeImages.WaitForImageAsync(client, first);
        await WholeImages.WaitForImageAsync(client, second);
        (await client.PostAsync(WholeImages.CreatePath, WholeImages.FromCbr(backups[2]))).ExpectImsError(400, "IMG.0015");
    }
}
