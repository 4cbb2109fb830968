using System.Text.Json.Nodes;
using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ims;

/// <summary>
/// Cross-region copy (Huawei) between the regions one deployment serves: Alice's cn-north-4 project copies whole images
/// into her account's cn-east-3 project, where a replica of the backup lands in a vault and the new image is registered.
/// </summary>
public sealed class CrossRegionCopyTests(SharingFixture fixture) : IClassFixture<SharingFixture>
{
    private TestService Service => fixture.Service;
    private ApiClient Alice => Service.Client(SharingAccounts.Alice);
    private ApiClient AliceEast => Service.Client(SharingAccounts.AliceEast);
    private ApiClient Bob => Service.Client(SharingAccounts.Bob);

    private static string CopyPath(string imageId) => $"/v1/cloudimages/{imageId}/cross_region_copy";

    private Task<string> WholeImageAsync() => fixture.OnceAsync("alice-whole", async () => (await Sharing.CbrImageAsync(Service, Alice)).ImageId);

    private Task<string> EastVaultAsync() => fixture.OnceAsync("alice-east-vault", () => Sharing.ServerVaultAsync(AliceEast, 1000));

    /// <summary>The body terraform's huaweicloud_images_image_copy sends, plus the vault a whole image needs.</summary>
    private static JsonObject Body(string? vaultId, string? name = null) => new()
    {
        ["name"] = name ?? Servers.UniqueName("copy"),
        ["description"] = "replica",
        ["region"] = SharingAccounts.East,
        ["project_name"] = SharingAccounts.East,
        ["agency_name"] = "ims_admin_agency",
        ["vault_id"] = vaultId,
    };

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task A_whole_image_is_copied_into_the_target_regions_project_with_its_own_CBR_backup(AuthMode mode)
    {
        var alice = Service.Client(SharingAccounts.Alice, mode);
        var east = Service.Client(SharingAccounts.AliceEast, mode);
        var (sourceId, sourceBackupId) = await Sharing.CbrImageAsync(Service, alice);
        var vaultId = await Sharing.ServerVaultAsync(east);
        var body = Body(vaultId);

        var response = (await alice.PostAsync(CopyPath(sourceId), body)).Expect(200);
        var jobId = (string?)response["job_id"];
        Assert.Matches("^[0-9a-f]{32}$", jobId);
        // The job belongs to the source project: terraform polls it there.
        var job = await alice.WaitForJobSuccessAsync(jobId!);
        Assert.Equal("imsCrossRegionCopyImageJob", (string?)job["job_type"]);
        var imageId = (string?)job["entities"]!["image_id"];
        Assert.False(string.IsNullOrEmpty(imageId));
        Assert.NotEqual(sourceId, imageId);
        Assert.Equal((string?)body["name"], (string?)job["entities"]!["image_name"]);

        // The new image lives in the target project, as terraform reads it with a client of the target region.
        var image = Assert.Single((await east.GetAsync($"/v2/cloudimages?id={imageId}")).Expect(200)["images"].AsArray())!;
        var source = (await alice.GetAsync($"/v2/images/{sourceId}")).Expect(200).Json;
        Assert.Equal(east.ProjectId, (string?)image["owner"]);
        Assert.Equal("active", (string?)image["status"]);
        Assert.Equal("private", (string?)image["__imagetype"]);
        Assert.Equal("true", (string?)image["__whole_image"]);
        Assert.Equal((string?)body["name"], (string?)image["name"]);
        Assert.Equal("replica", (string?)image["__description"]);
        Assert.Equal($"image,cn-north-4,{sourceId}", (string?)image["__data_origin"]);
        foreach (var same in new[] { "min_disk", "__image_size", "__os_type", "__os_version", "__platform", "__os_bit", "disk_format" })
            Assert.Equal(source[same]!.ToJsonString(), image[same]!.ToJsonString());
        Assert.Contains(imageId, await Sharing.ListedAsync(east, "&__whole_image=true"));
        Assert.Empty((await alice.GetAsync($"/v2/cloudimages?id={imageId}")).Expect(200)["images"].AsArray());
        (await alice.GetAsync($"/v2/images/{imageId}")).ExpectImsError(404, "IMG.0027");

        // Its backup is a new CBR backup of the target project, in the vault, with the same disks.
        var backupId = (string)image["__backup_id"]!;
        Assert.NotEqual(sourceBackupId, backupId);
        var backup = (await east.GetAsync($"/v3/{east.ProjectId}/backups/{backupId}")).Expect(200)["backup"];
        var original = (await alice.GetAsync($"/v3/{alice.ProjectId}/backups/{sourceBackupId}")).Expect(200)["backup"];
        Assert.Equal(vaultId, (string?)backup["vault_id"]);
        Assert.Equal(east.ProjectId, (string?)backup["project_id"]);
        Assert.Equal("available", (string?)backup["status"]);
        Assert.Equal((string?)original["resource_id"], (string?)backup["resource_id"]);
        Assert.Equal((int)original["resource_size"]!, (int)backup["resource_size"]!);
        Assert.Equal(
            original["children"]!.AsArray().Select(c => ((string?)c!["resource_id"], (int)c["resource_size"]!)).Order(),
            backup["children"]!.AsArray().Select(c => ((string?)c!["resource_id"], (int)c["resource_size"]!)).Order());
        Assert.Contains(backup["extend_info"]!["os_images_data"]!.AsArray(), i => (string?)i!["image_id"] == imageId);
        (await east.GetAsync($"/v3/{east.ProjectId}/checkpoints/{(string)backup["checkpoint_id"]!}")).Expect(200);
        (await alice.GetAsync($"/v3/{alice.ProjectId}/backups/{backupId}")).Expect(404);

        // The source is untouched; the copy is the target's own to share, delete, and so on.
        Assert.Equal("active", (string?)source["status"]);
        (await east.DeleteAsync($"/v2/images/{imageId}", new { delete_backup = true })).Expect(204);
        (await east.GetAsync($"/v3/{east.ProjectId}/backups/{backupId}")).Expect(404);
        (await alice.GetAsync($"/v3/{alice.ProjectId}/backups/{sourceBackupId}")).Expect(200);
    }

