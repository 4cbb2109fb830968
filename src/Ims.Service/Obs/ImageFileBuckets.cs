using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Transfer;
using Ims.DataPlane.Objects;

namespace Ims.Service.Obs;

/// <summary>Why a bucket file cannot be read or written for an account (each maps to an IMS code at the edge).</summary>
public enum BucketFileProblem
{
    None,
    /// <summary>No such bucket, or another account's (IMG.0069: the bucket cannot be accessed).</summary>
    BucketInaccessible,
    /// <summary>The object to import does not exist.</summary>
    NoSuchObject,
    /// <summary>The object to export to exists already (IMG.0070).</summary>
    ObjectExists,
}

/// <summary>A file being read out of a bucket: its length and its bytes.</summary>
public sealed record BucketFile(long Size, Stream Content) : IAsyncDisposable
{
    public ValueTask DisposeAsync() => Content.DisposeAsync();
}

/// <summary>
/// Where IMS import and export find their files (<c>bucket:object</c> of <c>image_url</c> / <c>bucket_url</c>): the
/// service's own bucket API (<see cref="OwnImageFileBuckets"/>), or an S3 service configured with
/// <c>Ims:Obs:Endpoint</c> (<see cref="S3ImageFileBuckets"/>). A write becomes visible only when complete, so a failed
/// export leaves no partial object.
/// </summary>
public interface IImageFileBuckets
{
    Task<(BucketFile? File, BucketFileProblem Problem)> OpenAsync(string domainId, string bucket, string key, CancellationToken ct);

    /// <summary>Whether <paramref name="key"/> can be written (the bucket is the account's and the key is free).</summary>
    Task<BucketFileProblem> CheckWritableAsync(string domainId, string bucket, string key, CancellationToken ct);

    Task WriteAsync(string domainId, string bucket, string key, Stream content, CancellationToken ct);
}

/// <summary>Import and export through the service's own buckets: the account must own the bucket.</summary>
public sealed class OwnImageFileBuckets(BucketStore store, ObjectFiles files, TimeProvider time) : IImageFileBuckets
{
    public async Task<(BucketFile? File, BucketFileProblem Problem)> OpenAsync(string domainId, string bucket, string key, CancellationToken ct)
    {
        if (await store.GetBucketAsync(bucket, ct) is not { } row || row.DomainId != domainId) return (null, BucketFileProblem.BucketInaccessible);
        if (await store.GetObjectAsync(bucket, key, ct) is not { } found) return (null, BucketFileProblem.NoSuchObject);
        try
        {
            return (new BucketFile(found.Size, files.OpenRead(found.FileId)), BucketFileProblem.None);
        }
        catch (FileNotFoundException)
        {
            // Replaced or deleted between the read of its row and the open of its body.
            return (null, BucketFileProblem.NoSuchObject);
        }
    }

    public async Task<BucketFileProblem> CheckWritableAsync(string domainId, string bucket, string key, CancellationToken ct)
    {
        if (await store.GetBucketAsync(bucket, ct) is not { } row || row.DomainId != domainId) return BucketFileProblem.BucketInaccessible;
        return await store.GetObjectAsync(bucket, key, ct) is null ? BucketFileProblem.None : BucketFileProblem.ObjectExists;
    }

    public async Task WriteAsync(string domainId, string bucket, string key, Stream content, CancellationToken ct)
    {
        var written = await files.WriteAsync(content, _ => true, ct)
            ?? throw new InvalidOperationException("An export's body was refused.");
        try
        {
            var replaced = await store.PutObjectAsync(new ObjectRow(bucket, key, written.Size, Convert.ToHexStringLower(written.Md5),
                "application/octet-stream", "{}", written.FileId, time.GetUtcNow().ToUnixTimeMilliseconds()), ct);
            if (replaced is not null) files.Delete(replaced);
        }
        catch
        {
            files.Delete(written.FileId);
            throw;
        }
    }
}

/// <summary>
/// Import and export through an external S3 service (Ceph RGW, a real OBS): its buckets are reached with the
/// configured keys, whichever account asks (that service's own permissions decide).
/// </summary>
public sealed class S3ImageFileBuckets(ObsOptions options) : IImageFileBuckets, IDisposable
{
    private readonly AmazonS3Client _client = new(new BasicAWSCredentials(options.AccessKey, options.SecretKey),
        new AmazonS3Config { ServiceURL = options.Endpoint, ForcePathStyle = true, AuthenticationRegion = options.Region ?? "us-east-1" });

    public void Dispose() => _client.Dispose();

    public async Task<(BucketFile? File, BucketFileProblem Problem)> OpenAsync(string domainId, string bucket, string key, CancellationToken ct)
    {
        try
        {
            var response = await _client.GetObjectAsync(bucket, key, ct);
            return (new BucketFile(response.ContentLength, response.ResponseStream), BucketFileProblem.None);
        }
        catch (AmazonS3Exception missing) when (missing.ErrorCode == "NoSuchKey")
        {
            return (null, BucketFileProblem.NoSuchObject);
        }
        catch (AmazonS3Exception)
        {
            return (null, BucketFileProblem.BucketInaccessible);
        }
    }

    public async Task<BucketFileProblem> CheckWritableAsync(string domainId, string bucket, string key, CancellationToken ct)
    {
        try
        {
            await _client.GetObjectMetadataAsync(bucket, key, ct);
            return BucketFileProblem.ObjectExists;
        }
        catch (AmazonS3Exception missing) when (missing.StatusCode == System.Net.HttpStatusCode.NotFound && missing.ErrorCode != "NoSuchBucket")
        {
            return BucketFileProblem.None;
        }
        catch (AmazonS3Exception)
        {
            return BucketFileProblem.BucketInaccessible;
        }
    }

    /// <summary>A multipart upload: the object appears only when it completes; a failure aborts it.</summary>
    public async Task WriteAsync(string domainId, string bucket, string key, Stream content, CancellationToken ct)
    {
        using var transfer = new TransferUtility(_client);
        await transfer.UploadAsync(new TransferUtilityUploadRequest { BucketName = bucket, Key = key, InputStream = content }, ct);
    }
}
