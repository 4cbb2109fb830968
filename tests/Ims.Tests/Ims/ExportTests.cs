using System.Text.Json.Nodes;
using Amazon.S3;
using Amazon.S3.Model;
using Dapper;
using Ims.Service.Storage;
using Ims.Tests.Infrastructure;
using Ims.Tests.Obs;
using Microsoft.Extensions.DependencyInjection;

namespace Ims.Tests.Ims;

/// <summary>
/// Exports (<c>POST /v1/cloudimages/{id}/file</c>) into the service's own buckets: an uploaded image with known bytes
/// goes out as qcow2, vhd, vmdk or (quick) raw, is downloaded with s3cmd and read back with qemu-img to the same disk;
/// the reference's refusals answer their codes; an export that fails leaves no object and the image as it was.
/// </summary>
public sealed class ExportTests(ObsFixture fixture) : IClassFixture<ObsFixture>, IDisposable
{
    private const int DiskSize = 6 * 1024 * 1024;

    private readonly string _home = Directory.CreateTempSubdirectory("ims-export-").FullName;

    private TestService Service => fixture.Service;
    private ApiClient Alice => Service.Client(TestAccounts.Alice);
    private Faults Faults => new(Service.BaseAddress);

    public void Dispose() => Directory.Delete(_home, recursive: true);

    private static string ExportPath(string imageId) => $"/v1/cloudimages/{imageId}/file";

    /// <summary>The raw disk every exported image holds, uploaded as qcow2 once per test class.</summary>
    private static readonly byte[] Disk = ImageFiles.RawDisk(DiskSize, seed: 29);

    /// <summary>An active image of Alice's whose disk is <see cref="Disk"/>, made by a native qcow2 upload.</summary>
    private async Task<string> UploadedImageAsync()
    {
        var imageId = (await ImageFiles.CreateAsync(Alice, "qcow2")).Id();
        (await ImageFiles.UploadAsync(Alice, imageId, await ImageFiles.ToQcow2Async(Disk))).Expect(204);
        return imageId;
    }

    private async Task<string> NewBucketAsync(TestTenant? tenant = null)
    {
        var bucket = ObsFixture.NewBucketName();
        using var s3 = fixture.S3(tenant ?? TestAccounts.Alice);
        await s3.PutBucketAsync(bucket);
        return bucket;
    }

    private async Task<string> ExportAsync(string imageId, object body, string version = "v1")
    {
        var accepted = (await Alice.PostAsync($"/{version}/cloudimages/{imageId}/file", body)).Expect(200);
        var jobId = (string)accepted["job_id"]!;
        Assert.Matches("^[0-9a-f]{32}$", jobId);
        Assert.Single(accepted.Json.AsObject());
        return jobId;
    }

    private string S3cmdConfig()
    {
        var path = Path.Combine(_home, "s3cfg");
        File.WriteAllText(path, $"""
            [default]
            access_key = {TestAccounts.Alice.AccessKey}
            secret_key = {TestAccounts.Alice.SecretKey}
            host_base = 127.0.0.1:{fixture.Port}
            host_bucket = 127.0.0.1:{fixture.Port}
            bucket_location = cn-north-4
            use_https = False
            max_retries = 1
            """);
        return path;
    }

    /// <summary>Downloads <c>s3://bucket/key</c> with s3cmd, as a user fetching the export would.</summary>
    private async Task<string> DownloadAsync(string bucket, string key)
    {
        var path = Path.Combine(_home, Guid.NewGuid().ToString("N"));
        await Cli.RunAsync(_home, "s3cmd", ["-c", S3cmdConfig(), "get", $"s3://{bucket}/{key}", path]);
        return path;
    }