    [Fact]
    public async Task Without_a_project_name_the_accounts_only_project_of_the_region_is_the_target()
    {
        var bobEast = Service.Client(SharingAccounts.BobEast);
        var (imageId, _) = await Sharing.CbrImageAsync(Service, Bob);
        var body = Body(await Sharing.ServerVaultAsync(bobEast));
        body.Remove("project_name");
        var job = await Bob.WaitForJobSuccessAsync((string)(await Bob.PostAsync(CopyPath(imageId), body)).Expect(200)["job_id"]!);
        Assert.Equal(bobEast.ProjectId,
            (string?)(await bobEast.GetAsync($"/v2/images/{(string)job["entities"]!["image_id"]!}")).Expect(200)["owner"]);

        // Alice has two projects in cn-east-3: she must say which.
        var aliceBody = Body(await EastVaultAsync());
        aliceBody.Remove("project_name");
        (await Alice.PostAsync(CopyPath(await WholeImageAsync()), aliceBody)).ExpectImsError(400, "IMG.0104");
        // A sub-project of the region is a valid target when named.
        var dev = Service.Client(SharingAccounts.AliceEastDev);
        aliceBody["project_name"] = SharingAccounts.AliceEastDev.ProjectName;
        aliceBody["vault_id"] = await Sharing.ServerVaultAsync(dev);
        var devJob = await Alice.WaitForJobSuccessAsync((string)(await Alice.PostAsync(CopyPath(await WholeImageAsync()), aliceBody)).Expect(200)["job_id"]!);
        Assert.Equal(dev.ProjectId, (string?)(await dev.GetAsync($"/v2/images/{(string)devJob["entities"]!["image_id"]!}")).Expect(200)["owner"]);
    }

