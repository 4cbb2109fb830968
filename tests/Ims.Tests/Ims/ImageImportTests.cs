using System.Text.Json.Nodes;
using Amazon.S3.Model;
using Ims.Tests.DataPlane;
using Ims.Tests.Infrastructure;
using Ims.Tests.Obs;

namespace Ims.Tests.Ims;

/// <summary>
/// Images of files in a bucket, over real HTTP with the service's own bucket API and real qemu-img: a qcow2 put with
/// s3cmd becomes a system disk image whose disk is <c>qemu-img convert -O raw</c> of the file and boots a server with it;
/// data disk images make EVS disks with their bytes; ISO images, quick imports and registrations; every refusal with
/// its code; a failed import leaves no listed image and no quota held.
/// </summary>
public sealed class ImageImportTests(ObsFixture fixture) : IClassFixture<ObsFixture>, IDisposable
{
    private const string ActionPath = "/v2/cloudimages/action";
    private const string DataImagePath = "/v1/cloudimages/dataimages/action";
    private const string QuickImportPath = "/v2/cloudimages/quickimport/action";
    private const string OsVersion = "Ubuntu 18.04 server 64bit";

    private readonly string _home = Directory.CreateTempSubdirectory("ims-import-").FullName;

    private TestService Service => fixture.Service;

    public void Dispose() => Directory.Delete(_home, recursive: true);

