using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ims;

/// <summary>Deleting whole images (with and without their backup) and turning them back into servers.</summary>
public sealed class WholeImageLifecycleTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;

    private async Task<(string ImageId, string BackupId, string CheckpointId, TestServer Server)> MakeImageAsync(ApiClient client, params int[] dataDisks)
    {
        var server = await TestServers.CreateAsync(Service, client, dataDisks);
        var (_, checkpointId) = await Cbr.BackUpAsync(client, server.Id);
        var backupId = (string)(await client.GetAsync($"/v3/{client.ProjectId}/backups?checkpoint_id={checkpointId}")).Expect(200)["backups"][0]!["id"]!;
        var (_, image) = await WholeImages.WaitForImageAsync(client, await WholeImages.CreateAsync(client, WholeImages.FromCbr(backupId)));
        return ((string)image["id"]!, backupId, checkpointId, server);
    }

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task Deleting_with_delete_backup_removes_the_image_its_backup_and_the_emptied_checkpoint(AuthMode mode)
    {
        var client = Service.Client(TestAccounts.Alice, mode);
        var (imageId, backupId, checkpointId, _) = await MakeImageAsync(client);

        (await client.DeleteAsync($"/v2/images/{imageId}", new { delete_backup = true })).Expect(204);

        Assert.Empty((await client.GetAsync($"/v2/cloudimages?id={imageId}")).Expect(200)["images"].AsArray());
        (await client.GetAsync($"/v2/images/{imageId}")).ExpectImsError(404, "IMG.0027");
        (await client.GetAsync($"/v3/{client.ProjectId}/backups/{backupId}")).Expect(404);
        (await client.GetAsync($"/v3/{client.ProjectId}/checkpoints/{checkpointId}")).Expect(404);
    }

    [Theory]
    [InlineData("""{"delete_backup":false}""")]
    [InlineData("{}")]
    [InlineData(null)]
    public async Task Deleting_without_delete_backup_keeps_the_backup(string? body)
    {
        var client = Service.Client(TestAccounts.Alice);
        var (imageId, backupId, _, _) = await MakeImageAsync(client);

        (await client.SendAsync(HttpMethod.Delete, $"/v2/images/{imageId}", body)).Expect(204);

        Assert.Empty((await client.GetAsync($"/v2/cloudimages?id={imageId}")).Expect(200)["images"].AsArray());
        var backup = (await client.GetAsync($"/v3/{client.ProjectId}/backups/{backupId}")).Expect(200)["backup"];
        Assert.Equal("available", (string?)backup["status"]);
        // The backup is free again: a new whole image can be made from it.
        await WholeImages.WaitForImageAsync(client, await WholeImages.CreateAsync(client, WholeImages.FromCbr(backupId)));
    }

    [Fact]
    public async Task A_CSBS_backed_image_deletes_its_CSBS_backup_when_asked()
    {
        var client = Service.Client(TestAccounts.Alice);
        var server = await TestServers.CreateAsync(Service, client);
        var (_, itemId) = await CsbsTests.BackUpAsync(client, server.Id);
        var (_, image) = await WholeImages.WaitForImageAsync(client, await WholeImages.CreateAsync(client, new { name = "csbs", backup_id = itemId }));

        (await client.DeleteAsync($"/v2/images/{(string)image["id"]!}", new { delete_backup = true })).Expect(204);
        (await client.GetAsync($"/v1/{client.ProjectId}/checkpoint_items/{itemId}")).Expect(404);
    }

    [Fact]
    public async Task Bad_deletes_get_their_codes()
    {
        var alice = Service.Client(TestAccounts.Alice);
        var (imageId, _, _, _) = await MakeImageAsync(alice);

        (await alice.DeleteAsync($"/v2/images/{imageId}", """{"delete_backup":"yes"}""")).ExpectImsError(400, "IMG.0001");
        (await alice.DeleteAsync($"/v2/images/{imageId}", "[")).ExpectImsError(400, "IMG.0001");
        (await alice.DeleteAsync($"/v2/images/{Servers.Ubuntu1804}")).ExpectImsError(400, "IMG.0094");
        (await alice.DeleteAsync($"/v2/images/{Guid.NewGuid()}")).ExpectImsError(404, "IMG.0027");
        (await Service.Client(TestAccounts.Bob).DeleteAsync($"/v2/images/{imageId}")).ExpectImsError(404, "IMG.0027");
        (await alice.GetAsync($"/v2/images/{imageId}")).Expect(200);
    }

    [Fact]
    public async Task An_image_being_created_cannot_be_deleted()
    {
        var client = Service.Client(TestAccounts.Bob);
        var server = await TestServers.CreateAsync(Service, client);
        var (_, backupId) = await WholeImages.CbrBackupAsync(client, server.Id);
        var faults = new Faults(Service.BaseAddress);
        var rule = await faults.CreateAsync(new { job_type = "imsCreateWholeImageByBackupJob", delay_ms = 600_000, count = 1 });

        var jobId = await WholeImages.CreateAsync(client, WholeImages.FromCbr(backupId));
        var imageId = (string)(await client.GetAsync($"/v1/{client.ProjectId}/jobs/{jobId}")).Expect(200)["entities"]["image_id"]!;
        (await client.DeleteAsync($"/v2/images/{imageId}")).ExpectImsError(400, "IMG.0090");

        await faults.DeleteAsync((string)rule["id"]!);
        await WholeImages.WaitForImageAsync(client, jobId);
        (await client.DeleteAsync($"/v2/images/{imageId}")).Expect(204);
    }

    [Fact]
    public async Task A_server_made_from_a_whole_image_gets_the_recorded_disks()
    {
        var client = Service.Client(TestAccounts.Alice);
        var (imageId, _, _, source) = await MakeImageAsync(client, 10, 20);
        var network = await Servers.CreateNetworkAsync(client, "10.40.0.0/16", "10.40.1.0/24", "10.40.1.1");

        var serverId = await Servers.CreateServerAsync(client, network, image: imageId);

        var devices = (await client.GetAsync($"/v1/{client.ProjectId}/cloudservers/{serverId}/block_device")).Expect(200)["volumeAttachments"]
            .AsArray().Select(d => (Size: (int)d!["size"]!, Boot: (int)d["bootIndex"]!, Volume: (string)d["volumeId"]!)).ToList();
        Assert.Equal(source.SystemDiskGb, devices.Single(d => d.Boot == 0).Size);
        var data = devices.Where(d => d.Boot != 0).ToList();
        Assert.Equal([10, 20], data.Select(d => d.Size).Order());
        foreach (var disk in data)
        {
            var volume = (await client.GetAsync($"/v2/{client.ProjectId}/cloudvolumes/{disk.Volume}")).Expect(200)["volume"];
            Assert.Equal("SAS", (string?)volume["volume_type"]);
            Assert.Null(volume["metadata"]?["offline"]);
        }
        Assert.Equal(imageId, (string?)(await Servers.GetServerAsync(client, serverId))["image"]!["id"]);
    }

    [Fact]
    public async Task A_windows_whole_image_without_OnlineAll_gives_servers_with_offline_data_disks()
    {
        var client = Service.Client(TestAccounts.Bob);
        var network = await Servers.CreateNetworkAsync(client, "10.50.0.0/16", "10.50.1.0/24", "10.50.1.1");
        var sourceId = await Servers.CreateServerAsync(client, network, [(10, "SSD")], image: Servers.Windows2019,
            metadata: new Dictionary<string, string> { ["san_policy"] = "OfflineInternal" });
        var vaultId = await Cbr.CreateVaultAsync(client);
        var (_, image) = await WholeImages.WaitForImageAsync(client,
            await WholeImages.CreateAsync(client, new { name = "win-full", instance_id = sourceId, vault_id = vaultId }));

        var serverId = await Servers.CreateServerAsync(client, network, image: (string)image["id"]!);

        var data = (await client.GetAsync($"/v1/{client.ProjectId}/cloudservers/{serverId}/block_device")).Expect(200)["volumeAttachments"]
            .AsArray().Single(d => (int)d!["bootIndex"]! != 0)!;
        var volume = (await client.GetAsync($"/v2/{client.ProjectId}/cloudvolumes/{(string)data["volumeId"]!}")).Expect(200)["volume"];
        Assert.Equal("true", (string?)volume["metadata"]!["offline"]);
        Assert.Equal("SSD", (string?)volume["volume_type"]);
    }

    [Fact]
    public async Task Changing_an_ECS_OS_to_a_whole_image_is_refused_but_to_a_plain_image_works()
    {
        var client = Service.Client(TestAccounts.Alice);
        var (imageId, _, _, _) = await MakeImageAsync(client);
        var target = await TestServers.CreateAsync(Service, client, 10);
        await Servers.PowerAsync(client, "os-stop", target.Id);

        var refused = await client.SendAsync(HttpMethod.Post, $"/v2/{client.ProjectId}/cloudservers/{target.Id}/changeos",
            $$$"""{"os-change":{"imageid":"{{{imageId}}}"}}""");
        refused.ExpectError(400, "Ecs.0005");
        Assert.Contains("full-ECS image", (string?)refused.Json["error"]!["message"], StringComparison.Ordinal);

        var changed = (await client.SendAsync(HttpMethod.Post, $"/v1/{client.ProjectId}/cloudservers/{target.Id}/changeos",
            $$$"""{"os-change":{"imageid":"{{{Servers.Debian11}}}"}}""")).Expect(200);
        await client.WaitForJobSuccessAsync((string)changed["job_id"]!);
        var server = await Servers.GetServerAsync(client, target.Id);
        Assert.Equal(Servers.Debian11, (string?)server["image"]!["id"]);
        Assert.Equal("ACTIVE", (string?)server["status"]);
    }
}