    [Fact]
    public async Task The_target_must_be_another_region_of_the_callers_account()
    {
        var imageId = await WholeImageAsync();
        var vaultId = await EastVaultAsync();

        var same = Body(vaultId);
        same["region"] = "cn-north-4";
        same["project_name"] = "cn-north-4";
        (await Alice.PostAsync(CopyPath(imageId), same)).ExpectImsError(400, "IMG.0001");

        var nowhere = Body(vaultId);
        nowhere["region"] = "ap-southeast-1";
        nowhere.Remove("project_name");
        (await Alice.PostAsync(CopyPath(imageId), nowhere)).ExpectImsError(400, "IMG.0108");
        nowhere["project_name"] = "ap-southeast-1";
        (await Alice.PostAsync(CopyPath(imageId), nowhere)).ExpectImsError(400, "IMG.0145");

        var wrongName = Body(vaultId);
        wrongName["project_name"] = "cn-north-4";
        (await Alice.PostAsync(CopyPath(imageId), wrongName)).ExpectImsError(400, "IMG.0145");
        wrongName["project_name"] = "cn-east-3_nope";
        (await Alice.PostAsync(CopyPath(imageId), wrongName)).ExpectImsError(400, "IMG.0145");
    }

    [Fact]
    public async Task A_whole_image_needs_a_server_backup_vault_of_the_target_project()
    {
        var imageId = await WholeImageAsync();
        (await Alice.PostAsync(CopyPath(imageId), Body(null))).ExpectImsError(400, "IMG.0184");
        (await Alice.PostAsync(CopyPath(imageId), Body(""))).ExpectImsError(400, "IMG.0184");
        (await Alice.PostAsync(CopyPath(imageId), Body(Guid.NewGuid().ToString()))).ExpectImsError(400, "IMG.0184");
        // A vault of the source region is not one of the target's.
        (await Alice.PostAsync(CopyPath(imageId), Body(await Sharing.ServerVaultAsync(Alice)))).ExpectImsError(400, "IMG.0184");
        var diskVault = (string)(await AliceEast.PostAsync($"/v3/{AliceEast.ProjectId}/vaults", Cbr.VaultBody(Cbr.NewName(), objectType: "disk")))
            .Expect(200)["vault"]["id"]!;
        (await Alice.PostAsync(CopyPath(imageId), Body(diskVault))).ExpectImsError(400, "IMG.0193");
    }

    [Fact]
    public async Task A_vault_too_small_fails_the_job_and_leaves_nothing_behind()
    {
        var imageId = await WholeImageAsync();
        var tiny = await Sharing.ServerVaultAsync(AliceEast, 10);
        var job = await Alice.WaitForJobAsync((string)(await Alice.PostAsync(CopyPath(imageId), Body(tiny))).Expect(200)["job_id"]!);
        Assert.Equal("FAIL", (string?)job["status"]);
        Assert.Equal("IMG.0182", (string?)job["error_code"]);
        Assert.False(string.IsNullOrEmpty((string?)job["fail_reason"]));
        var copyId = (string)job["entities"]!["image_id"]!;
        Assert.Empty((await AliceEast.GetAsync($"/v2/cloudimages?id={copyId}")).Expect(200)["images"].AsArray());
        (await AliceEast.GetAsync($"/v2/images/{copyId}")).ExpectImsError(404, "IMG.0027");
        Assert.Equal(0, (int)(await AliceEast.GetAsync($"/v3/{AliceEast.ProjectId}/backups?vault_id={tiny}")).Expect(200)["count"]!);
    }

    [Fact]
    public async Task A_failure_injected_while_replicating_removes_the_replica()
    {
        var imageId = await WholeImageAsync();
        var vaultId = await Sharing.ServerVaultAsync(AliceEast);
        var faults = new Faults(Service.BaseAddress);
        var rule = await faults.CreateAsync(new { job_type = "imsCrossRegionCopyImageJob", step = "RegisterImage", error_code = "IMG.0014", count = 1 });
        try
        {
            var job = await Alice.WaitForJobAsync((string)(await Alice.PostAsync(CopyPath(imageId), Body(vaultId))).Expect(200)["job_id"]!);
            Assert.Equal("FAIL", (string?)job["status"]);
            Assert.Equal("IMG.0014", (string?)job["error_code"]);
            Assert.Empty((await AliceEast.GetAsync($"/v2/cloudimages?id={(string)job["entities"]!["image_id"]!}")).Expect(200)["images"].AsArray());
            Assert.Equal(0, (int)(await AliceEast.GetAsync($"/v3/{AliceEast.ProjectId}/backups?vault_id={vaultId}")).Expect(200)["count"]!);
        }
        finally
        {
            await faults.DeleteAsync((string)rule["id"]!);
        }
    }