    /// <summary>A new bucket of <paramref name="tenant"/> holding <paramref name="files"/>, put with the AWS SDK.</summary>
    private async Task<string> BucketWithAsync(TestTenant tenant, params (string Key, byte[] Content)[] files)
    {
        var bucket = ObsFixture.NewBucketName();
        using var s3 = fixture.S3(tenant);
        await s3.PutBucketAsync(bucket);
        foreach (var (key, content) in files)
            await s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, InputStream = new MemoryStream(content), UseChunkEncoding = false });
        return bucket;
    }

    private static async Task<JsonNode> AcceptedJobAsync(ApiClient client, string path, object body, string jobType)
    {
        var accepted = (await client.PostAsync(path, body)).Expect(200);
        var job = await client.WaitForJobAsync((string)accepted["job_id"]!, TimeSpan.FromSeconds(120));
        Assert.Equal(jobType, (string?)job["job_type"]);
        return job;
    }

    private static async Task<JsonNode> ImageAsync(ApiClient client, string imageId) =>
        (await client.GetAsync($"/v2/images/{imageId}")).Expect(200).Json!;

    private static async Task<long> QuotaUsedAsync(ApiClient client) =>
        (long)(await client.GetAsync("/v1/cloudimages/quota")).Expect(200)["quotas"]!["resources"]![0]!["used"]!;

    private static async Task<bool> ListedAsync(ApiClient client, string imageId) =>
        (await client.GetAsync($"/v2/cloudimages?id={imageId}")).Expect(200)["images"].AsArray().Count > 0;

    /// <summary><c>qemu-img convert -O raw</c> of a file, as a user checks what a disk image holds.</summary>
    private async Task<byte[]> QemuRawAsync(byte[] file, string qemuFormat)
    {
        var source = Path.Combine(_home, $"{Guid.NewGuid():N}.src");
        var target = Path.Combine(_home, $"{Guid.NewGuid():N}.raw");
        await File.WriteAllBytesAsync(source, file);
        await ImageFiles.RunAsync("qemu-img", "convert", "-f", qemuFormat, "-O", "raw", source, target);
        return await File.ReadAllBytesAsync(target);
    }

    /// <summary>The first <paramref name="length"/> bytes of an EVS disk, read through the data endpoint.</summary>
    private static async Task<byte[]> DiskStartAsync(ApiClient client, string volumeId, int length)
    {
        var bytes = new byte[length];
        for (var offset = 0; offset < length; offset += 1024 * 1024)
        {
            var piece = Math.Min(1024 * 1024, length - offset);
            (await DiskBytes.ReadAsync(client, volumeId, offset, piece)).CopyTo(bytes, offset);
        }
        return bytes;
    }

    private static async Task<string> SystemVolumeAsync(ApiClient client, string serverId)
    {
        var devices = (await client.GetAsync($"/v1/{client.ProjectId}/cloudservers/{serverId}/block_device")).Expect(200)["volumeAttachments"].AsArray();
        return (string)devices.Single(d => (int)d!["bootIndex"]! == 0)!["volumeId"]!;
    }

    [Fact]
    public async Task A_qcow2_put_with_s3cmd_becomes_a_system_image_that_boots_a_server_with_its_disk()
    {
        var alice = Service.Client(TestAccounts.Alice);
        var qcow2 = await ImageFiles.ToQcow2Async(ImageFiles.RawDisk(6 * 1024 * 1024, seed: 71));
        var expected = await QemuRawAsync(qcow2, "qcow2");
        var bucket = ObsFixture.NewBucketName();
        var local = Path.Combine(_home, "centos.qcow2");
        await File.WriteAllBytesAsync(local, qcow2);
        var config = Path.Combine(_home, "s3cfg");
        await File.WriteAllTextAsync(config, $"""
            [default]
            access_key = {TestAccounts.Alice.AccessKey}
            secret_key = {TestAccounts.Alice.SecretKey}
            host_base = 127.0.0.1:{fixture.Port}
            host_bucket = 127.0.0.1:{fixture.Port}
            bucket_location = cn-north-4
            use_https = False
            max_retries = 1
            """);
        await Cli.RunAsync(_home, "s3cmd", ["-c", config, "mb", $"s3://{bucket}"]);
        await Cli.RunAsync(_home, "s3cmd", ["-c", config, "put", local, $"s3://{bucket}/images/centos.qcow2"]);
        var usedBefore = await QuotaUsedAsync(alice);

        var job = await AcceptedJobAsync(alice, ActionPath, new
        {
            name = Servers.UniqueName("imported"),
            description = "Create an image from a file in an OBS bucket",
            image_url = $"{bucket}:images/centos.qcow2",
            os_version = OsVersion,
            min_disk = 1,
            is_config = true,
            hw_firmware_type = "uefi",
            image_tags = new[] { new { key = "origin", value = "s3cmd" } },
        }, "imsImportImageJob");
        Assert.True((string?)job["status"] == "SUCCESS", job.ToJsonString());
        var imageId = (string)job["entities"]!["image_id"]!;
        Assert.Equal(usedBefore + 1, await QuotaUsedAsync(alice));

        var image = await ImageAsync(alice, imageId);
        Assert.Equal("active", (string?)image["status"]);
        Assert.Equal(expected.Length, (long)image["virtual_size"]!);
        Assert.Equal(qcow2.Length, (long)image["size"]!);
        Assert.Equal(ImageFiles.Md5(qcow2), (string?)image["checksum"]);
        Assert.Equal($"file,{bucket}:images/centos.qcow2", (string?)image["__data_origin"]);
        Assert.Equal("file", (string?)image["__root_origin"]);
        Assert.Equal("FusionCompute", (string?)image["virtual_env_type"]);
        Assert.Equal("uefi", (string?)image["hw_firmware_type"]);
        Assert.Equal("true", (string?)image["__is_config_init"]);
        Assert.Equal(OsVersion, (string?)image["__os_version"]);
        Assert.Equal("Linux", (string?)image["__os_type"]);
        Assert.Equal(1, (long)image["min_disk"]!);
        Assert.Contains("origin=s3cmd", image["tags"]!.AsArray().Select(t => (string?)t));
        Assert.True(await ListedAsync(alice, imageId));

        // The image's file is the qcow2 as it was put; its disk is what qemu-img makes of it.
        using (var download = await DiskBytes.SendAsync(alice, HttpMethod.Get, ImageFiles.FilePath(imageId)))
            Assert.Equal(ImageFiles.Sha256(qcow2), ImageFiles.Sha256(await download.Content.ReadAsByteArrayAsync()));
        var serverId = await DiskBytes.RestoredServerAsync(alice, imageId);
        var systemDisk = await SystemVolumeAsync(alice, serverId);
        Assert.Equal(ImageFiles.Sha256(expected), ImageFiles.Sha256(await DiskStartAsync(alice, systemDisk, expected.Length)));
    }

    [Fact]
    public async Task A_data_image_of_a_vhdx_file_makes_EVS_disks_with_its_bytes()
    {
        var alice = Service.Client(TestAccounts.Alice);
        var raw = ImageFiles.RawDisk(5 * 1024 * 1024, seed: 72);
        var vhdxPath = Path.Combine(_home, "data.vhdx");
        var rawPath = Path.Combine(_home, "data.raw");
        await File.WriteAllBytesAsync(rawPath, raw);
        await ImageFiles.RunAsync("qemu-img", "convert", "-f", "raw", "-O", "vhdx", rawPath, vhdxPath);
        var vhdx = await File.ReadAllBytesAsync(vhdxPath);
        var expected = await QemuRawAsync(vhdx, "vhdx");
        var bucket = await BucketWithAsync(TestAccounts.Alice, ("fedora_data1.vhdx", vhdx));

        var job = await AcceptedJobAsync(alice, DataImagePath, new
        {
            name = Servers.UniqueName("data"),
            image_url = $"{bucket}:fedora_data1.vhdx",
            description = "Data disk 1 of Fedora",
            min_disk = 40,
            tags = new[] { "aaa.111" },
            os_type = "Windows",
        }, "imsImportDataImageJob");
        Assert.True((string?)job["status"] == "SUCCESS", job.ToJsonString());
        var imageId = (string)job["entities"]!["image_id"]!;
        var image = await ImageAsync(alice, imageId);
        Assert.Equal("DataImage", (string?)image["virtual_env_type"]);
        Assert.Equal("Windows", (string?)image["__os_type"]);
        Assert.Equal(40, (long)image["min_disk"]!);

        // ECS refuses a data disk image as a boot image; EVS makes a disk with its bytes.
        var network = await Servers.CreateNetworkAsync(alice);
        (await alice.PostAsync($"/v1.1/{alice.ProjectId}/cloudservers", Servers.ServerBody(network, image: imageId).ToJsonString())).Expect(400);
        var accepted = (await alice.PostAsync($"/v2.1/{alice.ProjectId}/cloudvolumes", new
        {
            volume = new { availability_zone = Servers.Zone, volume_type = "SAS", size = 40, name = Servers.UniqueName("fromfile"), imageRef = imageId },
        })).Expect(200);
        var volumeId = (string)(await alice.WaitForJobSuccessAsync((string)accepted["job_id"]!))["entities"]!["volume_id"]!;
        Assert.Equal(ImageFiles.Sha256(expected), ImageFiles.Sha256(await DiskStartAsync(alice, volumeId, expected.Length)));
    }

    [Fact]
    public async Task A_system_disk_file_with_data_disk_files_makes_one_job_with_a_sub_job_per_data_image()
    {
        var alice = Service.Client(TestAccounts.Alice);
        var system = await ImageFiles.ToQcow2Async(ImageFiles.RawDisk(1024 * 1024, seed: 73));
        var data = ImageFiles.RawDisk(1024 * 1024, seed: 74);
        var bucket = await BucketWithAsync(TestAccounts.Alice, ("sys.qcow2", system), ("data.raw", data));
        var name = Servers.UniqueName("withdata");

        var job = await AcceptedJobAsync(alice, ActionPath, new
        {
            name,
            image_url = $"{bucket}:sys.qcow2",
            min_disk = 2,
            os_type = "Linux",
            data_images = new[] { new { image_url = $"{bucket}:data.raw", min_disk = 10 } },
        }, "imsImportImageJob");
        Assert.True((string?)job["status"] == "SUCCESS", job.ToJsonString());
        var subJob = job["entities"]!["sub_jobs_result"]![0]!;
        Assert.Equal("imsImportDataImageJob", (string?)subJob["job_type"]);
        var dataImage = await ImageAsync(alice, (string)subJob["entities"]!["image_id"]!);
        Assert.Equal($"{name}-data1", (string?)dataImage["name"]);
        Assert.Equal("DataImage", (string?)dataImage["virtual_env_type"]);
        Assert.Equal(data.Length, (long)dataImage["virtual_size"]!);
        var systemImage = await ImageAsync(alice, (string)job["entities"]!["image_id"]!);
        Assert.Equal("Other Linux(64 bit)", (string?)systemImage["__os_version"]);
        Assert.Equal(2, (long)systemImage["min_disk"]!);
    }

    [Fact]
    public async Task An_ISO_file_makes_an_ISO_image_with_its_bytes_and_a_raw_file_imports_quickly()
    {
        var alice = Service.Client(TestAccounts.Alice);
        var iso = new byte[64 * 2048];
        new Random(75).NextBytes(iso.AsSpan(0, 4096));
        iso[16 * 2048] = 1;
        "CD001"u8.CopyTo(iso.AsSpan(16 * 2048 + 1));
        var raw = ImageFiles.RawDisk(2 * 1024 * 1024, seed: 76);
        var bucket = await BucketWithAsync(TestAccounts.Alice, ("centos70.iso", iso), ("quick.raw", raw), ("quick.zvhd2", raw));

        (await alice.PostAsync(ActionPath, new { name = "iso", image_url = $"{bucket}:centos70.iso", min_disk = 40, type = "IsoImage" }))
            .ExpectImsError(400, "IMG.0166");
        var job = await AcceptedJobAsync(alice, ActionPath, new
        {
            name = Servers.UniqueName("iso"),
            image_url = $"{bucket}:centos70.iso",
            min_disk = 40,
            type = "IsoImage",
            os_version = "CentOS 7.0 64bit",
        }, "imsImportImageJob");
        Assert.True((string?)job["status"] == "SUCCESS", job.ToJsonString());
        var image = await ImageAsync(alice, (string)job["entities"]!["image_id"]!);
        Assert.Equal("iso", (string?)image["disk_format"]);
        Assert.Equal("IsoImage", (string?)image["virtual_env_type"]);
        Assert.Equal(iso.Length, (long)image["virtual_size"]!);
        Assert.Equal(ImageFiles.Md5(iso), (string?)image["checksum"]);

        var quick = await AcceptedJobAsync(alice, QuickImportPath, new
        {
            name = Servers.UniqueName("quick"),
            image_url = $"{bucket}:quick.raw",
            os_version = OsVersion,
            min_disk = 40,
            type = "ECS",
            architecture = "arm",
            license_type = "byol",
        }, "imsImportImageJob");
        Assert.True((string?)quick["status"] == "SUCCESS", quick.ToJsonString());
        var quickImage = await ImageAsync(alice, (string)quick["entities"]!["image_id"]!);
        Assert.Equal("true", (string?)quickImage["__support_arm"]);
        Assert.Equal("uefi", (string?)quickImage["hw_firmware_type"]);
        var serverId = await DiskBytes.RestoredServerAsync(alice, (string)quickImage["id"]!);
        Assert.Equal(ImageFiles.Sha256(raw), ImageFiles.Sha256(await DiskStartAsync(alice, await SystemVolumeAsync(alice, serverId), raw.Length)));

        var quickData = await AcceptedJobAsync(alice, QuickImportPath, new
        {
            name = Servers.UniqueName("quickdata"),
            image_url = $"{bucket}:quick.raw",
            os_type = "Linux",
            min_disk = 40,
            type = "DataImage",
        }, "imsImportDataImageJob");
        Assert.True((string?)quickData["status"] == "SUCCESS", quickData.ToJsonString());

        // zvhd2 is Huawei's own format, which no public tool reads.
        (await alice.PostAsync(QuickImportPath, new { name = "q", image_url = $"{bucket}:quick.zvhd2", os_version = OsVersion, min_disk = 40 }))
            .ExpectImsError(400, "IMG.0072");
        (await alice.PostAsync(QuickImportPath, new { name = "q", image_url = $"{bucket}:centos70.iso", os_version = OsVersion, min_disk = 40 }))
            .ExpectImsError(400, "IMG.0072");
        (await alice.PostAsync(QuickImportPath, new { name = "q", image_url = $"{bucket}:quick.raw", min_disk = 40 })).ExpectImsError(400, "IMG.0056");
        (await alice.PostAsync(QuickImportPath, new { name = "q", image_url = $"{bucket}:quick.raw", os_version = OsVersion, min_disk = 40, type = "Other" }))
            .ExpectImsError(400, "IMG.0024");
    }

    [Fact]
    public async Task A_file_registers_into_a_queued_image_and_a_failed_registration_leaves_it_queued()
    {
        var alice = Service.Client(TestAccounts.Alice);
        var raw = ImageFiles.RawDisk(3 * 1024 * 1024, seed: 77);
        var qcow2 = await ImageFiles.ToQcow2Async(raw);
        var bucket = await BucketWithAsync(TestAccounts.Alice, ("Centos6.5-disk1.qcow2", qcow2), ("not-really.vmdk", raw));
        var imageId = (string)(await ImageFiles.CreateAsync(alice, "qcow2"))["id"]!;
        var path = $"/v1/cloudimages/{imageId}/upload";

        // A file that is not what its name says: the job fails and the image waits for another file.
        var refused = (await alice.PutAsync(path, new { image_url = $"{bucket}:not-really.vmdk" })).Expect(200);
        var failed = await alice.WaitForJobAsync((string)refused["job_id"]!, TimeSpan.FromSeconds(120));
        Assert.Equal("FAIL", (string?)failed["status"]);
        Assert.Equal("IMG.0057", (string?)failed["error_code"]);
        var requeued = await ImageAsync(alice, imageId);
        Assert.Equal("queued", (string?)requeued["status"]);
        Assert.Null(requeued["__data_origin"]);

        var accepted = (await alice.PutAsync(path, new { image_url = $"{bucket}:Centos6.5-disk1.qcow2" })).Expect(200);
        (await alice.PutAsync(path, new { image_url = $"{bucket}:Centos6.5-disk1.qcow2" })).ExpectImsError(400, "IMG.0046");
        var job = await alice.WaitForJobAsync((string)accepted["job_id"]!, TimeSpan.FromSeconds(120));
        Assert.Equal("imsNativeImportImageJob", (string?)job["job_type"]);
        Assert.True((string?)job["status"] == "SUCCESS", job.ToJsonString());
        Assert.Equal(imageId, (string?)job["entities"]!["image_id"]);
        var image = await ImageAsync(alice, imageId);
        Assert.Equal("active", (string?)image["status"]);
        Assert.Equal(raw.Length, (long)image["virtual_size"]!);
        Assert.Equal(ImageFiles.Md5(qcow2), (string?)image["checksum"]);

        (await alice.PutAsync(path, new { image_url = $"{bucket}:Centos6.5-disk1.qcow2" })).ExpectImsError(400, "IMG.0046");
        (await ImageFiles.UploadAsync(alice, imageId, qcow2)).ExpectImsError(400, "IMG.0105");
        (await alice.PutAsync($"/v1/cloudimages/{Guid.NewGuid()}/upload", new { image_url = $"{bucket}:Centos6.5-disk1.qcow2" })).ExpectImsError(404, "IMG.0027");
        (await alice.PutAsync($"/v1/cloudimages/{Servers.Ubuntu1804}/upload", new { image_url = $"{bucket}:Centos6.5-disk1.qcow2" })).ExpectImsError(400, "IMG.0047");
    }

    [Fact]
    public async Task Requests_naming_unusable_buckets_files_or_fields_are_refused_with_their_codes()
    {
        var alice = Service.Client(TestAccounts.Alice);
        var qcow2 = await ImageFiles.ToQcow2Async(ImageFiles.RawDisk(65536, seed: 78));
        var bucket = await BucketWithAsync(TestAccounts.Alice, ("disk.qcow2", qcow2), ("empty.qcow2", []), ("disk.zvhd", qcow2));
        var bobsBucket = await BucketWithAsync(TestAccounts.Bob, ("disk.qcow2", qcow2));
        var usedBefore = await QuotaUsedAsync(alice);

        object System(string url, long minDisk = 40) => new { name = "x", image_url = url, min_disk = minDisk };
        (await alice.PostAsync(ActionPath, System($"{bobsBucket}:disk.qcow2"))).ExpectImsError(400, "IMG.0069");
        (await alice.PostAsync(ActionPath, System("no-such-bucket-here:disk.qcow2"))).ExpectImsError(400, "IMG.0069");
        (await alice.PostAsync(ActionPath, System($"{bucket}:missing.qcow2"))).ExpectImsError(400, "IMG.0057");
        (await alice.PostAsync(ActionPath, System($"{bucket}:empty.qcow2"))).ExpectImsError(400, "IMG.0057");
        (await alice.PostAsync(ActionPath, System($"{bucket}:disk.zvhd"))).ExpectImsError(400, "IMG.0072");
        (await alice.PostAsync(ActionPath, System($"{bucket}:disk.txt"))).ExpectImsError(400, "IMG.0072");
        (await alice.PostAsync(ActionPath, System($"{bucket}disk.qcow2"))).ExpectImsError(400, "IMG.0017");
        (await alice.PostAsync(ActionPath, System(":disk.qcow2"))).ExpectImsError(400, "IMG.0068");
        (await alice.PostAsync(ActionPath, System("Bad_Bucket:disk.qcow2"))).ExpectImsError(400, "IMG.0109");
        (await alice.PostAsync(ActionPath, System($"{bucket}:my disk.qcow2"))).ExpectImsError(400, "IMG.0175");
        (await alice.PostAsync(ActionPath, System($"{bucket}:disk.qcow2", 0))).ExpectImsError(400, "IMG.0055");
        (await alice.PostAsync(ActionPath, System($"{bucket}:disk.qcow2", 1025))).ExpectImsError(400, "IMG.0055");
        (await alice.PostAsync(ActionPath, new { name = "x", image_url = $"{bucket}:disk.qcow2", min_disk = 40, hw_firmware_type = "efi" }))
            .ExpectImsError(400, "IMG.0141");
        (await alice.PostAsync(ActionPath, new { name = "x", image_url = $"{bucket}:disk.qcow2", min_disk = 40, architecture = "mips" }))
            .ExpectImsError(400, "IMG.0212");
        (await alice.PostAsync(ActionPath, new { name = "x", image_url = $"{bucket}:disk.qcow2", min_disk = 40, os_type = "Solaris" }))
            .ExpectImsError(400, "IMG.0122");
        (await alice.PostAsync(ActionPath, new { name = "x", image_url = $"{bucket}:disk.qcow2", min_disk = 40, type = "BMS" })).ExpectImsError(400, "IMG.0117");
        (await alice.PostAsync(ActionPath, new
        {
            name = "x", image_url = $"{bucket}:disk.qcow2", min_disk = 40,
            data_images = new[] { new { image_url = $"{bucket}:disk.qcow2", min_disk = 40 } },
        })).ExpectImsError(400, "IMG.0123");
        (await alice.PostAsync(ActionPath, new
        {
            name = "x", image_url = $"{bucket}:disk.qcow2", min_disk = 40,
            data_images = Enumerable.Range(0, 4).Select(i => new { image_url = $"{bucket}:d{i}.qcow2", min_disk = 40 }).ToArray(),
        })).ExpectImsError(400, "IMG.0194");
        (await alice.PostAsync(DataImagePath, new { name = "x", image_url = $"{bucket}:disk.qcow2", min_disk = 20 })).ExpectImsError(400, "IMG.0055");
        (await alice.PostAsync(DataImagePath, new { name = "x", image_url = $"{bucket}:disk.qcow2", min_disk = 40, os_type = "Other" }))
            .ExpectImsError(400, "IMG.0122");
        (await alice.PostAsync(DataImagePath, new { image_url = $"{bucket}:disk.qcow2", min_disk = 40 })).ExpectImsError(400, "IMG.0013");
        (await alice.PostAsync(DataImagePath, new { name = "x", min_disk = 40 })).ExpectImsError(400, "IMG.0017");
        Assert.Equal(usedBefore, await QuotaUsedAsync(alice));
    }

    [Fact]
    public async Task A_failed_import_leaves_no_listed_image_and_no_quota_held()
    {
        var alice = Service.Client(TestAccounts.Alice);
        var raw = ImageFiles.RawDisk(1024 * 1024, seed: 79);
        // A qcow2 that reads its data from a backing file on the host is refused as uploads are.
        var basePath = Path.Combine(_home, "base.raw");
        var overlayPath = Path.Combine(_home, "overlay.qcow2");
        await File.WriteAllBytesAsync(basePath, raw);
        await ImageFiles.RunAsync("qemu-img", "create", "-f", "qcow2", "-b", basePath, "-F", "raw", overlayPath);
        // A 2 GiB disk cannot be a 1 GB system disk.
        var largePath = Path.Combine(_home, "large.qcow2");
        await ImageFiles.RunAsync("qemu-img", "create", "-f", "qcow2", largePath, "2G");
        var bucket = await BucketWithAsync(TestAccounts.Alice,
            ("raw-named.qcow2", raw), ("overlay.qcow2", await File.ReadAllBytesAsync(overlayPath)), ("large.qcow2", await File.ReadAllBytesAsync(largePath)));
        var usedBefore = await QuotaUsedAsync(alice);

        foreach (var (key, code) in new[] { ("raw-named.qcow2", "IMG.0057"), ("overlay.qcow2", "IMG.0057"), ("large.qcow2", "IMG.0055") })
        {
            var job = await AcceptedJobAsync(alice, ActionPath, new { name = Servers.UniqueName("bad"), image_url = $"{bucket}:{key}", min_disk = 1 },
                "imsImportImageJob");
            Assert.Equal("FAIL", (string?)job["status"]);
            Assert.Equal(code, (string?)job["error_code"]);
            Assert.False(await ListedAsync(alice, (string)job["entities"]!["image_id"]!));
        }
        Assert.Equal(usedBefore, await QuotaUsedAsync(alice));

        // A job that fails after the file was fetched and converted: its images go too.
        var faults = new Faults(Service.BaseAddress);
        var failAtRegister = await faults.CreateAsync(new { job_type = "imsImportImageJob", step = "RegisterImage", error_code = "IMG.1075", count = 1 });
        try
        {
            var qcow2 = await ImageFiles.ToQcow2Async(raw);
            using (var s3 = fixture.S3(TestAccounts.Alice))
                await s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "late.qcow2", InputStream = new MemoryStream(qcow2), UseChunkEncoding = false });
            var job = await AcceptedJobAsync(alice, ActionPath, new
            {
                name = Servers.UniqueName("late"), image_url = $"{bucket}:late.qcow2", min_disk = 1,
                data_images = new[] { new { image_url = $"{bucket}:raw-named.qcow2", min_disk = 1 } },
            }, "imsImportImageJob");
            // The data file is not a qcow2 either: whichever fails first, both images go.
            Assert.Equal("FAIL", (string?)job["status"]);
            Assert.False(await ListedAsync(alice, (string)job["entities"]!["image_id"]!));
            Assert.False(await ListedAsync(alice, (string)job["entities"]!["sub_jobs_result"]![0]!["entities"]!["image_id"]!));
        }
        finally
        {
            await faults.DeleteAsync((string)failAtRegister["id"]!);
        }
        Assert.Equal(usedBefore, await QuotaUsedAsync(alice));

        // The object went away between the request and the job.
        using (var s3 = fixture.S3(TestAccounts.Alice))
            await s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "gone.raw", InputStream = new MemoryStream(raw), UseChunkEncoding = false });
        var slow = await faults.CreateAsync(new { job_type = "imsImportDataImageJob", step = "FetchFile", delay_ms = 3000, count = 1 });
        try
        {
            var accepted = (await alice.PostAsync(DataImagePath, new { name = Servers.UniqueName("gone"), image_url = $"{bucket}:gone.raw", min_disk = 40 }))
                .Expect(200);
            using (var s3 = fixture.S3(TestAccounts.Alice)) await s3.DeleteObjectAsync(bucket, "gone.raw");
            var job = await alice.WaitForJobAsync((string)accepted["job_id"]!, TimeSpan.FromSeconds(120));
            Assert.Equal("FAIL", (string?)job["status"]);
            Assert.Equal("IMG.0057", (string?)job["error_code"]);
        }
        finally
        {
            await faults.DeleteAsync((string)slow["id"]!);
        }
        Assert.Equal(usedBefore, await QuotaUsedAsync(alice));
    }
}

