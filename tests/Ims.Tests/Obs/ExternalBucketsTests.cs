using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Amazon.S3.Model;
using Ims.Service.Obs;
using Ims.Tests.DataPlane;
using Ims.Tests.Ims;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Obs;

/// <summary>
/// Import and export through an external S3 service (<c>Ims:Obs:Endpoint</c>), against the real RADOS Gateway (run when
/// <c>IMS_TEST_S3*</c> are set, as <c>scripts/rgw.sh start</c> prints them; skipped otherwise): files are read whole,
/// large exports go up in parts and appear only when complete, a failed one leaves neither object nor parts, and an
/// image exported into an RGW bucket downloads with s3cmd and converts back to its bytes.
/// </summary>
public sealed class ExternalBucketsTests : IDisposable
{
    private const int PartBytes = 5 * 1024 * 1024;

    private readonly TestBucket _bucket = TestBucket.Settings() is null ? null! : new TestBucket();
    private readonly string _home = Directory.CreateTempSubdirectory("ims-rgw-export-").FullName;

    public void Dispose()
    {
        _bucket?.Dispose();
        Directory.Delete(_home, recursive: true);
    }

    private static ObsOptions Options()
    {
        var settings = TestBucket.Settings()!;
        return new ObsOptions { Endpoint = settings.Endpoint, AccessKey = settings.AccessKey, SecretKey = settings.SecretKey, ExportPartBytes = PartBytes };
    }

    /// <summary>The test's bucket, made on the RGW (a TestBucket is only named until something creates it).</summary>
    private async Task CreateBucketAsync() => await _bucket.Raw.PutBucketAsync(_bucket.Name);

