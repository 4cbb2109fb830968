using System.Text.Json.Nodes;
using Dapper;
using Ims.Service.Storage;
using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;
using Ims.Tests.Ims;
using Microsoft.Extensions.DependencyInjection;

namespace Ims.Tests.Storage;

/// <summary>
/// The rules SQLite's single writer made race-free, raced: many requests (or job workers) at once, and the limit
/// holds. On PostgreSQL (<c>IMS_TEST_POSTGRES</c>) write transactions really run side by side, so each of these fails
/// without the lock or constraint that guards its rule; on SQLite they show the same outcome.
/// </summary>
public sealed class ConcurrencyTests
{
    [Fact]
    public async Task Concurrent_creations_never_exceed_the_image_quota()
    {
        await using var service = await TestService.StartAsync(extra: ["--Ims:ImageQuota=5"]);
        var alice = service.Client(TestAccounts.Alice);
        (await alice.GetAsync("/v1/cloudimages/quota")).Expect(200);

        var responses = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => alice.PostAsync(ImageFiles.CreatePath, new JsonObject
        {
            ["name"] = Servers.UniqueName("quota"),
            ["disk_format"] = "raw",
            ["container_format"] = "bare",
            ["__os_version"] = "Ubuntu 18.04 server 64bit",
        }.ToJsonString())));

        Assert.Equal(5, responses.Count(r => r.Code == 201));
        foreach (var refused in responses.Where(r => r.Code != 201)) refused.ExpectImsError(400, "IMG.0015");
        var quota = (await alice.GetAsync("/v1/cloudimages/quota")).Expect(200)["quotas"]["resources"]![0]!;
        Assert.Equal(5, (int)quota["used"]!);
    }

    [Fact]
    public async Task Concurrent_shares_never_give_a_whole_image_more_than_ten_members()
    {
        await using var service = await SharingAccounts.StartAsync();
        var alice = service.Client(SharingAccounts.Alice);
        var (imageId, _) = await Sharing.CbrImageAsync(service, alice);

        // Eleven projects at once through the Glance API...
        var responses = await Task.WhenAll(SharingAccounts.Crowd.Select(member =>
            alice.PostAsync(Sharing.MembersPath(imageId), new { member = member.ProjectId })));
        Assert.Equal(10, responses.Count(r => r.Code == 200));
        Assert.Single(responses, r => r.Code != 200).ExpectImsError(400, "IMG.0088");
        Assert.Equal(10, (await alice.GetAsync(Sharing.MembersPath(imageId))).Expect(200)["members"].AsArray().Count);

        // ...and through two batch requests that each fit alone: a slowing rule holds both jobs until both requests are
        // in, then different workers run them at once. Ten members in all, and the eleventh project's pair fails.
        var (second, _) = await Sharing.CbrImageAsync(service, alice);
        var faults = new Faults(service.BaseAddress);
        var slow = await faults.CreateAsync(new { job_type = "imsAddImageMembersJob", delay_ms = 1000 });
        var halves = new[] { SharingAccounts.Crowd.Take(6), SharingAccounts.Crowd.Skip(5) };
        var jobs = await Task.WhenAll(halves.Select(half => Sharing.BatchAsync(alice, HttpMethod.Post,
            new { images = new[] { second }, projects = half.Select(m => m.ProjectId).ToArray() })));
        await faults.DeleteAsync((string)slow["id"]!);
        Assert.Equal(10, (await alice.GetAsync(Sharing.MembersPath(second))).Expect(200)["members"].AsArray().Count);
        var results = jobs.SelectMany(j => j["entities"]!["results"]!.AsArray()).ToList();
        Assert.Equal(10, results.Where(r => (string?)r!["status"] == "success").Select(r => (string)r!["project_id"]!).Distinct().Count());
        Assert.Single(results, r => (string?)r!["status"] == "failed");
    }

    [Fact]
    public async Task Concurrent_whole_image_requests_make_one_image_of_a_backup()
    {
        await using var service = await TestService.StartAsync();
        var alice = service.Client(TestAccounts.Alice);
        var server = await TestServers.CreateAsync(service, alice, 10);
        var (_, backupId) = await WholeImages.CbrBackupAsync(alice, server.Id);

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ =>
            alice.PostAsync(WholeImages.CreatePath, WholeImages.FromCbr(backupId))));

        var accepted = Assert.Single(responses, r => r.Code == 200);
        foreach (var refused in responses.Where(r => r.Code != 200)) refused.ExpectImsError(400, "IMG.0029");
        await WholeImages.WaitForImageAsync(alice, (string)accepted["job_id"]!);
        var images = (await alice.GetAsync("/v2/cloudimages?limit=1000")).Expect(200)["images"].AsArray();
        Assert.Single(images, i => ((string?)i!["__backup_id"]) == backupId);
    }

    [Fact]
    public async Task Concurrent_associations_put_a_server_in_one_vault()
    {
        await using var service = await TestService.StartAsync();
        var alice = service.Client(TestAccounts.Alice);
        var server = await TestServers.CreateAsync(service, alice);
        var vaults = new List<string>();
        for (var i = 0; i < 12; i++) vaults.Add(await Cbr.CreateVaultAsync(alice));

        var responses = await Task.WhenAll(vaults.Select(vault => alice.PostAsync($"/v3/{alice.ProjectId}/vaults/{vault}/addresources",
            new { resources = new[] { Cbr.ServerResource(server.Id) } })));

        Assert.Single(responses, r => r.Code == 200);
        foreach (var refused in responses.Where(r => r.Code != 200)) refused.ExpectBackupError(400, "BackupService.6103");
        var holding = (await alice.GetAsync($"/v3/{alice.ProjectId}/vaults?limit=100")).Expect(200)["vaults"].AsArray()
            .Where(v => v!["resources"]!.AsArray().Any(r => (string?)r!["id"] == server.Id));
        Assert.Single(holding);
    }

    [Fact]
    public async Task Concurrent_workers_claim_each_job_once_and_a_fault_count_chooses_exactly_that_many()
    {
        await using var service = await TestService.StartAsync(extra: ["--Ims:Jobs:Workers=8"]);
        var alice = service.Client(TestAccounts.Alice);
        var faults = new Faults(service.BaseAddress);
        await faults.CreateAsync(new { job_type = "createVolume", error_code = "EVS.5400", message = "No capacity left.", count = 4 });

        var accepted = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => alice.PostAsync($"/v2/{alice.ProjectId}/cloudvolumes",
            new { volume = new { availability_zone = Servers.Zone, volume_type = "SAS", size = 10, name = Servers.UniqueName("race") } })));
        var jobIds = accepted.Select(a => (string)a.Expect(200)["job_id"]!).ToList();
        var jobs = await Task.WhenAll(jobIds.Select(id => alice.WaitForJobAsync(id)));

        Assert.Equal(4, jobs.Count(j => (string?)j["status"] == "FAIL"));
        Assert.Equal(26, jobs.Count(j => (string?)j["status"] == "SUCCESS"));
        // A job two workers both claimed would have been counted twice (each claim adds an attempt).
        await using var connection = await service.App.Services.GetRequiredService<Database>().OpenAsync(CancellationToken.None);
        var attempts = (await connection.QueryAsync<long>("SELECT attempts FROM jobs WHERE id IN @jobIds", new { jobIds })).ToList();
        Assert.Equal(30, attempts.Count);
        Assert.All(attempts, a => Assert.Equal(1, a));
    }
}