    [Fact]
    public async Task A_member_copies_a_shared_image_only_once_it_has_accepted_it()
    {
        var (imageId, _) = await Sharing.CbrImageAsync(Service, Alice);
        var bobEast = Service.Client(SharingAccounts.BobEast);
        var vaultId = await Sharing.ServerVaultAsync(bobEast);
        await Sharing.ShareAsync(Alice, imageId, Bob.ProjectId);

        (await Bob.PostAsync(CopyPath(imageId), Body(vaultId))).ExpectImsError(400, "IMG.0196");
        (await Bob.PutAsync($"{Sharing.MembersPath(imageId)}/{Bob.ProjectId}", new { status = "rejected" })).Expect(200);
        (await Bob.PostAsync(CopyPath(imageId), Body(vaultId))).ExpectImsError(400, "IMG.0196");

        await Sharing.AcceptAsync(Bob, imageId, await Sharing.ServerVaultAsync(Bob));
        var job = await Bob.WaitForJobSuccessAsync((string)(await Bob.PostAsync(CopyPath(imageId), Body(vaultId))).Expect(200)["job_id"]!);
        var copy = (await bobEast.GetAsync($"/v2/images/{(string)job["entities"]!["image_id"]!}")).Expect(200).Json;
        Assert.Equal(bobEast.ProjectId, (string?)copy["owner"]);
        Assert.Equal($"image,cn-north-4,{imageId}", (string?)copy["__data_origin"]);
    }

    [Fact]
    public async Task Public_unknown_and_foreign_images_are_refused()
    {
        var vaultId = await EastVaultAsync();
        (await Alice.PostAsync(CopyPath(Servers.Ubuntu1804), Body(vaultId))).ExpectImsError(400, "IMG.0083");
        (await Alice.PostAsync(CopyPath(Guid.NewGuid().ToString()), Body(vaultId))).ExpectImsError(404, "IMG.0027");
        (await Bob.PostAsync(CopyPath(await WholeImageAsync()), Body(vaultId))).ExpectImsError(404, "IMG.0027");
    }

    [Fact]
    public async Task The_target_projects_quota_counts_the_copy()
    {
        await using var service = await SharingAccounts.StartAsync("--Ims:ImageQuota=1");
        var alice = service.Client(SharingAccounts.Alice);
        var east = service.Client(SharingAccounts.AliceEast);
        var (imageId, _) = await Sharing.CbrImageAsync(service, alice);
        var vaultId = await Sharing.ServerVaultAsync(east);
        await alice.WaitForJobSuccessAsync((string)(await alice.PostAsync(CopyPath(imageId), Body(vaultId))).Expect(200)["job_id"]!);
        (await alice.PostAsync(CopyPath(imageId), Body(vaultId))).ExpectImsError(400, "IMG.0015");
    }

    [Theory]
    [InlineData(null, "IMG.0007")]
    [InlineData("{", "IMG.0001")]
    [InlineData("[]", "IMG.0001")]
    [InlineData("{}", "IMG.0013")]
    [InlineData("""{"name":"c","region":"cn-east-3","project_name":"cn-east-3"}""", "IMG.0001")]
    [InlineData("""{"name":"c","project_name":"cn-east-3","agency_name":"a"}""", "IMG.0001")]
    [InlineData("""{"name":"c","region":"","project_name":"cn-east-3","agency_name":"a"}""", "IMG.0001")]
    [InlineData("""{"name":"c","region":3,"project_name":"cn-east-3","agency_name":"a"}""", "IMG.0001")]
    [InlineData("""{"name":"c","region":"cn-east-3","project_name":["cn-east-3"],"agency_name":"a"}""", "IMG.0001")]
    [InlineData("""{"name":"c","region":"cn-east-3","project_name":"cn-east-3","agency_name":"a","vault_id":{}}""", "IMG.0001")]
    [InlineData("""{"name":"c d ","region":"cn-east-3","project_name":"cn-east-3","agency_name":"a"}""", "IMG.0003")]
    [InlineData("""{"name":"c","description":"<b>","region":"cn-east-3","project_name":"cn-east-3","agency_name":"a"}""", "IMG.0054")]
    [InlineData("""{"name":"c","region":"cn-east-3","project_name":"cn-east-3","agency_name":"a","enterprise_project_id":"x"}""", "IMG.0155")]
    public async Task Bodies_are_checked_before_the_image(string? body, string code)
    {
        var imageId = await WholeImageAsync();
        (await Alice.SendAsync(HttpMethod.Post, CopyPath(imageId), body ?? "")).ExpectImsError(400, code);
        (await Alice.SendAsync(HttpMethod.Post, CopyPath(Guid.NewGuid().ToString()), body ?? "")).ExpectImsError(400, code);
    }