    /// <summary>The disk an image file holds, as <c>qemu-img convert -f format -O raw</c> gives it back.</summary>
    private async Task<byte[]> RawOfAsync(string file, string qemuFormat)
    {
        var info = JsonNode.Parse(await Cli.RunAsync(_home, "qemu-img", ["info", "--output=json", file]))!;
        Assert.Equal(qemuFormat, (string?)info["format"]);
        Assert.Equal(DiskSize, (long)info["virtual-size"]!);
        var raw = Path.Combine(_home, Guid.NewGuid().ToString("N") + ".raw");
        await Cli.RunAsync(_home, "qemu-img", ["convert", "-f", qemuFormat, "-O", "raw", file, raw]);
        return await File.ReadAllBytesAsync(raw);
    }

    private async Task<JsonNode> ImageAsync(string imageId) =>
        (await Alice.GetAsync($"/v2/cloudimages?id={imageId}")).Expect(200)["images"].AsArray().Single()!;

    private async Task<long> ObjectRowsAsync(string bucket)
    {
        await using var connection = await Service.App.Services.GetRequiredService<Database>().OpenAsync(CancellationToken.None);
        return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM obs_objects WHERE bucket = @bucket", new { bucket });
    }

    private string[] ScratchFiles(string jobId) =>
        Directory.Exists(Path.Combine(Service.DataDir, "uploads"))
            ? Directory.GetFiles(Path.Combine(Service.DataDir, "uploads"), $"export-{jobId}*")
            : [];

    [Fact]
    public async Task A_qcow2_export_downloaded_with_s3cmd_converts_back_to_the_images_bytes()
    {
        var imageId = await UploadedImageAsync();
        var before = await ImageAsync(imageId);
        var bucket = await NewBucketAsync();

        var jobId = await ExportAsync(imageId, new { bucket_url = $"{bucket}:exports/disk.qcow2", file_format = "qcow2", is_quick_export = false });
        var job = await Alice.WaitForJobSuccessAsync(jobId, TimeSpan.FromSeconds(60));
        Assert.Equal("imsNativeExportImageJob", (string?)job["job_type"]);
        Assert.Equal(imageId, (string?)job["entities"]!["image_id"]);

        var file = await DownloadAsync(bucket, "exports/disk.qcow2");
        Assert.Equal(Disk, await RawOfAsync(file, "qcow2"));
        // Exporting reads the image and changes nothing of it; the scratch files are gone.
        Assert.Equal(before.ToJsonString(), (await ImageAsync(imageId)).ToJsonString());
        Assert.Empty(ScratchFiles(jobId));
    }

    [Theory]
    [InlineData("vhd", "vpc", "v1")]
    [InlineData("vmdk", "vmdk", "v2.1")]
    public async Task Vhd_and_vmdk_exports_are_read_by_qemu_img_as_the_same_disk(string format, string qemuFormat, string version)
    {
        var imageId = await UploadedImageAsync();
        var bucket = await NewBucketAsync();
        var jobId = await ExportAsync(imageId, new { bucket_url = $"{bucket}:disk.{format}", file_format = format }, version);
        await Alice.WaitForJobSuccessAsync(jobId, TimeSpan.FromSeconds(60));
        Assert.Equal(Disk, await RawOfAsync(await DownloadAsync(bucket, $"disk.{format}"), qemuFormat));
    }

