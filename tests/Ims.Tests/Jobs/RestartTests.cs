using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;
using WholeImages = Ims.Tests.Ims.WholeImages;

namespace Ims.Tests.Jobs;

/// <summary>
/// The service as its own process, killed with SIGKILL while jobs run and started again on the same data folder:
/// everything is still there, running jobs finish, and nothing is made twice.
/// </summary>
public sealed class RestartTests
{
    // Slow enough that the kill lands mid-job, and a short lease so that the restarted node resumes soon.
    private static readonly string[] Paced = ["--Ims:Jobs:StepDelay=00:00:00.300", "--Ims:Jobs:Lease=00:00:02"];

    [Fact]
    public async Task Jobs_running_at_a_kill_finish_after_restart_with_nothing_lost_or_duplicated()
    {
        var dataDir = TestService.NewDataDir();
        var alice = TestAccounts.Alice;
        var serverName = Servers.UniqueName("survivor");
        string token, serverJob, volumeJob;
        TestNetwork network;

        using (var first = await ServiceProcess.StartAsync(dataDir, Paced))
        {
            var client = first.Client(alice);
            token = await client.TokenAsync();
            network = await Servers.CreateNetworkAsync(client);
            var body = Servers.ServerBody(network, serverName, [(10, "SAS"), (20, "SSD")]);
            serverJob = (string)(await client.PostAsync($"/v1.1/{alice.ProjectId}/cloudservers", body.ToJsonString())).Expect(200)["job_id"]!;
            volumeJob = (string)(await client.PostAsync($"/v2/{alice.ProjectId}/cloudvolumes", new
            {
                volume = new { availability_zone = Servers.Zone, volume_type = "SAS", size = 15, name = Servers.UniqueName("vol") },
            })).Expect(200)["job_id"]!;

            // Kill only once a worker has claimed the server job, so the kill interrupts it.
            await Poll.UntilAsync(async () =>
                (string?)(await client.GetAsync($"/v1/{alice.ProjectId}/jobs/{serverJob}")).Expect(200)["status"] == "RUNNING",
                TimeSpan.FromSeconds(30), "the server job to start running");
            first.Kill();
        }

        using var second = await ServiceProcess.StartAsync(dataDir, Paced);
        var again = second.Client(alice);

        // A token issued before the crash is still good: tokens are signed with a key kept in the database.
        using (var http = new HttpClient())
        using (var request = new HttpRequestMessage(HttpMethod.Get, new Uri(second.BaseAddress, $"/v1/{alice.ProjectId}/jobs/{serverJob}")))
        {
            request.Headers.Add("X-Auth-Token", token);
            using var response = await http.SendAsync(request);
            Assert.Equal(200, (int)response.StatusCode);
        }

        var job = await again.WaitForJobSuccessAsync(serverJob, TimeSpan.FromSeconds(60));
        await again.WaitForJobSuccessAsync(volumeJob, TimeSpan.FromSeconds(60));
        var serverId = (string)job["entities"]!["sub_jobs"]![0]!["entities"]!["server_id"]!;

        var server = await Servers.GetServerAsync(again, serverId);
        Assert.Equal("ACTIVE", (string?)server["status"]);
        Assert.Equal(3, server["os-extended-volumes:volumes_attached"]!.AsArray().Count);

        // Exactly one server of that name, one NIC port, and the network as it was.
        var listed = (await again.GetAsync($"/v1/{alice.ProjectId}/cloudservers/detail?name={serverName}")).Expect(200);
        Assert.Single(listed["servers"].AsArray());
        var ports = (await again.GetAsync($"/v1/{alice.ProjectId}/ports?device_id={serverId}")).Expect(200);
        Assert.Single(ports["ports"].AsArray());
        (await again.GetAsync($"/v1/{alice.ProjectId}/vpcs/{network.VpcId}")).Expect(200);
        (await again.GetAsync($"/v1/{alice.ProjectId}/subnets/{network.SubnetId}")).Expect(200);
        (await again.GetAsync($"/v3/{alice.ProjectId}/vpc/security-groups/{network.SecurityGroupId}")).Expect(200);

        var volumes = (await again.GetAsync($"/v2/{alice.ProjectId}/cloudvolumes/detail")).Expect(200)["volumes"].AsArray();
        Assert.Equal(4, volumes.Count); // system disk, two data disks, and the lone volume
        Assert.All(volumes, v => Assert.Contains((string?)v!["status"], new[] { "in-use", "available" }));
    }
}