    [Fact]
    public async Task The_OTC_profile_has_no_cross_region_copy()
    {
        await using var otc = await SharingAccounts.StartAsync("--Ims:Profile=Otc");
        var response = await otc.Client(SharingAccounts.Alice).PostAsync(CopyPath(Guid.NewGuid().ToString()), Body(null));
        response.Expect(404);
        Assert.Equal("APIGW.0101", (string?)response.Json["error_code"]);
        // Huawei with the feature switched off answers the same.
        await using var off = await SharingAccounts.StartAsync("--Ims:CrossRegionCopy=false");
        var refused = await off.Client(SharingAccounts.Alice).PostAsync(CopyPath(Guid.NewGuid().ToString()), Body(null));
        refused.Expect(404);
        Assert.Equal("APIGW.0101", (string?)refused.Json["error_code"]);
    }

    [Fact]
    public async Task A_data_disk_image_is_copied_across_regions_with_its_bytes_and_without_a_vault()
    {
        var volumeId = await Servers.CreateVolumeAsync(Alice, size: 10);
        await DataPlane.DiskBytes.WriteAsync(Alice, volumeId, 0, DataPlane.DiskBytes.Pattern(21, 1024 * 1024));
        var made = (await Alice.PostAsync("/v2/cloudimages/action", new { data_images = new[] { new { name = "east-bound", volume_id = volumeId } } })).Expect(200);
        var madeJob = await Alice.WaitForJobSuccessAsync((string)made["job_id"]!);
        var sourceId = (string)madeJob["entities"]!["sub_jobs_result"]![0]!["entities"]!["image_id"]!;

        var job = await Alice.WaitForJobSuccessAsync((string)(await Alice.PostAsync(CopyPath(sourceId), Body(vaultId: null))).Expect(200)["job_id"]!);

        Assert.Equal("imsCrossRegionCopyImageJob", (string?)job["job_type"]);
        var imageId = (string)job["entities"]!["image_id"]!;
        var image = Assert.Single((await AliceEast.GetAsync($"/v2/cloudimages?id={imageId}")).Expect(200)["images"].AsArray())!;
        Assert.Equal("active", (string?)image["status"]);
        Assert.Equal("DataImage", (string?)image["virtual_env_type"]);
        Assert.Equal("false", (string?)image["__whole_image"]);
        Assert.Equal($"image,cn-north-4,{sourceId}", (string?)image["__data_origin"]);
        Assert.Equal(10L * DataPlane.DiskBytes.Gib, (long)image["virtual_size"]!);

        // A disk made from the copy in the other region holds the source disk's bytes.
        var accepted = (await AliceEast.PostAsync($"/v2.1/{AliceEast.ProjectId}/cloudvolumes", new
        {
            volume = new { availability_zone = Servers.Zone, volume_type = "SAS", size = 10, name = "from-copy", imageRef = imageId },
        })).Expect(200);
        var diskId = (string)(await AliceEast.WaitForJobSuccessAsync((string)accepted["job_id"]!))["entities"]!["volume_id"]!;
        Assert.Equal(await DataPlane.DiskBytes.ChunksAsync(Alice, volumeId), await DataPlane.DiskBytes.ChunksAsync(AliceEast, diskId));
    }
}
