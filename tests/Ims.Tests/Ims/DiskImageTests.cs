using System.Text.Json.Nodes;
using Ims.Tests.Backups;
using Ims.Tests.DataPlane;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ims;

/// <summary>
/// System and data disk images (<c>POST /v2/cloudimages/action</c>) as terraform's huaweicloud_ims_ecs_system_image,
/// _evs_system_image and _evs_data_image make them, the servers and disks made from them, and their in-region copies.
/// </summary>
public sealed class DiskImageTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private const string ActionPath = "/v2/cloudimages/action";

    private TestService Service => fixture.Service;
    private Faults Faults => new(Service.BaseAddress);

    private static async Task<JsonNode> ImageAsync(ApiClient client, string imageId) =>
        (await client.GetAsync($"/v2/cloudimages?id={imageId}")).Expect(200)["images"].AsArray().Single()!;

    private static async Task<JsonNode> CreateAsync(ApiClient client, object body)
    {
        var accepted = (await client.PostAsync(ActionPath, body)).Expect(200);
        var jobId = (string)accepted["job_id"]!;
        Assert.Matches("^[0-9a-f]{32}$", jobId);
        return await client.WaitForJobAsync(jobId, TimeSpan.FromSeconds(120));
    }

    private static async Task<long> QuotaUsedAsync(ApiClient client) =>
        (long)(await client.GetAsync("/v1/cloudimages/quota")).Expect(200)["quotas"]!["resources"]![0]!["used"]!;

    private static async Task<string> SystemVolumeAsync(ApiClient client, string serverId)
    {
        var devices = (await client.GetAsync($"/v1/{client.ProjectId}/cloudservers/{serverId}/block_device")).Expect(200)["volumeAttachments"].AsArray();
        return (string)devices.Single(d => (int)d!["bootIndex"]! == 0)!["volumeId"]!;
    }

    /// <summary>An EVS disk made from an image, waiting for its job.</summary>
    private static async Task<string> VolumeFromImageAsync(ApiClient client, string imageId, int size)
    {
        var accepted = (await client.PostAsync($"/v2.1/{client.ProjectId}/cloudvolumes", new
        {
            volume = new { availability_zone = Servers.Zone, volume_type = "SAS", size, name = Servers.UniqueName("fromimage"), imageRef = imageId },
        })).Expect(200);
        var job = await client.WaitForJobSuccessAsync((string)accepted["job_id"]!);
        return (string)job["entities"]!["volume_id"]!;
    }

    [Fact]
    public async Task An_ECS_gives_a_system_disk_image_and_data_disk_images_with_their_bytes()
    {
        var client = Service.Client(TestAccounts.Alice);
        var server = await TestServers.CreateAsync(Service, client, 10);
        await DiskBytes.WritePatternsAsync(client, server, seed: 11);
        var dataDisk = server.DataVolumes[0].Id;

        var job = await CreateAsync(client, new
        {
            name = "web-system",
            description = "from the ECS",
            instance_id = server.Id,
            image_tags = new[] { new { key = "team", value = "a" } },
            data_images = new[] { new { name = "web-data", volume_id = dataDisk, description = "its data disk" } },
        });

        Assert.True((string?)job["status"] == "SUCCESS", job.ToJsonString());
        Assert.Equal("imsCreateImageByInstance", (string?)job["job_type"]);
        var systemImageId = (string)job["entities"]!["image_id"]!;
        Assert.Equal("web-system", (string?)job["entities"]!["image_name"]);
        var subJob = job["entities"]!["sub_jobs_result"]![0]!;
        Assert.Equal("SUCCESS", (string?)subJob["status"]);
        var dataImageId = (string)subJob["entities"]!["image_id"]!;
        Assert.Equal((string?)subJob["job_id"], (string?)job["entities"]!["sub_jobs_list"]![0]);

        var system = await ImageAsync(client, systemImageId);
        Assert.Equal("active", (string?)system["status"]);
        Assert.Equal("private", (string?)system["__imagetype"]);
        Assert.Equal("false", (string?)system["__whole_image"]);
        Assert.Equal("FusionCompute", (string?)system["virtual_env_type"]);
        Assert.Equal($"instance,{server.Id}", (string?)system["__data_origin"]);
        Assert.Equal("Linux", (string?)system["__os_type"]);
        Assert.Equal("Ubuntu 18.04 server 64bit", (string?)system["__os_version"]);
        Assert.Equal(Servers.Ubuntu1804, (string?)system["__originalimagename"]);
        Assert.Equal(TestServers.SystemDiskGb, (int)system["min_disk"]!);
        Assert.Equal(TestServers.SystemDiskGb * DiskBytes.Gib, (long)system["virtual_size"]!);
        Assert.Equal("from the ECS", (string?)system["__description"]);
        Assert.Equal(["team=a"], system["tags"]!.AsArray().Select(t => (string)t!));
        Assert.Equal("true", (string?)system["__isregistered"]);

        var data = await ImageAsync(client, dataImageId);
        Assert.Equal("DataImage", (string?)data["virtual_env_type"]);
        Assert.Equal($"volume,{dataDisk}", (string?)data["__data_origin"]);
        Assert.Equal(10, (int)data["min_disk"]!);
        Assert.Equal("its data disk", (string?)data["__description"]);
        Assert.Null(await TestServers.TaskStateAsync(client, server.Id));

        // A server from the system disk image has the source's system disk; a disk from the data image has the data disk.
        var restored = await DiskBytes.RestoredServerAsync(client, systemImageId);
        Assert.Equal(await DiskBytes.ChunksAsync(client, server.SystemVolumeId), await DiskBytes.ChunksAsync(client, await SystemVolumeAsync(client, restored)));
        var disk = await VolumeFromImageAsync(client, dataImageId, 10);
        Assert.Equal(await DiskBytes.ChunksAsync(client, dataDisk), await DiskBytes.ChunksAsync(client, disk));
        Assert.Equal("false", (string?)(await client.GetAsync($"/v2/{client.ProjectId}/cloudvolumes/{disk}")).Expect(200)["volume"]!["bootable"]);

        // Servers boot from system disk images only.
        var network = await Servers.CreateNetworkAsync(client);
        (await client.PostAsync($"/v1.1/{client.ProjectId}/cloudservers", Servers.ServerBody(network, image: dataImageId).ToJsonString()))
            .ExpectError(400, "Ecs.0005");
        (await client.SendAsync(HttpMethod.Post, $"/v1/{client.ProjectId}/cloudservers/{restored}/changeos",
            $$$"""{"os-change":{"imageid":"{{{dataImageId}}}"}}""")).ExpectError(400, "Ecs.0005");
    }

    [Fact]
    public async Task An_EVS_disk_gives_a_system_disk_image_and_a_data_disk_image_as_terraform_asks()
    {
        var client = Service.Client(TestAccounts.Bob);
        var volumeId = await Servers.CreateVolumeAsync(client, size: 10);
        await DiskBytes.WriteAsync(client, volumeId, 4096, DiskBytes.Pattern(5, DiskBytes.ChunkSize + 8192));

        // huaweicloud_ims_evs_system_image
        var systemJob = await CreateAsync(client, new
        {
            name = "evs-system", volume_id = volumeId, os_version = "CentOS 7.9 64bit", type = "ECS", min_ram = 1024, max_ram = 4096,
        });
        Assert.True((string?)systemJob["status"] == "SUCCESS", systemJob.ToJsonString());
        Assert.Equal("imsVolumeCreateImageJob", (string?)systemJob["job_type"]);
        var system = await ImageAsync(client, (string)systemJob["entities"]!["image_id"]!);
        Assert.Equal("CentOS 7.9 64bit", (string?)system["__os_version"]);
        Assert.Equal("CentOS", (string?)system["__platform"]);
        Assert.Equal($"volume,{volumeId}", (string?)system["__data_origin"]);
        Assert.Equal("FusionCompute", (string?)system["virtual_env_type"]);
        Assert.Equal(1024, (int)system["min_ram"]!);
        Assert.Equal("4096", (string?)system["max_ram"]);

        // huaweicloud_ims_evs_data_image: the image id is in the first sub-job's entities.
        var dataJob = await CreateAsync(client, new
        {
            data_images = new[] { new { name = "evs-data", volume_id = volumeId, description = "", image_tags = new[] { new { key = "k", value = "v" } } } },
            enterprise_project_id = "0",
        });
        Assert.True((string?)dataJob["status"] == "SUCCESS", dataJob.ToJsonString());
        Assert.Equal("imsVolumesToSysDataImagesJob", (string?)dataJob["job_type"]);
        var dataImageId = (string)dataJob["entities"]!["sub_jobs_result"]![0]!["entities"]!["image_id"]!;
        var data = await ImageAsync(client, dataImageId);
        Assert.Equal("DataImage", (string?)data["virtual_env_type"]);
        Assert.Equal(["k=v"], data["tags"]!.AsArray().Select(t => (string)t!));

        // In-region copy: a new image with the same bytes.
        var copyJob = await client.WaitForJobAsync((string)(await client.PostAsync($"/v1/cloudimages/{dataImageId}/copy",
            new { name = "evs-data-copy", description = "copied" })).Expect(200)["job_id"]!);
        Assert.True((string?)copyJob["status"] == "SUCCESS", copyJob.ToJsonString());
        Assert.Equal("imsCopyImageInRegionJob", (string?)copyJob["job_type"]);
        var copyId = (string)copyJob["entities"]!["image_id"]!;
        var copy = await ImageAsync(client, copyId);
        Assert.Equal("evs-data-copy", (string?)copy["name"]);
        Assert.Equal("DataImage", (string?)copy["virtual_env_type"]);
        Assert.EndsWith($",{dataImageId}", (string?)copy["__data_origin"], StringComparison.Ordinal);
        Assert.Equal((long)data["virtual_size"]!, (long)copy["virtual_size"]!);
        // The copy outlives its source.
        (await client.DeleteAsync($"/v2/images/{dataImageId}")).Expect(204);
        var disk = await VolumeFromImageAsync(client, copyId, 10);
        Assert.Equal(await DiskBytes.ChunksAsync(client, volumeId), await DiskBytes.ChunksAsync(client, disk));
    }

    [Fact]
    public async Task Requests_are_checked_with_the_documented_codes()
    {
        var client = Service.Client(TestAccounts.Alice);
        var server = await TestServers.CreateAsync(Service, client, 10);
        var other = await TestServers.CreateAsync(Service, client, 10);
        var loose = await Servers.CreateVolumeAsync(client, size: 10);
        var before = await QuotaUsedAsync(client);

        (await client.PostAsync(ActionPath, new { })).ExpectImsError(400, "IMG.0012");
        (await client.PostAsync(ActionPath, new { name = "x", instance_id = Guid.NewGuid().ToString() })).ExpectImsError(400, "IMG.0005");
        (await client.PostAsync(ActionPath, new { instance_id = server.Id })).ExpectImsError(400, "IMG.0013");
        (await client.PostAsync(ActionPath, new { name = " x", instance_id = server.Id })).ExpectImsError(400, "IMG.0003");
        (await client.PostAsync(ActionPath, new { name = "x", instance_id = server.Id, volume_id = loose })).ExpectImsError(400, "IMG.0001");
        (await client.PostAsync(ActionPath, new { name = "x", instance_id = server.Id, tags = new[] { "a.b" }, image_tags = new[] { new { key = "c", value = "d" } } }))
            .ExpectImsError(400, "IMG.0001");
        (await client.PostAsync(ActionPath, new { name = "x", volume_id = loose })).ExpectImsError(400, "IMG.0056");
        (await client.PostAsync(ActionPath, new { name = "x", volume_id = server.SystemVolumeId, os_version = "CentOS 7.9 64bit" })).ExpectImsError(400, "IMG.0006");
        (await client.PostAsync(ActionPath, new { name = "x", volume_id = Guid.NewGuid().ToString(), os_version = "CentOS 7.9 64bit" })).ExpectImsError(400, "IMG.0120");
        (await client.PostAsync(ActionPath, new { name = "x", volume_id = loose, os_version = "CentOS 7.9 64bit", type = "Other" })).ExpectImsError(400, "IMG.0024");
        (await client.PostAsync(ActionPath, new { name = "x", image_url = "no-such-bucket:disk.qcow2", min_disk = 40 })).ExpectImsError(400, "IMG.0069");
        (await client.PostAsync(ActionPath, new { name = "x", image_url = "no-such-bucket:disk.iso", min_disk = 40, type = "IsoImage", os_version = "CentOS 7.9 64bit" }))
            .ExpectImsError(400, "IMG.0069");
        (await client.PostAsync(ActionPath, new { name = "x", instance_id = server.Id, data_images = new[] { new { name = "d", volume_id = other.DataVolumes[0].Id } } }))
            .ExpectImsError(400, "IMG.0140");
        (await client.PostAsync(ActionPath, new { name = "x", instance_id = server.Id, data_images = new[] { new { name = "d", volume_id = loose } } }))
            .ExpectImsError(400, "IMG.0120");
        (await client.PostAsync(ActionPath, new { data_images = new[] { new { name = "d", volume_id = server.DataVolumes[0].Id }, new { name = "e", volume_id = other.DataVolumes[0].Id } } }))
            .ExpectImsError(400, "IMG.0140");
        (await client.PostAsync(ActionPath, new { data_images = new[] { new { volume_id = loose } } })).ExpectImsError(400, "IMG.0013");
        (await client.PostAsync(ActionPath, new { name = "x", instance_id = server.Id, enterprise_project_id = Guid.NewGuid().ToString() })).ExpectImsError(400, "IMG.0155");
        // Another project's ECS and disks do not exist for the caller.
        var bob = Service.Client(TestAccounts.Bob);
        (await bob.PostAsync(ActionPath, new { name = "x", instance_id = server.Id })).ExpectImsError(400, "IMG.0005");
        (await bob.PostAsync(ActionPath, new { data_images = new[] { new { name = "d", volume_id = loose } } })).ExpectImsError(400, "IMG.0120");

        // Dedicated storage (DSS) cannot be imaged in the Huawei profile, neither as a system nor as a data disk.
        var dss = await Servers.CreateServerAsync(client, await Servers.CreateNetworkAsync(client), [(10, "DSS")]);
        var dssDisk = (await client.GetAsync($"/v1/{client.ProjectId}/cloudservers/{dss}/block_device")).Expect(200)["volumeAttachments"]
            .AsArray().Single(d => (int)d!["bootIndex"]! != 0)!["volumeId"]!.GetValue<string>();
        (await client.PostAsync(ActionPath, new { data_images = new[] { new { name = "d", volume_id = dssDisk } } })).ExpectImsError(400, "IMG.0153");

        // A busy ECS (another job holds it) cannot be imaged.
        await TestServers.ForceAsync(Service, server.Id, taskState: "powering-off");
        (await client.PostAsync(ActionPath, new { name = "x", instance_id = server.Id })).ExpectImsError(400, "IMG.0010");
        Assert.Equal(before, await QuotaUsedAsync(client));
    }

    [Fact]
    public async Task The_quota_counts_every_image_a_request_makes()
    {
        await using var service = await TestService.StartAsync(extra: ["--Ims:ImageQuota=1"]);
        var client = service.Client(TestAccounts.Alice);
        var server = await TestServers.CreateAsync(service, client, 10);
        (await client.PostAsync(ActionPath, new { name = "x", instance_id = server.Id, data_images = new[] { new { name = "d", volume_id = server.DataVolumes[0].Id } } }))
            .ExpectImsError(400, "IMG.0015");
        Assert.Null(await TestServers.TaskStateAsync(client, server.Id));
        var job = await CreateAsync(client, new { name = "x", instance_id = server.Id });
        Assert.Equal("SUCCESS", (string?)job["status"]);
        (await client.PostAsync($"/v1/cloudimages/{(string)job["entities"]!["image_id"]!}/copy", new { name = "copy" })).ExpectImsError(400, "IMG.0015");
    }

    [Theory]
    [InlineData("CaptureDisks")]
    [InlineData("RegisterImage")]
    public async Task A_failed_job_leaves_no_listed_image_no_quota_held_and_a_free_ECS(string step)
    {
        var client = Service.Client(TestAccounts.Bob);
        var server = await TestServers.CreateAsync(Service, client, 10);
        var before = await QuotaUsedAsync(client);
        var rule = await Faults.CreateAsync(new { job_type = "imsCreateImageByInstance", step, error_code = "IMG.0014", count = 1 });

        var job = await CreateAsync(client, new
        {
            name = "doomed", instance_id = server.Id, data_images = new[] { new { name = "doomed-data", volume_id = server.DataVolumes[0].Id } },
        });

        Assert.Equal("FAIL", (string?)job["status"]);
        Assert.Equal("IMG.0014", (string?)job["error_code"]);
        Assert.Equal("FAIL", (string?)job["entities"]!["sub_jobs_result"]![0]!["status"]);
        foreach (var imageId in new[] { (string)job["entities"]!["image_id"]!, (string)job["entities"]!["sub_jobs_result"]![0]!["entities"]!["image_id"]! })
        {
            Assert.Empty((await client.GetAsync($"/v2/cloudimages?id={imageId}")).Expect(200)["images"].AsArray());
            (await client.GetAsync($"/v2/images/{imageId}")).ExpectImsError(404, "IMG.0027");
        }
        Assert.Equal(before, await QuotaUsedAsync(client));
        Assert.Null(await TestServers.TaskStateAsync(client, server.Id));
        await Faults.DeleteAsync((string)rule["id"]!);

        // And the ECS can be imaged right away.
        Assert.Equal("SUCCESS", (string?)(await CreateAsync(client, new { name = "second-try", instance_id = server.Id }))["status"]);
    }

    [Fact]
    public async Task While_its_disks_are_captured_the_ECS_refuses_another_image_and_the_images_cannot_be_deleted()
    {
        var client = Service.Client(TestAccounts.Alice);
        var server = await TestServers.CreateAsync(Service, client);
        var rule = await Faults.CreateAsync(new { job_type = "imsCreateImageByInstance", step = "CaptureDisks", delay_ms = 3000, count = 1 });
        var jobId = (string)(await client.PostAsync(ActionPath, new { name = "slow", instance_id = server.Id })).Expect(200)["job_id"]!;

        (await client.PostAsync(ActionPath, new { name = "again", instance_id = server.Id })).ExpectImsError(400, "IMG.0010");
        var imageId = (string)(await client.GetAsync($"/v1/{client.ProjectId}/jobs/{jobId}")).Expect(200)["entities"]!["image_id"]!;
        (await client.DeleteAsync($"/v2/images/{imageId}")).ExpectImsError(400, "IMG.0090");
        Assert.Equal("SUCCESS", (string?)(await client.WaitForJobAsync(jobId, TimeSpan.FromSeconds(60)))["status"]);
        await Faults.DeleteAsync((string)rule["id"]!);
    }
}

