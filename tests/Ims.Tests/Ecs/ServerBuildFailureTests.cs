using System.Text.Json;
using Ims.Service.Ecs;
using Ims.Service.Jobs;
using Ims.Service.Storage;
using Ims.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Ims.Tests.Ecs;

/// <summary>
/// A createServer job that fails leaves the server in ERROR (with a fault), gives its addresses back and marks its
/// disks failed; the server can then be deleted. The host runs no workers, so the test plays the failing worker.
/// </summary>
public sealed class ServerBuildFailureTests : IAsyncLifetime
{
    private TestService _service = null!;

    public async Task InitializeAsync() => _service = await TestService.StartAsync(extra: ["--Ims:Jobs:Workers=0"]);

    public async Task DisposeAsync() => await _service.DisposeAsync();

    [Fact]
    public async Task A_failed_build_leaves_an_error_server_that_can_be_deleted()
    {
        var services = _service.App.Services;
        var queue = services.GetRequiredService<JobQueue>();
        var db = services.GetRequiredService<Database>();
        var client = _service.Client(TestAccounts.Alice);
        var pid = client.ProjectId;
        var network = await Servers.CreateNetworkAsync(client);
        var created = (await client.PostAsync($"/v1.1/{pid}/cloudservers", Servers.ServerBody(network, dataDisks: [(10, "SAS")]).ToJsonString()))
            .Expect(200);
        var serverId = (string)created["serverIds"][0]!;
        var jobId = (string)created["job_id"]!;

        // Queued but not yet run: the server is building and busy, its job pending with its sub-job already named.
        var server = await Servers.GetServerAsync(client, serverId);
        Assert.Equal("BUILD", (string?)server["status"]);
        Assert.Equal("spawning", (string?)server["OS-EXT-STS:task_state"]);
        Assert.Equal(0, (int)server["OS-EXT-STS:power_state"]!);
        var pending = (await client.GetAsync($"/v1/{pid}/jobs/{jobId}")).Expect(200);
        Assert.Equal("INIT", (string?)pending["status"]);
        Assert.Equal(serverId, (string?)pending["entities"]["sub_jobs"]![0]!["entities"]!["server_id"]);
        (await client.PostAsync($"/v1/{pid}/cloudservers/delete", new { servers = new[] { new { id = serverId } } })).ExpectError(409, "Ecs.0100");

        // A worker claims the job and it fails.
        var claimed = await queue.ClaimAsync("test-worker", CancellationToken.None);
        Assert.Equal(jobId, claimed!.Id);
        var context = new JobContext(claimed, TimeProvider.System, services);
        await using (var write = await db.BeginWriteAsync(CancellationToken.None))
        {
            await services.GetServices<JobHandler>().Single(h => h.JobType == CreateServerJob.Type).OnFailedAsync(context, write, CancellationToken.None);
            Assert.True(await queue.RecordFailureAsync(write, jobId, "test-worker", "Ecs.0002", "No host could take the server.",
                context.Entities, CancellationToken.None));
            await write.CommitAsync(CancellationToken.None);
        }

        var job = (await client.GetAsync($"/v1/{pid}/jobs/{jobId}")).Expect(200);
        Assert.Equal("FAIL", (string?)job["status"]);
        Assert.Equal("Ecs.0002", (string?)job["error_code"]);
        var subJob = job["entities"]["sub_jobs"]![0]!;
        Assert.Equal("FAIL", (string?)subJob["status"]);
        Assert.Equal(serverId, (string?)subJob["entities"]!["server_id"]);

        server = await Servers.GetServerAsync(client, serverId);
        Assert.Equal("ERROR", (string?)server["status"]);
        Assert.Equal("", (string?)server["OS-EXT-STS:task_state"]);
        Assert.Equal(JsonValueKind.Number, server["fault"]!["code"]!.GetValueKind());
        Assert.Empty(server["addresses"]!.AsObject());
        var disks = server["os-extended-volumes:volumes_attached"]!.AsArray().Select(v => (string)v!["id"]!).ToList();
        Assert.Equal(2, disks.Count);
        foreach (var disk in disks)
            Assert.Equal("error", (string?)(await client.GetAsync($"/v2/{pid}/cloudvolumes/{disk}")).Expect(200)["volume"]["status"]);

        // Deleting the failed server removes it with its disks.
        var deleting = (await client.PostAsync($"/v1/{pid}/cloudservers/delete", new { servers = new[] { new { id = serverId } }, delete_volume = true }))
            .Expect(200);
        var options = services.GetRequiredService<IOptions<JobOptions>>().Value;
        options.Workers = 1;
        using var runner = new JobRunner(queue, db, services.GetServices<JobHandler>(), TimeProvider.System, services,
            Options.Create(options), NullLogger<JobRunner>.Instance);
        await runner.StartAsync(CancellationToken.None);
        try
        {
            await client.WaitForJobSuccessAsync((string)deleting["job_id"]!);
        }
        finally
        {
            await runner.StopAsync(CancellationToken.None);
        }
        (await client.GetAsync($"/v1/{pid}/cloudservers/{serverId}")).ExpectError(404, "Ecs.0114");
        foreach (var disk in disks) (await client.GetAsync($"/v2/{pid}/cloudvolumes/{disk}")).ExpectError(404, "EVS.5404");
    }
}