/// <summary>The OTC profile imports too: a data disk image of a qcow2 through the v1 call, and the same refusals.</summary>
public sealed class ImageImportOtcTests : IAsyncLifetime
{
    private ObsFixture _fixture = null!;

    public async Task InitializeAsync()
    {
        _fixture = new ObsFixture();
        await _fixture.StartAsync("--Ims:Profile=Otc");
    }

    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task A_data_image_of_a_qcow2_imports_in_the_OTC_profile()
    {
        var alice = _fixture.Service.Client(TestAccounts.Alice);
        var raw = ImageFiles.RawDisk(1024 * 1024, seed: 80);
        var bucket = ObsFixture.NewBucketName();
        using (var s3 = _fixture.S3(TestAccounts.Alice))
        {
            await s3.PutBucketAsync(bucket);
            await s3.PutObjectAsync(new PutObjectRequest
            {
                BucketName = bucket, Key = "data.qcow2", InputStream = new MemoryStream(await ImageFiles.ToQcow2Async(raw)), UseChunkEncoding = false,
            });
        }
        var accepted = (await alice.PostAsync("/v1/cloudimages/dataimages/action", new { name = "otc-data", image_url = $"{bucket}:data.qcow2", min_disk = 40 }))
            .Expect(200);
        var job = await alice.WaitForJobAsync((string)accepted["job_id"]!, TimeSpan.FromSeconds(120));
        Assert.True((string?)job["status"] == "SUCCESS", job.ToJsonString());
        var image = (await alice.GetAsync($"/v2/images/{(string)job["entities"]!["image_id"]!}")).Expect(200);
        Assert.Equal(raw.Length, (long)image["virtual_size"]!);
        (await alice.PostAsync("/v1/cloudimages/dataimages/action", new { name = "otc-data", image_url = $"{bucket}:data.zvhd2", min_disk = 40 }))
            .ExpectImsError(400, "IMG.0072");
    }
}
