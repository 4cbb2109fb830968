using System.Security.Cryptography;
using Amazon.S3.Model;
using Ims.Service.Obs;
using Ims.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Ims.Tests.Obs;

/// <summary>
/// The seam import and export read and write bucket files through, on the service's own buckets: a file put with an S3
/// client is read back whole; an export written through it is downloaded whole; another account's bucket and an
/// existing key are refused.
/// </summary>
public sealed class ImageFileBucketsTests(ObsFixture fixture) : IClassFixture<ObsFixture>
{
    private const string AliceDomain = "d0000000000000000000000000000000";
    private const string BobDomain = "d0000000000000000000000000000001";

    private IImageFileBuckets Buckets => fixture.Service.App.Services.GetRequiredService<IImageFileBuckets>();

    [Fact]
    public async Task Files_put_by_a_client_are_read_whole_and_exports_are_downloaded_whole()
    {
        using var s3 = fixture.S3(TestAccounts.Alice);
        var bucket = ObsFixture.NewBucketName();
        await s3.PutBucketAsync(bucket);
        var content = RandomNumberGenerator.GetBytes(300_000);
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "in/disk.qcow2", InputStream = new MemoryStream(content) });

        var (file, problem) = await Buckets.OpenAsync(AliceDomain, bucket, "in/disk.qcow2", CancellationToken.None);
        Assert.Equal(BucketFileProblem.None, problem);
        await using (file!)
        {
            Assert.Equal(content.Length, file!.Size);
            using var copy = new MemoryStream();
            await file.Content.CopyToAsync(copy);
            Assert.Equal(content, copy.ToArray());
        }
        Assert.Equal(BucketFileProblem.NoSuchObject, (await Buckets.OpenAsync(AliceDomain, bucket, "in/absent", CancellationToken.None)).Problem);
        Assert.Equal(BucketFileProblem.BucketInaccessible, (await Buckets.OpenAsync(BobDomain, bucket, "in/disk.qcow2", CancellationToken.None)).Problem);

        Assert.Equal(BucketFileProblem.ObjectExists, await Buckets.CheckWritableAsync(AliceDomain, "cn-north-4", bucket, "in/disk.qcow2", CancellationToken.None));
        Assert.Equal(BucketFileProblem.BucketInaccessible, await Buckets.CheckWritableAsync(BobDomain, "cn-north-4", bucket, "out/export.qcow2", CancellationToken.None));
        Assert.Equal(BucketFileProblem.None, await Buckets.CheckWritableAsync(AliceDomain, "cn-north-4", bucket, "out/export.qcow2", CancellationToken.None));

        await Buckets.WriteAsync(AliceDomain, bucket, "out/export.qcow2", new MemoryStream(content), CancellationToken.None);
        using var exported = await s3.GetObjectAsync(bucket, "out/export.qcow2");
        using var back = new MemoryStream();
        await exported.ResponseStream.CopyToAsync(back);
        Assert.Equal(content, back.ToArray());
        Assert.Equal($"\"{Convert.ToHexStringLower(MD5.HashData(content))}\"", exported.ETag);
    }

    [Fact]
    public async Task A_write_that_fails_half_way_or_outlives_its_bucket_leaves_no_object_and_no_file()
    {
        using var s3 = fixture.S3(TestAccounts.Alice);
        var bucket = ObsFixture.NewBucketName();
        await s3.PutBucketAsync(bucket);
        var objectFiles = Path.Combine(fixture.Service.DataDir, "obs");
        var filesBefore = Directory.GetFiles(objectFiles, "*", SearchOption.AllDirectories).Length;

        var broken = new FailingStream(RandomNumberGenerator.GetBytes(3_000_000), failAfter: 2_000_000);
        await Assert.ThrowsAsync<IOException>(() => Buckets.WriteAsync(AliceDomain, bucket, "out/broken.qcow2", broken, CancellationToken.None));
        Assert.Empty((await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket })).S3Objects ?? []);
        Assert.Equal(filesBefore, Directory.GetFiles(objectFiles, "*", SearchOption.AllDirectories).Length);

        // The bucket went away while the body was being written (another account's bucket is refused alike).
        await s3.DeleteBucketAsync(bucket);
        var gone = await Assert.ThrowsAsync<BucketFileException>(() =>
            Buckets.WriteAsync(AliceDomain, bucket, "out/late.qcow2", new MemoryStream(new byte[1000]), CancellationToken.None));
        Assert.Equal(BucketFileProblem.BucketInaccessible, gone.Problem);
        Assert.Equal(filesBefore, Directory.GetFiles(objectFiles, "*", SearchOption.AllDirectories).Length);
        var head = await Assert.ThrowsAsync<Amazon.S3.AmazonS3Exception>(() => s3.GetObjectMetadataAsync(bucket, "out/late.qcow2"));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, head.StatusCode);
    }
}
