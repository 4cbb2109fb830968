using System.Text.Json;
using System.Text.RegularExpressions;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Evs;

/// <summary>EVS disks over HTTP, with the JSON types of chnsz/golangsdk's cloudvolumes.Volume.</summary>
public sealed partial class VolumeTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task A_disk_is_created_read_listed_renamed_and_deleted(AuthMode mode)
    {
        var client = Service.Client(TestAccounts.Alice, mode);
        var pid = client.ProjectId;
        var name = Servers.UniqueName("disk");
        var accepted = (await client.PostAsync($"/v2.1/{pid}/cloudvolumes", new
        {
            volume = new
            {
                availability_zone = Servers.Zone, volume_type = "SSD", size = 20, name, description = "data",
                metadata = new Dictionary<string, string> { ["hw:passthrough"] = "true" },
                tags = new Dictionary<string, string> { ["team"] = "ims" },
            },
        })).Expect(200);
        var volumeId = (string)accepted["volume_ids"][0]!;
        var job = await client.WaitForJobSuccessAsync((string)accepted["job_id"]!);
        Assert.Equal("createVolume", (string?)job["job_type"]);
        Assert.Equal(volumeId, (string?)job["entities"]!["volume_id"]);

        var volume = (await client.GetAsync($"/v2/{pid}/cloudvolumes/{volumeId}")).Expect(200)["volume"];
        Assert.Equal(name, (string?)volume["name"]);
        Assert.Equal("available", (string?)volume["status"]);
        Assert.Equal("data", (string?)volume["description"]);
        Assert.Equal(Servers.Zone, (string?)volume["availability_zone"]);
        Assert.Equal("SSD", (string?)volume["volume_type"]);
        Assert.Equal(JsonValueKind.Number, volume["size"]!.GetValueKind());
        Assert.Equal(20, (int)volume["size"]!);
        Assert.Equal("false", (string?)volume["bootable"]);
        Assert.Equal(JsonValueKind.False, volume["multiattach"]!.GetValueKind());
        Assert.Equal(JsonValueKind.False, volume["encrypted"]!.GetValueKind());
        Assert.Equal("true", (string?)volume["metadata"]!["hw:passthrough"]);
        Assert.Equal("ims", (string?)volume["tags"]!["team"]);
        Assert.Equal(JsonValueKind.Object, volume["volume_image_metadata"]!.GetValueKind());
        Assert.Empty(volume["attachments"]!.AsArray());
        Assert.Matches(MicrosNoZone(), (string)volume["created_at"]!);
        Assert.Matches(MicrosNoZone(), (string)volume["updated_at"]!);
        Assert.Equal(pid, (string?)volume["os-vol-tenant-attr:tenant_id"]);
        Assert.Equal("EVS", (string?)volume["service_type"]);
        Assert.Null(volume["iops"]);

        var listed = (await client.GetAsync($"/v2/{pid}/cloudvolumes/detail?name={name}&limit=10")).Expect(200);
        Assert.Equal(1, (int)listed["count"]);
        Assert.Equal(volumeId, (string?)listed["volumes"][0]!["id"]);
        Assert.Equal(1, (int)(await client.GetAsync($"/v2/{pid}/cloudvolumes/detail?status=available&id={volumeId}")).Expect(200)["count"]);
        Assert.Equal(0, (int)(await client.GetAsync($"/v2/{pid}/cloudvolumes/detail?status=in-use&id={volumeId}")).Expect(200)["count"]);

        var renamed = (await client.PutAsync($"/v2/{pid}/cloudvolumes/{volumeId}", new { volume = new { name = name + "-x", description = "" } }))
            .Expect(200)["volume"];
        Assert.Equal(name + "-x", (string?)renamed["name"]);
        Assert.Equal("", (string?)renamed["description"]);
        Assert.Equal("SSD", (string?)renamed["volume_type"]);

        var deleting = (await client.DeleteAsync($"/v2/{pid}/cloudvolumes/{volumeId}")).Expect(200);
        var deleteJob = await client.WaitForJobSuccessAsync((string)deleting["job_id"]!);
        Assert.Equal(volumeId, (string?)deleteJob["entities"]!["volume_id"]);
        (await client.GetAsync($"/v2/{pid}/cloudvolumes/{volumeId}")).ExpectError(404, "EVS.5404");
        (await client.DeleteAsync($"/v2/{pid}/cloudvolumes/{volumeId}")).ExpectError(404, "EVS.5404");
    }

    [Fact]
    public async Task A_batch_gets_numbered_names_and_paging_counts_every_match()
    {
        var client = Service.Client(TestAccounts.Alice);
        var pid = client.ProjectId;
        var name = Servers.UniqueName("batch");
        var accepted = (await client.PostAsync($"/v2/{pid}/cloudvolumes",
            new { volume = new { availability_zone = "cn-north-4b", volume_type = "SATA", size = 10, name, count = 3 } })).Expect(200);
        Assert.Equal(3, accepted["volume_ids"].AsArray().Count);
        await client.WaitForJobSuccessAsync((string)accepted["job_id"]!);

        var page = (await client.GetAsync($"/v2/{pid}/cloudvolumes/detail?name={name}&limit=2&offset=0")).Expect(200);
        Assert.Equal(3, (int)page["count"]);
        Assert.Equal(2, page["volumes"].AsArray().Count);
        var rest = (await client.GetAsync($"/v2/{pid}/cloudvolumes/detail?name={name}&limit=2&offset=2")).Expect(200);
        Assert.Single(rest["volumes"].AsArray());
        var names = page["volumes"].AsArray().Concat(rest["volumes"].AsArray()).Select(v => (string)v!["name"]!).Order();
        Assert.Equal([$"{name}-0001", $"{name}-0002", $"{name}-0003"], names);
    }

    [Fact]
    public async Task Provisioned_types_report_iops_and_throughput_as_numbers()
    {
        var client = Service.Client(TestAccounts.Alice);
        var id = await Servers.CreateVolumeAsync(client, 100, "GPSSD2");
        var volume = (await client.GetAsync($"/v2/{client.ProjectId}/cloudvolumes/{id}")).Expect(200)["volume"];
        Assert.Equal(JsonValueKind.Number, volume["iops"]!["total_val"]!.GetValueKind());
        Assert.Equal(JsonValueKind.Number, volume["throughput"]!["total_val"]!.GetValueKind());
    }

    [Fact]
    public async Task A_disk_from_an_image_is_bootable_and_carries_the_image_metadata()
    {
        var client = Service.Client(TestAccounts.Alice);
        var accepted = (await client.PostAsync($"/v2.1/{client.ProjectId}/cloudvolumes",
            new { volume = new { availability_zone = Servers.Zone, volume_type = "SAS", imageRef = Servers.Debian11 } })).Expect(200);
        await client.WaitForJobSuccessAsync((string)accepted["job_id"]!);
        var volume = (await client.GetAsync($"/v2/{client.ProjectId}/cloudvolumes/{(string)accepted["volume_ids"][0]!}")).Expect(200)["volume"];
        Assert.Equal("true", (string?)volume["bootable"]);
        Assert.Equal(40, (int)volume["size"]!);
        var image = volume["volume_image_metadata"]!.AsObject();
        Assert.Equal(Servers.Debian11, (string?)image["image_id"]);
        Assert.Equal("Standard_Debian_11_latest", (string?)image["image_name"]);
        Assert.All(image, kv => Assert.Equal(JsonValueKind.String, kv.Value!.GetValueKind()));
    }

    [Fact]
    public async Task A_disk_in_use_cannot_be_deleted()
    {
        var client = Service.Client(TestAccounts.Alice);
        var network = await Servers.CreateNetworkAsync(client);
        var serverId = await Servers.CreateServerAsync(client, network);
        var diskId = await Servers.CreateVolumeAsync(client);
        await Servers.AttachAsync(client, serverId, diskId);
        (await client.DeleteAsync($"/v2/{client.ProjectId}/cloudvolumes/{diskId}")).ExpectError(400, "EVS.2024");
        var systemDisk = (string)(await Servers.GetServerAsync(client, serverId))["os-extended-volumes:volumes_attached"]![0]!["id"]!;
        (await client.DeleteAsync($"/v2/{client.ProjectId}/cloudvolumes/{systemDisk}")).ExpectError(400, "EVS.2024");
        Assert.Equal("in-use", (string?)(await client.GetAsync($"/v2/{client.ProjectId}/cloudvolumes/{diskId}")).Expect(200)["volume"]["status"]);

        var attached = (await client.GetAsync($"/v2/{client.ProjectId}/cloudvolumes/detail?server_id={serverId}")).Expect(200);
        Assert.Equal(2, (int)attached["count"]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData("""{"volume":null}""")]
    [InlineData("""{"volume":{"volume_type":"SAS","size":10}}""")]
    [InlineData("""{"volume":{"availability_zone":"cn-north-4x","volume_type":"SAS","size":10}}""")]
    [InlineData("""{"volume":{"availability_zone":"cn-north-4a","size":10}}""")]
    [InlineData("""{"volume":{"availability_zone":"cn-north-4a","volume_type":"TAPE","size":10}}""")]
    [InlineData("""{"volume":{"availability_zone":"cn-north-4a","volume_type":"SAS"}}""")]
    [InlineData("""{"volume":{"availability_zone":"cn-north-4a","volume_type":"SAS","size":"10"}}""")]
    [InlineData("""{"volume":{"availability_zone":"cn-north-4a","volume_type":"SAS","size":5}}""")]
    [InlineData("""{"volume":{"availability_zone":"cn-north-4a","volume_type":"SAS","size":40000}}""")]
    [InlineData("""{"volume":{"availability_zone":"cn-north-4a","volume_type":"SAS","size":10,"count":0}}""")]
    [InlineData("""{"volume":{"availability_zone":"cn-north-4a","volume_type":"SAS","size":10,"multiattach":"true"}}""")]
    [InlineData("""{"volume":{"availability_zone":"cn-north-4a","volume_type":"SAS","size":10,"metadata":{"a":1}}}""")]
    [InlineData("""{"volume":{"availability_zone":"cn-north-4a","volume_type":"SAS","size":10,"name":""}}""")]
    [InlineData("""{"volume":{"availability_zone":"cn-north-4a","volume_type":"SAS","size":10,"backup_id":"x"}}""")]
    [InlineData("""{"volume":{"availability_zone":"cn-north-4a","volume_type":"SAS","size":10,"imageRef":"7d5b8f3a-0000-0000-0000-000000000000"}}""")]
    [InlineData("""{"volume":{"availability_zone":"cn-north-4a","volume_type":"SAS","imageRef":"7d5b8f3a-1c2e-4f60-9b11-18040000a001","size":20}}""")]
    [InlineData("""{"volume":{"availability_zone":"cn-north-4a","volume_type":"SAS","size":10},"bssParam":{"chargingMode":"prePaid"}}""")]
    public async Task Bad_create_requests_are_400_in_the_evs_shape(string body)
    {
        var client = Service.Client(TestAccounts.Alice);
        (await client.PostAsync($"/v2.1/{client.ProjectId}/cloudvolumes", body)).ExpectError(400, "EVS.2024");
    }

    [Fact]
    public async Task Bad_reads_updates_and_deletes_are_refused()
    {
        var client = Service.Client(TestAccounts.Alice);
        var pid = client.ProjectId;
        var unknown = Guid.NewGuid();
        (await client.GetAsync($"/v2/{pid}/cloudvolumes/{unknown}")).ExpectError(404, "EVS.5404");
        (await client.PutAsync($"/v2/{pid}/cloudvolumes/{unknown}", new { volume = new { name = "x" } })).ExpectError(404, "EVS.5404");
        (await client.GetAsync($"/v2/{pid}/cloudvolumes/detail?limit=abc")).ExpectError(400, "EVS.2024");
        (await client.GetAsync($"/v2/{pid}/cloudvolumes/detail?offset=-3")).ExpectError(400, "EVS.2024");
        (await client.GetAsync($"/v2/{pid}/cloudvolumes/detail?multiattach=maybe")).ExpectError(400, "EVS.2024");

        var id = await Servers.CreateVolumeAsync(client);
        (await client.PutAsync($"/v2/{pid}/cloudvolumes/{id}", "{")).ExpectError(400, "EVS.2024");
        (await client.PutAsync($"/v2/{pid}/cloudvolumes/{id}", "{}")).ExpectError(400, "EVS.2024");
        (await client.PutAsync($"/v2/{pid}/cloudvolumes/{id}", new { volume = new { name = new string('n', 65) } })).ExpectError(400, "EVS.2024");
        (await client.PutAsync($"/v2/{pid}/cloudvolumes/{id}", new { volume = new { name = 7 } })).ExpectError(400, "EVS.2024");
        (await client.DeleteAsync($"/v2/{pid}/cloudvolumes/{id}?cascade=sometimes")).ExpectError(400, "EVS.2024");
        Assert.Equal("available", (string?)(await client.GetAsync($"/v2/{pid}/cloudvolumes/{id}")).Expect(200)["volume"]["status"]);
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$")]
    private static partial Regex MicrosNoZone();
}