    private async Task<List<MultipartUpload>> UnfinishedUploadsAsync() =>
        (await _bucket.Raw.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = _bucket.Name })).MultipartUploads ?? [];

    [RgwFact]
    public async Task Files_are_read_whole_and_a_large_export_goes_up_in_parts_appearing_only_when_complete()
    {
        await CreateBucketAsync();
        using var buckets = new S3ImageFileBuckets(Options());
        var small = RandomNumberGenerator.GetBytes(300_000);
        await _bucket.PutAsync("in/disk.qcow2", small);

        var (file, problem) = await buckets.OpenAsync("any-domain", _bucket.Name, "in/disk.qcow2", CancellationToken.None);
        Assert.Equal(BucketFileProblem.None, problem);
        await using (file!)
        {
            using var copy = new MemoryStream();
            await file!.Content.CopyToAsync(copy);
            Assert.Equal(small, copy.ToArray());
        }
        Assert.Equal(BucketFileProblem.NoSuchObject, (await buckets.OpenAsync("d", _bucket.Name, "in/absent", CancellationToken.None)).Problem);
        Assert.Equal(BucketFileProblem.BucketInaccessible, (await buckets.OpenAsync("d", "ims-no-such-bucket-0", "x", CancellationToken.None)).Problem);

        Assert.Equal(BucketFileProblem.ObjectExists, await buckets.CheckWritableAsync("d", "r", _bucket.Name, "in/disk.qcow2", CancellationToken.None));
        Assert.Equal(BucketFileProblem.None, await buckets.CheckWritableAsync("d", "r", _bucket.Name, "out/disk.qcow2", CancellationToken.None));
        Assert.Equal(BucketFileProblem.BucketInaccessible, await buckets.CheckWritableAsync("d", "r", "ims-no-such-bucket-0", "x", CancellationToken.None));

        var large = RandomNumberGenerator.GetBytes(2 * PartBytes + 12345);
        await buckets.WriteAsync("d", _bucket.Name, "out/large.qcow2", new MemoryStream(large), CancellationToken.None);
        Assert.Equal(large, await _bucket.GetAsync("out/large.qcow2"));
        Assert.EndsWith("-3\"", (await _bucket.Raw.GetObjectMetadataAsync(_bucket.Name, "out/large.qcow2")).ETag);
        await buckets.WriteAsync("d", _bucket.Name, "out/small.qcow2", new MemoryStream(small), CancellationToken.None);
        Assert.Equal(small, await _bucket.GetAsync("out/small.qcow2"));
        Assert.Empty(await UnfinishedUploadsAsync());
    }

    [RgwFact]
    public async Task An_export_that_fails_half_way_leaves_no_object_and_no_parts()
    {
        await CreateBucketAsync();
        using var buckets = new S3ImageFileBuckets(Options());
        // Two parts are stored before the file breaks off.
        var failing = new FailingStream(RandomNumberGenerator.GetBytes(3 * PartBytes), failAfter: 2 * PartBytes + 1000);
        await Assert.ThrowsAsync<IOException>(() => buckets.WriteAsync("d", _bucket.Name, "out/broken.qcow2", failing, CancellationToken.None));
        Assert.Empty(await _bucket.KeysAsync(""));
        Assert.Empty(await UnfinishedUploadsAsync());

        var missing = await Assert.ThrowsAsync<BucketFileException>(() =>
            buckets.WriteAsync("d", "ims-no-such-bucket-0", "x", new MemoryStream(new byte[10]), CancellationToken.None));
        Assert.Equal(BucketFileProblem.BucketInaccessible, missing.Problem);
    }

    [RgwFact]
    public async Task An_image_exported_into_an_RGW_bucket_downloads_with_s3cmd_and_converts_back_to_its_bytes()
    {
        var settings = TestBucket.Settings()!;
        await CreateBucketAsync();
        await using var service = await TestService.StartAsync(null, null,
            $"--Ims:Obs:Endpoint={settings.Endpoint}", $"--Ims:Obs:AccessKey={settings.AccessKey}", $"--Ims:Obs:SecretKey={settings.SecretKey}",
            $"--Ims:Obs:ExportPartBytes={PartBytes}");
        var alice = service.Client(TestAccounts.Alice);
        var disk = ImageFiles.RawDisk(12 * 1024 * 1024, seed: 31);
        var imageId = (await ImageFiles.CreateAsync(alice, "qcow2")).Id();
        (await ImageFiles.UploadAsync(alice, imageId, await ImageFiles.ToQcow2Async(disk))).Expect(204);

        (await alice.PostAsync($"/v1/cloudimages/{imageId}/file", new { bucket_url = $"ims-no-such-bucket-0:disk.vmdk", file_format = "vmdk" }))
            .ExpectImsError(400, "IMG.0069");
        await _bucket.PutAsync("taken.vmdk", [1, 2, 3]);
        (await alice.PostAsync($"/v1/cloudimages/{imageId}/file", new { bucket_url = $"{_bucket.Name}:taken.vmdk", file_format = "vmdk" }))
            .ExpectImsError(400, "IMG.0070");

        var accepted = (await alice.PostAsync($"/v1/cloudimages/{imageId}/file", new { bucket_url = $"{_bucket.Name}:images/disk.qcow2", file_format = "qcow2" }))
            .Expect(200);
        await alice.WaitForJobSuccessAsync((string)accepted["job_id"]!, TimeSpan.FromSeconds(120));

        var config = Path.Combine(_home, "s3cfg");
        var endpoint = new Uri(settings.Endpoint!);
        await File.WriteAllTextAsync(config, $"""
            [default]
            access_key = {settings.AccessKey}
            secret_key = {settings.SecretKey}
            host_base = {endpoint.Authority}
            host_bucket = {endpoint.Authority}
            use_https = False
            max_retries = 1
            """);
        var downloaded = Path.Combine(_home, "disk.qcow2");
        await Cli.RunAsync(_home, "s3cmd", ["-c", config, "get", $"s3://{_bucket.Name}/images/disk.qcow2", downloaded]);
        var info = JsonNode.Parse(await Cli.RunAsync(_home, "qemu-img", ["info", "--output=json", downloaded]))!;
        Assert.Equal("qcow2", (string?)info["format"]);
        var raw = Path.Combine(_home, "disk.raw");
        await Cli.RunAsync(_home, "qemu-img", ["convert", "-f", "qcow2", "-O", "raw", downloaded, raw]);
        Assert.Equal(disk, await File.ReadAllBytesAsync(raw));
        Assert.Empty(await UnfinishedUploadsAsync());
    }
}

/// <summary>A file that breaks off (an I/O error) after <c>failAfter</c> bytes.</summary>
internal sealed class FailingStream(byte[] content, int failAfter) : Stream
{
    private readonly MemoryStream _inner = new(content, writable: false);

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _inner.Position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count)
    {
        if (_inner.Position >= failAfter) throw new IOException("The disk went away.");
        return _inner.Read(buffer, offset, (int)Math.Min(count, failAfter - _inner.Position));
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer, offset, count));

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var array = new byte[buffer.Length];
        var read = Read(array, 0, array.Length);
        array.AsSpan(0, read).CopyTo(buffer.Span);
        return ValueTask.FromResult(read);
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _inner.Dispose();
        base.Dispose(disposing);
    }
}
