using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Ims.DataPlane.Store;

/// <summary>One object of a listing.</summary>
internal readonly record struct BucketObject(string Key, long Size);

/// <summary>
/// The few S3 calls the data plane makes, blocking (the data plane's workers are threads of their own). Objects are
/// written whole by one PUT (atomic: a reader sees the old object, the new one, or none) and read whole by one GET.
/// </summary>
internal sealed class Bucket : IDisposable
{
    private readonly AmazonS3Client client;

    public Bucket(ObjectStoreOptions options)
    {
        var problems = options.Problems();
        if (problems.Count > 0) throw new ArgumentException("Object store settings: " + string.Join(" ", problems), nameof(options));
        Name = options.Bucket!;
        var config = new AmazonS3Config
        {
            ServiceURL = options.Endpoint,
            ForcePathStyle = true,
            AuthenticationRegion = options.Region,
            // RGW 16.2 predates the trailing checksums (aws-chunked with a CRC trailer) newer SDKs send by default:
            // checksums only where the API requires them. Every object is re-hashed by its SHA-256 name when read.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            MaxErrorRetry = 3,
            Timeout = TimeSpan.FromSeconds(60),
        };
        client = new AmazonS3Client(new BasicAWSCredentials(options.AccessKey, options.SecretKey), config);
    }

    public string Name { get; }

    /// <summary>Creates the bucket when it does not exist; fails with the store's answer on wrong keys or endpoint.</summary>
    public void EnsureExists()
    {
        try
        {
            Run(() => client.PutBucketAsync(new PutBucketRequest { BucketName = Name }));
        }
        catch (AmazonS3Exception e) when (e.ErrorCode is "BucketAlreadyOwnedByYou")
        {
            // Ours already.
        }
    }

    /// <summary>Whether the object exists (a HEAD request).</summary>
    public bool Exists(string key)
    {
        try
        {
            Run(() => client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = Name, Key = key }));
            return true;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    /// <summary>Writes a whole object from the first <paramref name="length"/> bytes of <paramref name="body"/>.</summary>
    public void Put(string key, byte[] body, int length)
    {
        using var stream = new MemoryStream(body, 0, length, writable: false);
        Run(() => client.PutObjectAsync(new PutObjectRequest
        {
            BucketName = Name,
            Key = key,
            InputStream = stream,
            AutoCloseStream = false,
            AutoResetStreamPosition = true,
            // A plain signed body: RGW 16.2 and every S3 server take it.
            UseChunkEncoding = false,
        }));
    }

    /// <summary>
    /// Reads a whole object into <paramref name="destination"/>; its length, null when there is no such object, or -1
    /// when it is longer than the destination (then nothing more of it is read).
    /// </summary>
    public int? TryGet(string key, byte[] destination)
    {
        try
        {
            return Run(async () =>
            {
                using var response = await client.GetObjectAsync(new GetObjectRequest { BucketName = Name, Key = key }).ConfigureAwait(false);
                if (response.ContentLength > destination.Length) return -1;
                var total = 0;
                int read;
                while (total < destination.Length
                       && (read = await response.ResponseStream.ReadAsync(destination.AsMemory(total)).ConfigureAwait(false)) > 0)
                    total += read;
                // An object longer than announced: not one this data plane wrote.
                if (total == destination.Length && response.ResponseStream.ReadByte() >= 0) return -1;
                return total;
            });
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>Reads a whole small object; null when there is no such object.</summary>
    public byte[]? TryGetAll(string key)
    {
        try
        {
            return Run(async () =>
            {
                using var response = await client.GetObjectAsync(new GetObjectRequest { BucketName = Name, Key = key }).ConfigureAwait(false);
                using var copy = new MemoryStream();
                await response.ResponseStream.CopyToAsync(copy).ConfigureAwait(false);
                return copy.ToArray();
            });
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>Deletes an object (S3 answers a missing one as deleted too).</summary>
    public void Delete(string key) =>
        Run(() => client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = Name, Key = key }));

    /// <summary>Copies an object within the bucket; false when the source does not exist.</summary>
    public bool TryCopy(string sourceKey, string destinationKey)
    {
        try
        {
            Run(() => client.CopyObjectAsync(new CopyObjectRequest
            {
                SourceBucket = Name,
                SourceKey = sourceKey,
                DestinationBucket = Name,
                DestinationKey = destinationKey,
            }));
            return true;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    /// <summary>Every object whose key starts with <paramref name="prefix"/>, a page at a time.</summary>
    public IEnumerable<BucketObject> List(string prefix)
    {
        string? token = null;
        do
        {
            var page = Run(() => client.ListObjectsV2Async(new ListObjectsV2Request
            {
                BucketName = Name,
                Prefix = prefix,
                ContinuationToken = token,
            }));
            foreach (var item in page.S3Objects ?? []) yield return new BucketObject(item.Key, item.Size ?? 0);
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
    }

    // The SDK's calls are asynchronous only; the data plane's chunk workers block on them (they are threads of their own).
    private static T Run<T>(Func<Task<T>> call) => call().GetAwaiter().GetResult();

    public void Dispose() => client.Dispose();
}
