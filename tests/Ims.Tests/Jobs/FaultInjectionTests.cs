using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using Ims.Service.Hosting;
using Ims.Service.Http;
using Ims.Service.Storage;
using Ims.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Ims.Tests.Jobs;

/// <summary>
/// The admin fault-injection API over HTTP with real jobs: rules make the next N jobs of a kind, or the jobs of one
/// resource, fail at a chosen step with a chosen code (through the handler's compensation), or run slower.
/// </summary>
public sealed class FaultInjectionTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;
    private Faults Admin => new(Service.BaseAddress);

    [Fact]
    public async Task The_next_two_createVolume_jobs_fail_at_the_chosen_step_and_the_third_succeeds()
    {
        await Admin.ClearAsync();
        var client = Service.Client(TestAccounts.Alice);
        var rule = await Admin.CreateAsync(new { job_type = "createVolume", step = "create", error_code = "IMG.0018", count = 2 });
        Assert.Equal(2, (int)rule["remaining"]!);
        // Without a message an IMS code reads as the real service words it.
        Assert.Equal("An error occurred when the job was submitted.", (string?)rule["message"]);

        var outcomes = new List<(JsonNode Job, string VolumeId)>();
        for (var i = 0; i < 3; i++)
        {
            var accepted = (await client.PostAsync($"/v2/{client.ProjectId}/cloudvolumes", VolumeBody())).Expect(200);
            var job = await client.WaitForJobAsync((string)accepted["job_id"]!);
            outcomes.Add((job, (string)job["entities"]!["volume_id"]!));
        }

        foreach (var (job, volumeId) in outcomes.Take(2))
        {
            Assert.Equal("FAIL", (string?)job["status"]);
            Assert.Equal("IMG.0018", (string?)job["error_code"]);
            Assert.Equal("An error occurred when the job was submitted.", (string?)job["fail_reason"]);
            Assert.NotNull((string?)job["end_time"]);
            // The handler's compensation ran: the disk that could not be made is marked failed.
            Assert.Equal("error", await VolumeStatusAsync(client, volumeId));
        }
        Assert.Equal("SUCCESS", (string?)outcomes[2].Job["status"]);
        Assert.Equal("available", await VolumeStatusAsync(client, outcomes[2].VolumeId));

        var used = await Admin.GetAsync((string)rule["id"]!);
        Assert.Equal(0, (int)used["remaining"]!);
        Assert.Equal(outcomes.Take(2).Select(o => (string)o.Job["job_id"]!), used["job_ids"]!.AsArray().Select(j => (string)j!));
    }

    [Fact]
    public async Task A_count_chooses_exactly_that_many_jobs_when_many_run_at_once()
    {
        await Admin.ClearAsync();
        var client = Service.Client(TestAccounts.Alice);
        var rule = await Admin.CreateAsync(new { job_type = "createVolume", error_code = "EVS.5400", message = "No capacity left.", count = 3 });

        var accepted = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => client.PostAsync($"/v2/{client.ProjectId}/cloudvolumes", VolumeBody())));
        var jobs = await Task.WhenAll(accepted.Select(a => client.WaitForJobAsync((string)a.Expect(200)["job_id"]!)));

        var failed = jobs.Where(j => (string?)j["status"] == "FAIL").ToList();
        Assert.Equal(3, failed.Count);
        Assert.Equal(5, jobs.Count(j => (string?)j["status"] == "SUCCESS"));
        Assert.All(failed, j => Assert.Equal(("EVS.5400", "No capacity left."), ((string?)j["error_code"], (string?)j["fail_reason"])));
        var used = await Admin.GetAsync((string)rule["id"]!);
        Assert.Equal(failed.Select(j => (string)j["job_id"]!).Order(), used["job_ids"]!.AsArray().Select(j => (string)j!).Order());
    }

    [Fact]
    public async Task A_rule_for_one_resource_fails_every_job_of_that_resource_and_no_other()
    {
        await Admin.ClearAsync();
        var client = Service.Client(TestAccounts.Alice);
        var doomed = await Servers.CreateVolumeAsync(client);
        var spared = await Servers.CreateVolumeAsync(client);
        var rule = await Admin.CreateAsync(new { resource_id = doomed, error_code = "EVS.5400", message = "The disk is stuck." });
        Assert.Null(rule["remaining"]);

        for (var attempt = 0; attempt < 2; attempt++)
        {
            var accepted = (await client.DeleteAsync($"/v2/{client.ProjectId}/cloudvolumes/{doomed}")).Expect(200);
            var job = await client.WaitForJobAsync((string)accepted["job_id"]!);
            Assert.Equal(("FAIL", "EVS.5400", "The disk is stuck."),
                ((string?)job["status"], (string?)job["error_code"], (string?)job["fail_reason"]));
            Assert.Equal("error", await VolumeStatusAsync(client, doomed)); // deleteVolume's compensation
        }

        var other = (await client.DeleteAsync($"/v2/{client.ProjectId}/cloudvolumes/{spared}")).Expect(200);
        await client.WaitForJobSuccessAsync((string)other["job_id"]!);

        // Once the rule is gone the disk can be deleted after all.
        await Admin.DeleteAsync((string)rule["id"]!);
        var again = (await client.DeleteAsync($"/v2/{client.ProjectId}/cloudvolumes/{doomed}")).Expect(200);
        await client.WaitForJobSuccessAsync((string)again["job_id"]!);
    }

    [Fact]
    public async Task A_createServer_job_failed_by_a_fault_leaves_the_server_in_error_as_its_compensation_does()
    {
        await Admin.ClearAsync();
        var client = Service.Client(TestAccounts.Alice);
        var network = await Servers.CreateNetworkAsync(client);
        await Admin.CreateAsync(new { job_type = "createServer", step = "boot servers", error_code = "Ecs.0002", count = 1 });

        var created = (await client.PostAsync($"/v1.1/{client.ProjectId}/cloudservers", Servers.ServerBody(network).ToJsonString())).Expect(200);
        var job = await client.WaitForJobAsync((string)created["job_id"]!);

        Assert.Equal(("FAIL", "Ecs.0002"), ((string?)job["status"], (string?)job["error_code"]));
        Assert.StartsWith("Fault injected by rule ", (string?)job["fail_reason"], StringComparison.Ordinal);
        var subJob = job["entities"]!["sub_jobs"]![0]!;
        Assert.Equal("FAIL", (string?)subJob["status"]);
        var server = await Servers.GetServerAsync(client, (string)subJob["entities"]!["server_id"]!);
        Assert.Equal("ERROR", (string?)server["status"]);
        Assert.Empty(server["addresses"]!.AsObject()); // its NIC went back to the subnet

        // The rule chose one job only: the next server builds.
        await Servers.CreateServerAsync(client, network);
    }

    [Fact]
    public async Task A_slow_rule_holds_a_job_running_at_its_step_until_the_rule_is_deleted()
    {
        await Admin.ClearAsync();
        var client = Service.Client(TestAccounts.Alice);
        var network = await Servers.CreateNetworkAsync(client);
        // Ten minutes: the test never waits it out, so it cannot race; deleting the rule releases the job.
        var rule = await Admin.CreateAsync(new { job_type = "createServer", step = "boot servers", delay_ms = 600_000, count = 1 });

        var created = (await client.PostAsync($"/v1.1/{client.ProjectId}/cloudservers", Servers.ServerBody(network).ToJsonString())).Expect(200);
        var jobId = (string)created["job_id"]!;
        var serverId = (string)created["serverIds"]![0]!;

        // The first step ("create disks") finishes; the second waits.
        var systemDisk = (string)(await Servers.GetServerAsync(client, serverId))["os-extended-volumes:volumes_attached"]![0]!["id"]!;
        await Poll.UntilAsync(async () => await VolumeStatusAsync(client, systemDisk) != "creating", TimeSpan.FromSeconds(30),
            "the first step of the server job");
        var job = (await client.GetAsync($"/v1/{client.ProjectId}/jobs/{jobId}")).Expect(200);
        Assert.Equal("RUNNING", (string?)job["status"]);
        Assert.Equal("BUILD", (string?)(await Servers.GetServerAsync(client, serverId))["status"]);
        Assert.Equal([jobId], (await Admin.GetAsync((string)rule["id"]!))["job_ids"]!.AsArray().Select(j => (string)j!));

        await Admin.DeleteAsync((string)rule["id"]!);
        await client.WaitForJobSuccessAsync(jobId, TimeSpan.FromSeconds(10));
        Assert.Equal("ACTIVE", (string?)(await Servers.GetServerAsync(client, serverId))["status"]);
    }

    [Fact]
    public async Task A_short_delay_slows_a_job_by_at_least_that_much_and_it_then_succeeds()
    {
        await Admin.ClearAsync();
        var client = Service.Client(TestAccounts.Alice);
        await Admin.CreateAsync(new { job_type = "createVolume", delay_ms = 400, count = 1 });

        var accepted = (await client.PostAsync($"/v2/{client.ProjectId}/cloudvolumes", VolumeBody())).Expect(200);
        var job = await client.WaitForJobSuccessAsync((string)accepted["job_id"]!);

        var took = DateTimeOffset.Parse((string)job["end_time"]!, System.Globalization.CultureInfo.InvariantCulture)
            - DateTimeOffset.Parse((string)job["begin_time"]!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(took >= TimeSpan.FromMilliseconds(400), $"the job took {took.TotalMilliseconds} ms");
    }

    [Fact]
    public async Task Rules_can_be_listed_shown_and_deleted_without_cloud_credentials()
    {
        await Admin.ClearAsync();
        var first = await Admin.CreateAsync(new { job_type = "deleteVolume", error_code = "EVS.5400", delay_ms = 10 });
        var second = (await Admin.SendAsync(HttpMethod.Post, Faults.Path, new { delay_ms = 5, count = 4 })).Expect(201);
        Assert.Equal($"{Faults.Path}/{(string)second["fault"]["id"]!}", second.Headers.Location?.OriginalString);

        var listed = (await Admin.SendAsync(HttpMethod.Get, Faults.Path)).Expect(200)["faults"].AsArray();
        Assert.Equal([(string)first["id"]!, (string)second["fault"]["id"]!], listed.Select(f => (string)f!["id"]!));
        var shown = await Admin.GetAsync((string)first["id"]!);
        Assert.Equal("deleteVolume", (string?)shown["job_type"]);
        Assert.Null(shown["resource_id"]);
        Assert.Null(shown["step"]);
        Assert.Equal("EVS.5400", (string?)shown["error_code"]);
        Assert.Equal(10, (long)shown["delay_ms"]!);
        Assert.Null(shown["remaining"]);
        Assert.Empty(shown["job_ids"]!.AsArray());
        Assert.EndsWith("Z", (string?)shown["created_at"], StringComparison.Ordinal);

        await Admin.DeleteAsync((string)first["id"]!);
        (await Admin.SendAsync(HttpMethod.Get, $"{Faults.Path}/{(string)first["id"]!}")).ExpectAdminError(404, "APIGW.0101");
        (await Admin.SendAsync(HttpMethod.Delete, $"{Faults.Path}/{(string)first["id"]!}")).ExpectAdminError(404, "APIGW.0101");
        await Admin.ClearAsync();
        Assert.Empty((await Admin.SendAsync(HttpMethod.Get, Faults.Path)).Expect(200)["faults"].AsArray());
    }

    public static TheoryData<string> BadBodies() => new()
    {
        "",
        "[]",
        "{\"error_code\":\"IMG.0014\",}",
        "{\"delay_ms\":10,\"count\":0}",
        "{\"delay_ms\":10,\"count\":-1}",
        "{\"delay_ms\":10,\"count\":\"2\"}",
        "{\"delay_ms\":10,\"count\":1.5}",
        "{\"delay_ms\":-1}",
        "{\"delay_ms\":600001}",
        "{\"delay_ms\":\"10\"}",
        "{\"delay_ms\":0}",
        "{}",
        "{\"job_type\":\"createVolume\"}",
        "{\"error_code\":\"IMG.14\"}",
        "{\"error_code\":\"IMG0014\"}",
        "{\"error_code\":\"IMG.00145\"}",
        "{\"error_code\":\"\"}",
        "{\"error_code\":42}",
        "{\"delay_ms\":10,\"message\":\"no code\"}",
        "{\"error_code\":\"IMG.0014\",\"message\":\"\"}",
        "{\"error_code\":\"IMG.0014\",\"job_type\":\"makeCoffee\"}",
        "{\"error_code\":\"IMG.0014\",\"job_type\":\"\"}",
        "{\"error_code\":\"IMG.0014\",\"job_type\":\"createVolume\",\"step\":\"boot servers\"}",
        "{\"error_code\":\"IMG.0014\",\"step\":\"no such step\"}",
        "{\"error_code\":\"IMG.0014\",\"resource_id\":\"\"}",
        "{\"error_code\":\"IMG.0014\",\"resourceid\":\"typo-widens-the-rule\"}",
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task Bad_bodies_get_400_in_the_admin_shape_and_create_nothing(string body)
    {
        await Admin.ClearAsync();
        var response = await Admin.SendAsync(HttpMethod.Post, Faults.Path, body);
        response.ExpectAdminError(400, "APIGW.0201");
        Assert.Empty((await Admin.SendAsync(HttpMethod.Get, Faults.Path)).Expect(200)["faults"].AsArray());
    }

    [Fact]
    public async Task With_an_admin_token_only_callers_sending_it_get_in_and_cloud_tokens_do_not_count()
    {
        await using var service = await TestService.StartAsync(extra: ["--Ims:AdminToken=let-me-in"]);
        var rule = new { job_type = "createVolume", error_code = "IMG.0014" };

        (await new Faults(service.BaseAddress).SendAsync(HttpMethod.Post, Faults.Path, rule)).ExpectAdminError(401, "APIGW.0301");
        (await new Faults(service.BaseAddress, "let-me-out").SendAsync(HttpMethod.Get, Faults.Path)).ExpectAdminError(401, "APIGW.0301");
        (await new Faults(service.BaseAddress, "let-me-in-please").SendAsync(HttpMethod.Get, Faults.Path)).ExpectAdminError(401, "APIGW.0301");
        var cloudToken = await service.Client(TestAccounts.Alice).TokenAsync();
        (await new Faults(service.BaseAddress).SendAsync(HttpMethod.Get, Faults.Path, headers: new Dictionary<string, string> { ["X-Auth-Token"] = cloudToken }))
            .ExpectAdminError(401, "APIGW.0301");

        var admin = new Faults(service.BaseAddress, "let-me-in");
        var created = await admin.CreateAsync(rule);
        Assert.Single((await admin.SendAsync(HttpMethod.Get, Faults.Path)).Expect(200)["faults"].AsArray());
        await admin.DeleteAsync((string)created["id"]!);
    }

    [Fact]
    public async Task A_binding_survives_a_restart_and_the_count_is_not_spent_again()
    {
        var dataDir = TestService.NewDataDir();
        var alice = TestAccounts.Alice;
        string ruleId, jobId;

        // Steps wait ten minutes on the first host: the job is claimed and bound, then the host stops mid-job.
        await using (var first = await TestService.StartAsync(dataDir, extra: ["--Ims:Jobs:StepDelay=00:10:00"]))
        {
            var admin = new Faults(first.BaseAddress);
            ruleId = (string)(await admin.CreateAsync(new { job_type = "createVolume", error_code = "IMG.0014", count = 1 }))["id"]!;
            var client = first.Client(alice);
            jobId = (string)(await client.PostAsync($"/v2/{alice.ProjectId}/cloudvolumes", VolumeBody())).Expect(200)["job_id"]!;
            await Poll.UntilAsync(async () => (await admin.GetAsync(ruleId))["job_ids"]!.AsArray().Count == 1,
                TimeSpan.FromSeconds(30), "the rule to choose the job");
            Assert.Equal("RUNNING", (string?)(await client.GetAsync($"/v1/{alice.ProjectId}/jobs/{jobId}")).Expect(200)["status"]);
        }

        await using var second = await TestService.StartAsync(dataDir);
        var again = second.Client(alice);
        var job = await again.WaitForJobAsync(jobId);
        Assert.Equal(("FAIL", "IMG.0014"), ((string?)job["status"], (string?)job["error_code"]));
        Assert.Equal("An exception occurred when IaaS OpenStack was executing the task.", (string?)job["fail_reason"]);

        var rule = await new Faults(second.BaseAddress).GetAsync(ruleId);
        Assert.Equal(0, (int)rule["remaining"]!);
        Assert.Equal([jobId], rule["job_ids"]!.AsArray().Select(j => (string)j!));
        // The one job the rule was allowed has been chosen; the next one is not.
        var next = (await again.PostAsync($"/v2/{alice.ProjectId}/cloudvolumes", VolumeBody())).Expect(200);
        await again.WaitForJobSuccessAsync((string)next["job_id"]!);
    }

    [Fact]
    public async Task A_delay_longer_than_the_lease_keeps_the_job_with_its_worker()
    {
        // Four workers and a two-second lease: were the lease not renewed during the wait, another worker would
        // take the job over while it waits, counting a second attempt. (A one-second lease proved too tight for a
        // machine whose two cores the rest of the suite keeps busy.)
        await using var service = await TestService.StartAsync(extra: ["--Ims:Jobs:Lease=00:00:02"]);
        var client = service.Client(TestAccounts.Alice);
        await new Faults(service.BaseAddress).CreateAsync(new { job_type = "createVolume", delay_ms = 5_000, count = 1 });

        var accepted = (await client.PostAsync($"/v2/{client.ProjectId}/cloudvolumes", VolumeBody())).Expect(200);
        var jobId = (string)accepted["job_id"]!;
        await client.WaitForJobSuccessAsync(jobId);

        await using var connection = await service.App.Services.GetRequiredService<Database>().OpenAsync(CancellationToken.None);
        Assert.Equal(1, await connection.ExecuteScalarAsync<long>("SELECT attempts FROM jobs WHERE id = @jobId", new { jobId }));
    }

    [Theory]
    [InlineData("127.0.0.1", null, null, 200)]
    [InlineData("::1", null, null, 200)]
    [InlineData("::ffff:127.0.0.1", null, null, 200)]
    [InlineData("10.1.2.3", null, null, 403)]
    [InlineData("::ffff:10.1.2.3", null, null, 403)]
    [InlineData(null, null, null, 403)]
    [InlineData("10.1.2.3", "s3cret", "s3cret", 200)]
    [InlineData("10.1.2.3", "s3cret", "S3cret", 401)]
    [InlineData("127.0.0.1", "s3cret", null, 401)]
    [InlineData("127.0.0.1", "s3cret", "s3cret", 200)]
    public async Task The_admin_gate_admits_loopback_callers_or_holders_of_the_admin_token(string? remote, string? configured, string? sent,
        int expected)
    {
        var options = Options.Create(new ServiceOptions { AdminToken = configured });
        var http = new DefaultHttpContext
        {
            RequestServices = new ServiceCollection().AddSingleton(options).BuildServiceProvider(),
        };
        http.Connection.RemoteIpAddress = remote is null ? null : IPAddress.Parse(remote);
        if (sent is not null) http.Request.Headers[AdminAccess.TokenHeader] = sent;

        var result = await AdminAccess.CheckAsync(new DefaultEndpointFilterInvocationContext(http), _ => ValueTask.FromResult<object?>("admitted"));

        if (expected == 200) Assert.Equal("admitted", result);
        else Assert.Equal(expected, Assert.IsType<ApiError>(result).Status);
    }

    private static object VolumeBody() =>
        new { volume = new { availability_zone = Servers.Zone, volume_type = "SAS", size = 10, name = Servers.UniqueName("vol") } };

    private static async Task<string?> VolumeStatusAsync(ApiClient client, string volumeId) =>
        (string?)(await client.GetAsync($"/v2/{client.ProjectId}/cloudvolumes/{volumeId}")).Expect(200)["volume"]["status"];
}