/// <summary>Whole images from servers (mode A) interrupted by a SIGKILL: afterwards nothing is half-made.</summary>
public sealed class WholeImageRestartTests
{
    private static readonly string[] Paced = ["--Ims:Jobs:StepDelay=00:00:00.300", "--Ims:Jobs:Lease=00:00:02"];

    [Fact]
    public async Task Mode_A_jobs_killed_mid_way_end_SUCCESS_or_FAIL_with_nothing_half_made()
    {
        var dataDir = TestService.NewDataDir();
        var alice = TestAccounts.Alice;
        var jobs = new List<string>();
        var servers = new List<string>();

        using (var first = await ServiceProcess.StartAsync(dataDir, Paced))
        {
            var client = first.Client(alice);
            var network = await Servers.CreateNetworkAsync(client);
            var vaultId = await Cbr.CreateVaultAsync(client);
            var creates = Enumerable.Range(0, 3).Select(_ => Servers.CreateServerAsync(client, network, [(10, "SAS")]));
            servers.AddRange(await Task.WhenAll(creates));
            foreach (var serverId in servers)
                jobs.Add(await WholeImages.CreateAsync(client,
                    new { name = Servers.UniqueName("crash"), instance_id = serverId, vault_id = vaultId }));

            await Poll.UntilAsync(async () =>
                (string?)(await client.GetAsync($"/v1/{alice.ProjectId}/jobs/{jobs[0]}")).Expect(200)["status"] == "RUNNING",
                TimeSpan.FromSeconds(30), "a whole-image job to run");
            first.Kill();
        }

        using var second = await ServiceProcess.StartAsync(dataDir, Paced);
        var again = second.Client(alice);
        var listed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (jobId, serverId) in jobs.Zip(servers))
        {
            var job = await again.WaitForJobAsync(jobId, TimeSpan.FromSeconds(90));
            var imageId = (string)job["entities"]!["image_id"]!;
            var images = (await again.GetAsync($"/v2/cloudimages?id={imageId}")).Expect(200)["images"].AsArray();
            var backups = (await again.GetAsync($"/v3/{alice.ProjectId}/backups?resource_id={serverId}")).Expect(200)["backups"].AsArray();
            if ((string?)job["status"] == "SUCCESS")
            {
                // An image always has its backup, and that backup is complete.
                var image = Assert.Single(images)!;
                var backup = Assert.Single(backups)!;
                Assert.Equal((string?)backup["id"], (string?)image["__backup_id"]);
                Assert.Equal("available", (string?)backup["status"]);
                listed.Add(imageId);
            }
            else
            {
                // A failed job leaves no listed image and deletes the backup it made.
                Assert.Equal("FAIL", (string?)job["status"]);
                Assert.Empty(images);
                Assert.Empty(backups);
            }
            Assert.Null(NullIfEmpty((string?)(await Servers.GetServerAsync(again, serverId))["OS-EXT-STS:task_state"]));
        }

        // Only finished images hold quota: the project's private whole images are exactly the successful ones.
        var mine = (await again.GetAsync("/v2/cloudimages?__whole_image=true&__imagetype=private&limit=1000")).Expect(200)["images"].AsArray();
        Assert.Equal(listed.Order(), mine.Select(i => (string)i!["id"]!).Order());
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
