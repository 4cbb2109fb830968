using System.Net;
using System.Security.Cryptography;
using System.Text;
using Amazon.S3;
using Amazon.S3.Model;
using Ims.Service.Obs;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Obs;

/// <summary>
/// The bucket API's rules through the AWS SDK for .NET (an S3 application's view) and through raw signed requests:
/// tenancy, errors with their S3 codes, listings and their paging, range reads, ETags, multipart rules, and bodies that
/// do not match what was signed or declared.
/// </summary>
public sealed class BucketApiTests(ObsFixture fixture) : IClassFixture<ObsFixture>
{
    private static async Task<AmazonS3Exception> FailsAsync(Func<Task> call)
    {
        var error = await Assert.ThrowsAnyAsync<AmazonS3Exception>(call);
        return error;
    }

    private static async Task PutAsync(AmazonS3Client s3, string bucket, string key, byte[] content) =>
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, InputStream = new MemoryStream(content) });

    private async Task<(AmazonS3Client S3, string Bucket)> NewBucketAsync()
    {
        var s3 = fixture.S3(TestAccounts.Alice);
        var bucket = ObsFixture.NewBucketName();
        await s3.PutBucketAsync(bucket);
        return (s3, bucket);
    }

    [Fact]
    public async Task Bucket_names_are_global_and_buckets_belong_to_their_account()
    {
        var (alice, bucket) = await NewBucketAsync();
        using var bob = fixture.S3(TestAccounts.Bob);

        var taken = await FailsAsync(() => bob.PutBucketAsync(bucket));
        Assert.Equal(("BucketAlreadyExists", HttpStatusCode.Conflict), (taken.ErrorCode, taken.StatusCode));
        var again = await FailsAsync(() => alice.PutBucketAsync(bucket));
        Assert.Equal(("BucketAlreadyOwnedByYou", HttpStatusCode.Conflict), (again.ErrorCode, again.StatusCode));
        var invalid = await FailsAsync(() => alice.PutBucketAsync("Not_A_Bucket"));
        Assert.Equal(("InvalidBucketName", HttpStatusCode.BadRequest), (invalid.ErrorCode, invalid.StatusCode));

        await PutAsync(alice, bucket, "secret.txt", "alice's"u8.ToArray());
        var denied = await FailsAsync(() => bob.GetObjectAsync(bucket, "secret.txt"));
        Assert.Equal(("AccessDenied", HttpStatusCode.Forbidden), (denied.ErrorCode, denied.StatusCode));
        var deniedPut = await FailsAsync(() => PutAsync(bob, bucket, "secret.txt", "bob's"u8.ToArray()));
        Assert.Equal("AccessDenied", deniedPut.ErrorCode);
        Assert.DoesNotContain((await bob.ListBucketsAsync()).Buckets ?? [], b => b.BucketName == bucket);
        Assert.Contains((await alice.ListBucketsAsync()).Buckets, b => b.BucketName == bucket);

        var notEmpty = await FailsAsync(() => alice.DeleteBucketAsync(bucket));
        Assert.Equal(("BucketNotEmpty", HttpStatusCode.Conflict), (notEmpty.ErrorCode, notEmpty.StatusCode));
        await alice.DeleteObjectAsync(bucket, "secret.txt");
        await alice.DeleteBucketAsync(bucket);
        var gone = await FailsAsync(() => alice.GetObjectAsync(bucket, "secret.txt"));
        Assert.Equal(("NoSuchBucket", HttpStatusCode.NotFound), (gone.ErrorCode, gone.StatusCode));
    }

    [Fact]
    public async Task Objects_answer_their_bytes_md5_etag_metadata_and_ranges()
    {
        var (s3, bucket) = await NewBucketAsync();
        var content = RandomNumberGenerator.GetBytes(50);
        var put = new PutObjectRequest { BucketName = bucket, Key = "dir/file name+ü.bin", InputStream = new MemoryStream(content), ContentType = "application/x-test" };
        put.Metadata.Add("origin", "unit");
        await s3.PutObjectAsync(put);

        using var whole = await s3.GetObjectAsync(bucket, "dir/file name+ü.bin");
        Assert.Equal($"\"{Convert.ToHexStringLower(MD5.HashData(content))}\"", whole.ETag);
        Assert.Equal("application/x-test", whole.Headers.ContentType);
        Assert.Equal("unit", whole.Metadata["origin"]);
        Assert.Equal(content, await ReadAllAsync(whole.ResponseStream));

        using var middle = await s3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = "dir/file name+ü.bin", ByteRange = new ByteRange(10, 19) });
        Assert.Equal(HttpStatusCode.PartialContent, middle.HttpStatusCode);
        Assert.Equal(content[10..20], await ReadAllAsync(middle.ResponseStream));
        Assert.Equal("bytes 10-19/50", middle.ContentRange);
        using var tail = await s3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = "dir/file name+ü.bin", ByteRange = new ByteRange("bytes=-5") });
        Assert.Equal(content[45..], await ReadAllAsync(tail.ResponseStream));
        var outside = await FailsAsync(() => s3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = "dir/file name+ü.bin", ByteRange = new ByteRange(100, 200) }));
        Assert.Equal(("InvalidRange", HttpStatusCode.RequestedRangeNotSatisfiable), (outside.ErrorCode, outside.StatusCode));

        var missing = await FailsAsync(() => s3.GetObjectAsync(bucket, "dir/absent"));
        Assert.Equal(("NoSuchKey", HttpStatusCode.NotFound), (missing.ErrorCode, missing.StatusCode));

        // Replacing an object answers the new bytes; deleting one twice is not an error, as in S3.
        await PutAsync(s3, bucket, "dir/file name+ü.bin", "new"u8.ToArray());
        using (var replaced = await s3.GetObjectAsync(bucket, "dir/file name+ü.bin")) Assert.Equal("new"u8.ToArray(), await ReadAllAsync(replaced.ResponseStream));
        await s3.DeleteObjectAsync(bucket, "dir/file name+ü.bin");
        await s3.DeleteObjectAsync(bucket, "dir/file name+ü.bin");
        await FailsAsync(() => s3.GetObjectMetadataAsync(bucket, "dir/file name+ü.bin"));
    }

    [Fact]
    public async Task Listings_roll_up_common_prefixes_and_page_in_byte_order()
    {
        var (s3, bucket) = await NewBucketAsync();
        foreach (var key in new[] { "a/1", "a/2", "b/x/1", "c", "d", "é" }) await PutAsync(s3, bucket, key, [1]);

        var first = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Delimiter = "/", MaxKeys = 3 });
        Assert.Equal(["a/", "b/"], first.CommonPrefixes);
        Assert.Equal(["c"], first.S3Objects.Select(o => o.Key));
        Assert.True(first.IsTruncated);
        var second = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Delimiter = "/", MaxKeys = 3, ContinuationToken = first.NextContinuationToken });
        Assert.Equal(["d", "é"], second.S3Objects.Select(o => o.Key));
        Assert.False(second.IsTruncated);

        var under = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = "b/" });
        Assert.Equal(["b/x/1"], under.S3Objects.Select(o => o.Key));

        var v1 = await s3.ListObjectsAsync(new ListObjectsRequest { BucketName = bucket, Marker = "a/2", MaxKeys = 2 });
        Assert.Equal(["b/x/1", "c"], v1.S3Objects.Select(o => o.Key));
        Assert.True(v1.IsTruncated);
        var v1Prefixes = await s3.ListObjectsAsync(new ListObjectsRequest { BucketName = bucket, Delimiter = "/", MaxKeys = 1 });
        Assert.Equal(["a/"], v1Prefixes.CommonPrefixes);
        Assert.Equal("a/", v1Prefixes.NextMarker);
        var v1Next = await s3.ListObjectsAsync(new ListObjectsRequest { BucketName = bucket, Delimiter = "/", MaxKeys = 1, Marker = v1Prefixes.NextMarker });
        Assert.Equal(["b/"], v1Next.CommonPrefixes);
    }

    [Fact]
    public async Task Multipart_uploads_join_their_parts_and_keep_s3s_rules()
    {
        var (s3, bucket) = await NewBucketAsync();
        var part1 = RandomNumberGenerator.GetBytes(5 * 1024 * 1024);
        var part2 = RandomNumberGenerator.GetBytes(1000);
        var upload = await s3.InitiateMultipartUploadAsync(bucket, "joined.bin");
        var etag2 = (await s3.UploadPartAsync(new UploadPartRequest { BucketName = bucket, Key = "joined.bin", UploadId = upload.UploadId, PartNumber = 2, InputStream = new MemoryStream(part2) })).ETag;
        var etag1 = (await s3.UploadPartAsync(new UploadPartRequest { BucketName = bucket, Key = "joined.bin", UploadId = upload.UploadId, PartNumber = 1, InputStream = new MemoryStream(part1) })).ETag;

        var parts = await s3.ListPartsAsync(bucket, "joined.bin", upload.UploadId);
        Assert.Equal([1, 2], parts.Parts.Select(p => p.PartNumber ?? 0));
        Assert.Equal([part1.Length, part2.Length], parts.Parts.Select(p => p.Size ?? 0));

        var wrongEtag = await FailsAsync(() => s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = bucket, Key = "joined.bin", UploadId = upload.UploadId,
            PartETags = [new PartETag(1, etag1), new PartETag(2, "\"00000000000000000000000000000000\"")],
        }));
        Assert.Equal("InvalidPart", wrongEtag.ErrorCode);
        await FailsAsync(() => s3.GetObjectMetadataAsync(bucket, "joined.bin"));

        var done = await s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = bucket, Key = "joined.bin", UploadId = upload.UploadId, PartETags = [new PartETag(1, etag1), new PartETag(2, etag2)],
        });
        var expectedEtag = Convert.ToHexStringLower(MD5.HashData([.. MD5.HashData(part1), .. MD5.HashData(part2)])) + "-2";
        Assert.Equal($"\"{expectedEtag}\"", done.ETag);
        byte[] whole = [.. part1, .. part2];
        using (var joined = await s3.GetObjectAsync(bucket, "joined.bin"))
            Assert.Equal(whole, await ReadAllAsync(joined.ResponseStream));
        var finished = await FailsAsync(() => s3.ListPartsAsync(bucket, "joined.bin", upload.UploadId));
        Assert.Equal(("NoSuchUpload", HttpStatusCode.NotFound), (finished.ErrorCode, finished.StatusCode));

        // Parts smaller than 5 MB may only be the last.
        var small = await s3.InitiateMultipartUploadAsync(bucket, "small-parts.bin");
        var s1 = (await s3.UploadPartAsync(new UploadPartRequest { BucketName = bucket, Key = "small-parts.bin", UploadId = small.UploadId, PartNumber = 1, InputStream = new MemoryStream(part2) })).ETag;
        var s2 = (await s3.UploadPartAsync(new UploadPartRequest { BucketName = bucket, Key = "small-parts.bin", UploadId = small.UploadId, PartNumber = 2, InputStream = new MemoryStream(part2) })).ETag;
        var entityTooSmall = await FailsAsync(() => s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = bucket, Key = "small-parts.bin", UploadId = small.UploadId, PartETags = [new PartETag(1, s1), new PartETag(2, s2)],
        }));
        Assert.Equal("EntityTooSmall", entityTooSmall.ErrorCode);
        Assert.Contains((await s3.ListMultipartUploadsAsync(bucket)).MultipartUploads, u => u.UploadId == small.UploadId);
        await s3.AbortMultipartUploadAsync(bucket, "small-parts.bin", small.UploadId);
        Assert.DoesNotContain((await s3.ListMultipartUploadsAsync(bucket)).MultipartUploads ?? [], u => u.UploadId == small.UploadId);
        var aborted = await FailsAsync(() => s3.UploadPartAsync(new UploadPartRequest { BucketName = bucket, Key = "small-parts.bin", UploadId = small.UploadId, PartNumber = 3, InputStream = new MemoryStream(part2) }));
        Assert.Equal("NoSuchUpload", aborted.ErrorCode);
    }

    [Fact]
    public async Task A_body_that_is_not_what_was_signed_or_declared_is_not_stored()
    {
        var (s3, bucket) = await NewBucketAsync();
        var badMd5 = await FailsAsync(() => s3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = bucket, Key = "md5.bin", InputStream = new MemoryStream([1, 2, 3]), MD5Digest = Convert.ToBase64String(MD5.HashData([9])),
        }));
        Assert.Equal(("BadDigest", HttpStatusCode.BadRequest), (badMd5.ErrorCode, badMd5.StatusCode));
        await FailsAsync(() => s3.GetObjectMetadataAsync(bucket, "md5.bin"));

        // Signed for one body, sent with another.
        using var http = new HttpClient();
        var signed = SignedPut(bucket, "sha.bin", signedBody: "expected"u8.ToArray(), sentBody: "tampered"u8.ToArray(), TestAccounts.Alice);
        var response = await http.SendAsync(signed);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("<Code>XAmzContentSHA256Mismatch</Code>", body);
        await FailsAsync(() => s3.GetObjectMetadataAsync(bucket, "sha.bin"));

        var forged = SignedPut(bucket, "forged.bin", "x"u8.ToArray(), "x"u8.ToArray(), TestAccounts.Alice with { SecretKey = "guess" });
        var refused = await http.SendAsync(forged);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("<Code>SignatureDoesNotMatch</Code>", await refused.Content.ReadAsStringAsync());

        var anonymous = await http.GetAsync($"{fixture.Endpoint}/{bucket}/sha.bin");
        Assert.Equal(HttpStatusCode.Forbidden, anonymous.StatusCode);
        Assert.Contains("<Code>AccessDenied</Code>", await anonymous.Content.ReadAsStringAsync());
    }

    /// <summary>A SigV4-signed PUT whose signature covers <paramref name="signedBody"/>'s hash but carries <paramref name="sentBody"/>.</summary>
    private HttpRequestMessage SignedPut(string bucket, string key, byte[] signedBody, byte[] sentBody, TestTenant tenant)
    {
        var now = DateTimeOffset.UtcNow;
        var amzDate = now.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var date = amzDate[..8];
        var payloadHash = Convert.ToHexStringLower(SHA256.HashData(signedBody));
        var host = $"127.0.0.1:{fixture.Port}";
        var path = $"/{bucket}/{key}";
        string[] signedHeaders = ["host", "x-amz-content-sha256", "x-amz-date"];
        var headers = new Dictionary<string, string> { ["host"] = host, ["x-amz-content-sha256"] = payloadHash, ["x-amz-date"] = amzDate };
        var canonical = S3Signature.V4CanonicalRequest("PUT", path, "", signedHeaders, n => headers[n], payloadHash);
        var key4 = S3Signature.V4SigningKey(tenant.SecretKey, date, "cn-north-4", "s3");
        var scope = $"{date}/cn-north-4/s3/aws4_request";
        var signature = S3Signature.V4Signature(key4, amzDate, scope, canonical);
        var request = new HttpRequestMessage(HttpMethod.Put, $"{fixture.Endpoint}{path}") { Content = new ByteArrayContent(sentBody) };
        request.Headers.TryAddWithoutValidation("x-amz-content-sha256", payloadHash);
        request.Headers.TryAddWithoutValidation("x-amz-date", amzDate);
        request.Headers.TryAddWithoutValidation("Authorization",
            $"AWS4-HMAC-SHA256 Credential={tenant.AccessKey}/{scope}, SignedHeaders={string.Join(';', signedHeaders)}, Signature={signature}");
        return request;
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    [Fact]
    public async Task Xml_error_bodies_carry_the_s3_code_and_the_key()
    {
        var (_, bucket) = await NewBucketAsync();
        using var http = new HttpClient();
        var request = SignedGet(bucket, "no/such/key");
        var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/xml", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<Error><Code>NoSuchKey</Code>", body);
        Assert.Contains("<Key>no/such/key</Key>", body);
    }

    private HttpRequestMessage SignedGet(string bucket, string key)
    {
        var tenant = TestAccounts.Alice;
        var amzDate = DateTimeOffset.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var host = $"127.0.0.1:{fixture.Port}";
        var path = $"/{bucket}/{key}";
        string[] signedHeaders = ["host", "x-amz-content-sha256", "x-amz-date"];
        var headers = new Dictionary<string, string> { ["host"] = host, ["x-amz-content-sha256"] = S3Signature.EmptySha256, ["x-amz-date"] = amzDate };
        var canonical = S3Signature.V4CanonicalRequest("GET", path, "", signedHeaders, n => headers[n], S3Signature.EmptySha256);
        var scope = $"{amzDate[..8]}/cn-north-4/s3/aws4_request";
        var signature = S3Signature.V4Signature(S3Signature.V4SigningKey(tenant.SecretKey, amzDate[..8], "cn-north-4", "s3"), amzDate, scope, canonical);
        var request = new HttpRequestMessage(HttpMethod.Get, $"{fixture.Endpoint}{path}");
        request.Headers.TryAddWithoutValidation("x-amz-content-sha256", S3Signature.EmptySha256);
        request.Headers.TryAddWithoutValidation("x-amz-date", amzDate);
        request.Headers.TryAddWithoutValidation("Authorization",
            $"AWS4-HMAC-SHA256 Credential={tenant.AccessKey}/{scope}, SignedHeaders={string.Join(';', signedHeaders)}, Signature={signature}");
        return request;
    }

    [Fact]
    public void Bucket_names_follow_s3s_dns_rules()
    {
        Assert.True(BucketNames.IsValid("images-2026.eu"));
        Assert.False(BucketNames.IsValid("ab"));
        Assert.False(BucketNames.IsValid("UPPER"));
        Assert.False(BucketNames.IsValid("-dash-first"));
        Assert.False(BucketNames.IsValid("two..dots"));
        Assert.False(BucketNames.IsValid("192.168.1.1"));
        Assert.Equal(Encoding.UTF8.GetBytes("é"), Convert.FromHexString(BucketStore.KeyHex("é")));
    }
}
