using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Ims.DataPlane;

namespace Ims.Tests.DataPlane;

/// <summary>
/// A test that needs the real RADOS Gateway: it runs when <c>IMS_TEST_S3</c> (the endpoint), <c>IMS_TEST_S3_ACCESS_KEY</c>
/// and <c>IMS_TEST_S3_SECRET_KEY</c> are set, as <c>scripts/rgw.sh start</c> prints them (.ci/run does); skipped otherwise.
/// </summary>
public sealed class RgwFactAttribute : FactAttribute
{
    public RgwFactAttribute()
    {
        if (TestBucket.Settings() is null) Skip = TestBucket.SkipReason;
    }
}

/// <inheritdoc cref="RgwFactAttribute"/>
public sealed class RgwTheoryAttribute : TheoryAttribute
{
    public RgwTheoryAttribute()
    {
        if (TestBucket.Settings() is null) Skip = TestBucket.SkipReason;
    }
}

/// <summary>
/// A fresh bucket on the RGW the environment names, removed with everything in it afterwards. <see cref="Raw"/> is a
/// plain S3 client of the test's own, to look at, damage or remove objects behind the data plane's back.
/// </summary>
public sealed class TestBucket : IDisposable
{
    public const string SkipReason = "needs the RADOS Gateway: eval \"$(scripts/rgw.sh start)\" sets IMS_TEST_S3";

    public TestBucket()
    {
        var settings = Settings() ?? throw new InvalidOperationException(SkipReason);
        Name = "ims-test-" + Guid.NewGuid().ToString("N")[..20];
        Options = settings with { Bucket = Name };
        Raw = new AmazonS3Client(new BasicAWSCredentials(settings.AccessKey, settings.SecretKey), new AmazonS3Config
        {
            ServiceURL = settings.Endpoint,
            ForcePathStyle = true,
            AuthenticationRegion = settings.Region,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });
    }

    public string Name { get; }
    public ObjectStoreOptions Options { get; }
    public AmazonS3Client Raw { get; }

    public static ObjectStoreOptions? Settings()
    {
        var endpoint = Environment.GetEnvironmentVariable("IMS_TEST_S3");
        var accessKey = Environment.GetEnvironmentVariable("IMS_TEST_S3_ACCESS_KEY");
        var secretKey = Environment.GetEnvironmentVariable("IMS_TEST_S3_SECRET_KEY");
        if (string.IsNullOrEmpty(endpoint) || string.IsNullOrEmpty(accessKey) || string.IsNullOrEmpty(secretKey)) return null;
        return new ObjectStoreOptions { Endpoint = endpoint, AccessKey = accessKey, SecretKey = secretKey, Bucket = "unused" };
    }

    /// <summary>The keys of the bucket's objects under a prefix, in order.</summary>
    public async Task<List<string>> KeysAsync(string prefix)
    {
        var keys = new List<string>();
        var request = new ListObjectsV2Request { BucketName = Name, Prefix = prefix };
        ListObjectsV2Response page;
        do
        {
            page = await Raw.ListObjectsV2Async(request);
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            request.ContinuationToken = page.NextContinuationToken;
        }
        while (page.IsTruncated == true);
        return keys.Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>The chunk names stored (objects <c>chunks/&lt;sha-256&gt;</c>).</summary>
    public async Task<List<string>> ChunksAsync() =>
        (await KeysAsync("chunks/")).Select(k => k["chunks/".Length..]).Where(n => n.Length == 64).ToList();

    public async Task<byte[]> GetAsync(string key)
    {
        using var response = await Raw.GetObjectAsync(Name, key);
        using var copy = new MemoryStream();
        await response.ResponseStream.CopyToAsync(copy);
        return copy.ToArray();
    }

    public Task PutAsync(string key, byte[] bytes) =>
        Raw.PutObjectAsync(new PutObjectRequest { BucketName = Name, Key = key, InputStream = new MemoryStream(bytes), UseChunkEncoding = false });

    public Task DeleteAsync(string key) => Raw.DeleteObjectAsync(Name, key);

    public void Dispose()
    {
        try
        {
            foreach (var key in KeysAsync("").GetAwaiter().GetResult()) Raw.DeleteObjectAsync(Name, key).GetAwaiter().GetResult();
            Raw.DeleteBucketAsync(Name).GetAwaiter().GetResult();
        }
        catch (AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            // Never created (a test of bad settings).
        }
        Raw.Dispose();
    }
}