/// <summary>The OTC profile: the same API, without the Huawei-only rules (Chinese names, dedicated storage).</summary>
public sealed class OtcDiskImageTests : IAsyncLifetime
{
    private TestService _service = null!;

    public async Task InitializeAsync() => _service = await TestService.StartAsync(extra: ["--Ims:Profile=Otc"]);

    public async Task DisposeAsync() => await _service.DisposeAsync();

    [Fact]
    public async Task An_ECS_with_a_DSS_data_disk_gives_its_images_and_Chinese_names_are_refused()
    {
        var client = _service.Client(TestAccounts.Alice);
        var network = await Servers.CreateNetworkAsync(client);
        var body = Servers.ServerBody(network, dataDisks: [(10, "DSS")]);
        body["server"]!["availability_zone"] = "eu-de-01";
        var created = (await client.PostAsync($"/v1.1/{client.ProjectId}/cloudservers", body.ToJsonString())).Expect(200);
        var serverId = (string)(await client.WaitForJobSuccessAsync((string)created["job_id"]!))["entities"]!["sub_jobs"]![0]!["entities"]!["server_id"]!;
        var dataDisk = (string)(await client.GetAsync($"/v1/{client.ProjectId}/cloudservers/{serverId}/block_device")).Expect(200)["volumeAttachments"]
            .AsArray().Single(d => (int)d!["bootIndex"]! != 0)!["volumeId"]!;

        (await client.PostAsync("/v2/cloudimages/action", new { name = "镜像", instance_id = serverId })).ExpectImsError(400, "IMG.0003");
        var accepted = (await client.PostAsync("/v2/cloudimages/action", new
        {
            name = "otc-system", instance_id = serverId, data_images = new[] { new { name = "otc-data", volume_id = dataDisk } },
        })).Expect(200);
        var job = await client.WaitForJobSuccessAsync((string)accepted["job_id"]!);
        var image = (await client.GetAsync($"/v2/cloudimages?id={(string)job["entities"]!["image_id"]!}")).Expect(200)["images"]![0]!;
        Assert.Equal("active", (string?)image["status"]);
        Assert.Equal($"instance,{serverId}", (string?)image["__data_origin"]);
    }
}
