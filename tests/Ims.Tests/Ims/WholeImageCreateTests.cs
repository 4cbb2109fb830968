using System.Text.Json;
using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ims;

/// <summary>The three modes of POST /v1/cloudimages/wholeimages/action, end to end over HTTP.</summary>
public sealed class WholeImageCreateTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task Mode_C_registers_a_CBR_backup_as_an_active_whole_image(AuthMode mode)
    {
        var client = Service.Client(TestAccounts.Alice, mode);
        var server = await TestServers.CreateAsync(Service, client, 10, 20);
        var (_, backupId) = await WholeImages.CbrBackupAsync(client, server.Id);
        var name = Servers.UniqueName("img");

        var jobId = await WholeImages.CreateAsync(client, new
        {
            name, description = "terraform description test", backup_id = backupId, whole_image_type = "CBR",
            image_tags = new[] { new { key = "foo", value = "bar" } }, max_ram = 4096, min_ram = 2048,
        });
        var (job, image) = await WholeImages.WaitForImageAsync(client, jobId);

        Assert.Equal("imsCreateWholeImageByBackupJob", (string?)job["job_type"]);
        Assert.Equal(name, (string?)job["entities"]!["image_name"]);
        Assert.Matches(@"Z$", (string?)job["end_time"]);
        Assert.Equal("active", (string?)image["status"]);
        Assert.Equal("true", (string?)image["__whole_image"]);
        Assert.Equal(backupId, (string?)image["__backup_id"]);
        Assert.Equal("4096", (string?)image["max_ram"]);
        Assert.Equal(2048, (int)image["min_ram"]!);
        Assert.Equal(TestServers.SystemDiskGb, (int)image["min_disk"]!);
        Assert.Equal(((long)server.TotalGb << 30).ToString(System.Globalization.CultureInfo.InvariantCulture), (string?)image["__image_size"]);
        Assert.Equal("terraform description test", (string?)image["__description"]);
        Assert.Equal(["foo=bar"], image["tags"]!.AsArray().Select(t => (string)t!));
        Assert.Equal($"backup,{backupId}", (string?)image["__data_origin"]);
        Assert.Equal("uds", (string?)image["__image_source_type"]);
        Assert.Equal("private", (string?)image["__imagetype"]);
        Assert.Equal("0", (string?)image["enterprise_project_id"]);
        Assert.Equal("Linux", (string?)image["__os_type"]);
        Assert.Equal(JsonValueKind.String, image["max_ram"]!.GetValueKind());
        Assert.Equal(JsonValueKind.Number, image["min_disk"]!.GetValueKind());
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$", (string?)image["active_at"]);

        // The native API and the whole-image filter show it too.
        (await client.GetAsync($"/v2/images/{(string)image["id"]!}")).Expect(200);
        var whole = (await client.GetAsync("/v2/cloudimages?__whole_image=true&limit=1000")).Expect(200)["images"].AsArray();
        Assert.Contains(whole, i => (string?)i!["id"] == (string?)image["id"]);
    }

    [Fact]
    public async Task Mode_B_registers_a_CSBS_backup_without_a_type()
    {
        var client = Service.Client(TestAccounts.Alice);
        var server = await TestServers.CreateAsync(Service, client, 10);
        var (_, itemId) = await CsbsTests.BackUpAsync(client, server.Id);

        var jobId = await WholeImages.CreateAsync(client, new { name = Servers.UniqueName("img"), backup_id = itemId, tags = new[] { "owner.team_a" } });
        var (job, image) = await WholeImages.WaitForImageAsync(client, jobId);

        Assert.Equal("imsCreateWholeImageByBackupJob", (string?)job["job_type"]);
        Assert.Equal(itemId, (string?)image["__backup_id"]);
        Assert.Equal(["owner=team_a"], image["tags"]!.AsArray().Select(t => (string)t!));
    }

    [Fact]
    public async Task Mode_A_backs_the_server_up_into_the_vault_and_registers_that_backup()
    {
        var client = Service.Client(TestAccounts.Alice);
        var server = await TestServers.CreateAsync(Service, client, 10, 20);
        var vaultId = await Cbr.CreateVaultAsync(client);

        var jobId = await WholeImages.CreateAsync(client, new { name = Servers.UniqueName("img"), description = "", instance_id = server.Id, vault_id = vaultId });
        var (job, image) = await WholeImages.WaitForImageAsync(client, jobId);

        Assert.Equal("imsCreateWholeImageByInstanceJob", (string?)job["job_type"]);
        Assert.Equal(100.0, (double)job["entities"]!["process_percent"]!);
        // terraform's ECS-whole-image read: the backup must be a CBR backup of this server in this vault.
        var backup = (await client.GetAsync($"/v3/{client.ProjectId}/backups/{(string)image["__backup_id"]!}")).Expect(200)["backup"];
        Assert.Equal(server.Id, (string?)backup["resource_id"]);
        Assert.Equal(vaultId, (string?)backup["vault_id"]);
        Assert.Equal("available", (string?)backup["status"]);
        Assert.Equal($"instance,{server.Id}", (string?)image["__data_origin"]);

        // IMS added the server to the vault, and released it when the backup was taken.
        var vault = (await client.GetAsync($"/v3/{client.ProjectId}/vaults/{vaultId}")).Expect(200)["vault"];
        Assert.Contains(vault["resources"]!.AsArray(), r => (string?)r!["id"] == server.Id);
        Assert.Null(await TestServers.TaskStateAsync(client, server.Id));
    }

    [Fact]
    public async Task The_progress_endpoint_answers_the_same_job_with_a_rising_percentage()
    {
        var client = Service.Client(TestAccounts.Alice);
        var server = await TestServers.CreateAsync(Service, client);
        var (_, backupId) = await WholeImages.CbrBackupAsync(client, server.Id);
        var jobId = await WholeImages.CreateAsync(client, WholeImages.FromCbr(backupId));
        await client.WaitForJobSuccessAsync(jobId);

        var progress = (await client.GetAsync($"/v1/cloudimages/job/{jobId}")).Expect(200);
        Assert.Equal("SUCCESS", (string?)progress["status"]);
        Assert.Equal(JsonValueKind.Number, progress["entities"]["process_percent"]!.GetValueKind());
        Assert.Equal(100.0, (double)progress["entities"]["process_percent"]!);
        (await client.GetAsync($"/v1/cloudimages/job/{Guid.NewGuid():N}")).ExpectImsError(404, "IMG.0031");
    }

    [Fact]
    public async Task A_backup_yields_one_image_even_when_fifty_requests_race()
    {
        var client = Service.Client(TestAccounts.Alice);
        var server = await TestServers.CreateAsync(Service, client);
        var (_, backupId) = await WholeImages.CbrBackupAsync(client, server.Id);

        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => client.PostAsync(WholeImages.CreatePath, WholeImages.FromCbr(backupId))));

        var accepted = answers.Where(a => a.Code == 200).ToList();
        Assert.Single(accepted);
        Assert.All(answers.Where(a => a.Code != 200), a => a.ExpectImsError(400, "IMG.0029"));
        await WholeImages.WaitForImageAsync(client, (string)accepted[0]["job_id"]!);
        (await client.PostAsync(WholeImages.CreatePath, WholeImages.FromCbr(backupId))).ExpectImsError(400, "IMG.0029");
    }

    [Fact]
    public async Task A_used_CSBS_backup_is_IMG_0134()
    {
        var client = Service.Client(TestAccounts.Alice);
        var server = await TestServers.CreateAsync(Service, client);
        var (_, itemId) = await CsbsTests.BackUpAsync(client, server.Id);
        await WholeImages.WaitForImageAsync(client, await WholeImages.CreateAsync(client, new { name = "first", backup_id = itemId }));
        (await client.PostAsync(WholeImages.CreatePath, new { name = "second", backup_id = itemId, whole_image_type = "CSBS" }))
            .ExpectImsError(400, "IMG.0134");
    }

    [Fact]
    public async Task Another_projects_backup_and_server_answer_like_missing_ones()
    {
        var alice = Service.Client(TestAccounts.Alice);
        var bob = Service.Client(TestAccounts.Bob);
        var server = await TestServers.CreateAsync(Service, alice);
        var (vaultId, backupId) = await WholeImages.CbrBackupAsync(alice, server.Id);

        (await bob.PostAsync(WholeImages.CreatePath, WholeImages.FromCbr(backupId))).ExpectImsError(400, "IMG.0020");
        (await bob.PostAsync(WholeImages.CreatePath, new { name = "x", instance_id = server.Id, vault_id = vaultId })).ExpectImsError(400, "IMG.0005");

        var jobId = await WholeImages.CreateAsync(alice, WholeImages.FromCbr(backupId));
        var (_, image) = await WholeImages.WaitForImageAsync(alice, jobId);
        (await bob.GetAsync($"/v1/{bob.ProjectId}/jobs/{jobId}")).ExpectImsError(404, "IMG.0031");
        Assert.Empty((await bob.GetAsync($"/v2/cloudimages?id={(string)image["id"]!}")).Expect(200)["images"].AsArray());
        (await bob.GetAsync($"/v2/images/{(string)image["id"]!}")).ExpectImsError(404, "IMG.0027");
    }

    [Fact]
    public async Task Mode_A_without_a_vault_is_IMG_0190_where_CSBS_is_not_offered()
    {
        var client = Service.Client(TestAccounts.Alice);
        var server = await TestServers.CreateAsync(Service, client);
        (await client.PostAsync(WholeImages.CreatePath, new { name = "x", instance_id = server.Id })).ExpectImsError(400, "IMG.0190");
    }

    [Fact]
    public async Task Windows_servers_whose_SAN_policy_is_not_OnlineAll_are_imaged()
    {
        var client = Service.Client(TestAccounts.Alice);
        var network = await Servers.CreateNetworkAsync(client, "10.20.0.0/16", "10.20.1.0/24", "10.20.1.1");
        var serverId = await Servers.CreateServerAsync(client, network, [(10, "SAS")], image: Servers.Windows2019,
            metadata: new Dictionary<string, string> { ["san_policy"] = "OfflineShared" });
        var vaultId = await Cbr.CreateVaultAsync(client);

        var (_, image) = await WholeImages.WaitForImageAsync(client,
            await WholeImages.CreateAsync(client, new { name = Servers.UniqueName("win"), instance_id = serverId, vault_id = vaultId }));
        Assert.Equal("Windows", (string?)image["__os_type"]);
        Assert.Equal("active", (string?)image["status"]);
    }
}