    [Fact]
    public async Task A_data_disk_image_of_an_EVS_disk_exports_with_the_disks_bytes()
    {
        const long Gib = 1L << 30;
        const int Chunk = 4 * 1024 * 1024;
        var volumeId = await Servers.CreateVolumeAsync(Alice, size: 10);
        (long Offset, byte[] Data)[] written =
        [
            (0, DataPlane.DiskBytes.Pattern(41, 512 * 1024)),
            (3L * Chunk - 4096, DataPlane.DiskBytes.Pattern(42, Chunk + 8192)),
            (10 * Gib - 65536, DataPlane.DiskBytes.Pattern(43, 65536)),
        ];
        foreach (var (offset, data) in written) await DataPlane.DiskBytes.WriteAsync(Alice, volumeId, offset, data);
        var accepted = (await Alice.PostAsync("/v2/cloudimages/action", new { data_images = new[] { new { name = "evs-data", volume_id = volumeId } } }))
            .Expect(200);
        var made = await Alice.WaitForJobSuccessAsync((string)accepted["job_id"]!, TimeSpan.FromSeconds(120));
        var imageId = (string)made["entities"]!["sub_jobs_result"]![0]!["entities"]!["image_id"]!;

        var bucket = await NewBucketAsync();
        await Alice.WaitForJobSuccessAsync(await ExportAsync(imageId, new { bucket_url = $"{bucket}:data.qcow2", file_format = "qcow2" }),
            TimeSpan.FromSeconds(120));

        // The disk comes back whole (10 GiB, mostly holes) with what was written where it was written.
        var raw = Path.Combine(_home, "data.raw");
        await Cli.RunAsync(_home, "qemu-img", ["convert", "-f", "qcow2", "-O", "raw", "-S", "4k", await DownloadAsync(bucket, "data.qcow2"), raw]);
        using var file = File.OpenHandle(raw);
        Assert.Equal(10 * Gib, RandomAccess.GetLength(file));
        foreach (var (offset, data) in written)
        {
            var back = new byte[data.Length];
            Assert.Equal(data.Length, RandomAccess.Read(file, back, offset));
            Assert.Equal(data, back);
        }
        var between = new byte[65536];
        RandomAccess.Read(file, between, 5 * Gib);
        Assert.All(between, b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task A_quick_export_is_the_raw_disk()
    {
        var imageId = await UploadedImageAsync();
        var bucket = await NewBucketAsync();
        var jobId = await ExportAsync(imageId, new { bucket_url = $"{bucket}:disk.raw", is_quick_export = true });
        await Alice.WaitForJobSuccessAsync(jobId, TimeSpan.FromSeconds(60));
        Assert.Equal(Disk, await File.ReadAllBytesAsync(await DownloadAsync(bucket, "disk.raw")));
    }

    [Fact]
    public async Task Zvhd_is_refused_since_no_public_tool_writes_it()
    {
        var imageId = await UploadedImageAsync();
        var bucket = await NewBucketAsync();
        foreach (var format in new[] { "zvhd", "zvhd2" })
        {
            var refused = await Alice.PostAsync(ExportPath(imageId), new { bucket_url = $"{bucket}:disk.{format}", file_format = format });
            refused.ExpectImsError(400, "IMG.0072");
            Assert.Contains("no public tool writes", (string?)refused.Json["error"]!["message"], StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Buckets_that_are_missing_foreign_or_already_hold_the_object_are_refused()
    {
        var imageId = await UploadedImageAsync();
        (await Alice.PostAsync(ExportPath(imageId), new { bucket_url = $"{ObsFixture.NewBucketName()}:disk.qcow2", file_format = "qcow2" }))
            .ExpectImsError(400, "IMG.0069");
        var bobs = await NewBucketAsync(TestAccounts.Bob);
        (await Alice.PostAsync(ExportPath(imageId), new { bucket_url = $"{bobs}:disk.qcow2", file_format = "qcow2" })).ExpectImsError(400, "IMG.0069");

        var bucket = await NewBucketAsync();
        using var s3 = fixture.S3(TestAccounts.Alice);
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "taken.qcow2", ContentBody = "someone's file" });
        (await Alice.PostAsync(ExportPath(imageId), new { bucket_url = $"{bucket}:taken.qcow2", file_format = "qcow2" })).ExpectImsError(400, "IMG.0070");
        Assert.Equal("someone's file", await new StreamReader((await s3.GetObjectAsync(bucket, "taken.qcow2")).ResponseStream).ReadToEndAsync());
    }

    [Fact]
    public async Task A_bucket_of_another_region_is_refused()
    {
        // This deployment's buckets are in cn-east-3; Alice's project is in cn-north-4.
        var other = new ObsFixture();
        await other.StartAsync("--Ims:Obs:Region=cn-east-3");
        try
        {
            var alice = other.Service.Client(TestAccounts.Alice);
            var imageId = (await ImageFiles.CreateAsync(alice, "qcow2")).Id();
            (await ImageFiles.UploadAsync(alice, imageId, await ImageFiles.ToQcow2Async(Disk))).Expect(204);
            var bucket = ObsFixture.NewBucketName();
            using (var s3 = other.S3(TestAccounts.Alice)) await s3.PutBucketAsync(bucket);
            (await alice.PostAsync(ExportPath(imageId), new { bucket_url = $"{bucket}:disk.qcow2", file_format = "qcow2" })).ExpectImsError(400, "IMG.0058");
        }
        finally
        {
            await other.DisposeAsync();
        }
    }

    [Fact]
    public async Task An_image_is_exported_once_at_a_time()
    {
        var imageId = await UploadedImageAsync();
        var bucket = await NewBucketAsync();
        var slow = await Faults.CreateAsync(new { job_type = "imsNativeExportImageJob", resource_id = imageId, step = "ConvertImage", delay_ms = 60_000 });
        try
        {
            var first = await ExportAsync(imageId, new { bucket_url = $"{bucket}:one.qcow2", file_format = "qcow2" });
            (await Alice.PostAsync(ExportPath(imageId), new { bucket_url = $"{bucket}:two.qcow2", file_format = "qcow2" })).ExpectImsError(400, "IMG.0148");
            await Faults.DeleteAsync((string)slow["id"]!);
            await Alice.WaitForJobSuccessAsync(first, TimeSpan.FromSeconds(60));
        }
        finally
        {
            await Faults.ClearAsync();
        }
        // Once it is done, the image can be exported again.
        await Alice.WaitForJobSuccessAsync(await ExportAsync(imageId, new { bucket_url = $"{bucket}:two.qcow2", file_format = "qcow2" }), TimeSpan.FromSeconds(60));
    }

    /// <summary>An active private image row of Alice's with the given columns (for what uploads cannot make: sizes, origins).</summary>
    private async Task<string> ImageRowAsync(string diskFormat = "zvhd2", long virtualSize = DiskSize, string properties = "{}", string? manifestId = "m")
    {
        var imageId = Guid.NewGuid().ToString();
        await Sharing.ExecuteAsync(Service,
            """
            INSERT INTO images (id, owner, name, status, visibility, imagetype, whole_image, min_disk, disk_format, properties,
                                virtual_size, manifest_id, created_at, updated_at, active_at)
            VALUES (@imageId, @owner, 'row', 'active', 'private', 'private', 0, 1, @diskFormat, @properties, @virtualSize, @manifestId, 0, 0, 0)
            """, new { imageId, owner = TestAccounts.Alice.ProjectId, diskFormat, properties, virtualSize, manifestId });
        return imageId;
    }

    [Fact]
    public async Task The_references_constraints_on_the_image_answer_their_codes()
    {
        var bucket = await NewBucketAsync();
        object Body(string format = "qcow2") => new { bucket_url = $"{bucket}:disk.{format}", file_format = format };
        const long Gb = 1024L * 1024 * 1024;

        // Still queued: its file never came.
        var queued = (await ImageFiles.CreateAsync(Alice, "qcow2")).Id();
        (await Alice.PostAsync(ExportPath(queued), Body())).ExpectImsError(400, "IMG.0046");
        // ISO images, and images with no disk content.
        (await Alice.PostAsync(ExportPath(await ImageRowAsync(diskFormat: "iso")), Body())).ExpectImsError(400, "IMG.0071");
        (await Alice.PostAsync(ExportPath(await ImageRowAsync(manifestId: null)), Body())).ExpectImsError(400, "IMG.0071");
        // Made from a public image of a licensed OS (Ubuntu here; Windows, SUSE, Red Hat and Oracle Linux alike).
        var licensed = await ImageRowAsync(properties: $$"""{"__originalimagename":"{{Servers.Ubuntu1804}}"}""");
        (await Alice.PostAsync(ExportPath(licensed), Body())).ExpectImsError(400, "IMG.0079");
        // Sizes: above 128 GB only quickly, and never 1 TB or more.
        var large = await ImageRowAsync(virtualSize: 200 * Gb);
        (await Alice.PostAsync(ExportPath(large), Body("vmdk"))).ExpectImsError(400, "IMG.0160");
        // Quickly it passes the image's checks, and meets the (missing) bucket's.
        (await Alice.PostAsync(ExportPath(large), new { bucket_url = $"{ObsFixture.NewBucketName()}:big", is_quick_export = true }))
            .ExpectImsError(400, "IMG.0069");
        (await Alice.PostAsync(ExportPath(await ImageRowAsync(virtualSize: 1024 * Gb)), new { bucket_url = $"{bucket}:huge", is_quick_export = true }))
            .ExpectImsError(400, "IMG.0071");
    }

    [Fact]
    public async Task A_failed_upload_leaves_no_object_no_scratch_file_and_the_image_as_it_was()
    {
        var imageId = await UploadedImageAsync();
        var before = await ImageAsync(imageId);
        var bucket = await NewBucketAsync();
        await Faults.CreateAsync(new { job_type = "imsNativeExportImageJob", resource_id = imageId, step = "UploadFile", error_code = "IMG.0069", count = 1 });

        var jobId = await ExportAsync(imageId, new { bucket_url = $"{bucket}:disk.qcow2", file_format = "qcow2" });
        var job = await Alice.WaitForJobAsync(jobId, TimeSpan.FromSeconds(60));
        Assert.Equal("FAIL", (string?)job["status"]);
        Assert.Equal("IMG.0069", (string?)job["error_code"]);

        using var s3 = fixture.S3(TestAccounts.Alice);
        var missing = await Assert.ThrowsAsync<AmazonS3Exception>(() => s3.GetObjectMetadataAsync(bucket, "disk.qcow2"));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal(0, await ObjectRowsAsync(bucket));
        Assert.Empty(ScratchFiles(jobId));
        Assert.Equal(before.ToJsonString(), (await ImageAsync(imageId)).ToJsonString());
    }

    [Fact]
    public async Task A_bucket_deleted_while_the_image_is_converted_fails_the_export_without_an_object()
    {
        var imageId = await UploadedImageAsync();
        var before = await ImageAsync(imageId);
        var bucket = await NewBucketAsync();
        // The job waits before its upload, its file converted, while the bucket goes.
        var slow = await Faults.CreateAsync(new { job_type = "imsNativeExportImageJob", resource_id = imageId, step = "UploadFile", delay_ms = 60_000 });
        var jobId = await ExportAsync(imageId, new { bucket_url = $"{bucket}:disk.qcow2", file_format = "qcow2" });
        await Poll.UntilAsync(() => Task.FromResult(ScratchFiles(jobId).Length > 0), TimeSpan.FromSeconds(60), "the export's converted file");
        using var s3 = fixture.S3(TestAccounts.Alice);
        await s3.DeleteBucketAsync(bucket);
        await Faults.DeleteAsync((string)slow["id"]!);

        var job = await Alice.WaitForJobAsync(jobId, TimeSpan.FromSeconds(60));
        Assert.Equal("FAIL", (string?)job["status"]);
        Assert.Equal("IMG.0069", (string?)job["error_code"]);
        Assert.Equal(0, await ObjectRowsAsync(bucket));
        Assert.Empty(ScratchFiles(jobId));
        Assert.Equal(before.ToJsonString(), (await ImageAsync(imageId)).ToJsonString());
    }
}
