using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
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
    /// <summary>The bucket is in another region than the image (IMG.0058).</summary>
    OtherRegion,
}

/// <summary>A bucket file could not be written: the bucket went away or became inaccessible meanwhile.</summary>
public sealed class BucketFileException(BucketFileProblem problem, string message, Exception? inner = null) : Exception(message, inner)
{
    public BucketFileProblem Problem { get; } = problem;
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

    /// <summary>
    /// Whether <paramref name="key"/> can be written: the bucket is the account's, in <paramref name="region"/>, and the
    /// key is free.
    /// </summary>
    Task<BucketFileProblem> CheckWritableAsync(string domainId, string region, string bucket, string key, CancellationToken ct);

    /// <summary>
    /// Writes <paramref name="content"/> (read to its end) as <paramref name="key"/>. The object appears only once all of
    /// it is stored; a failure (of the content, the bucket or the storage) leaves no object and no part behind. A bucket
    /// that is gone or no longer the account's throws <see cref="BucketFileException"/>.
    /// </summary>
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

    public async Task<BucketFileProblem> CheckWritableAsync(string domainId, string region, string bucket, string key, CancellationToken ct)
    {
        if (await store.GetBucketAsync(bucket, ct) is not { } row || row.DomainId != domainId) return BucketFileProblem.BucketInaccessible;
        if (row.Region != region) return BucketFileProblem.OtherRegion;
        return await store.GetObjectAsync(bucket, key, ct) is null ? BucketFileProblem.None : BucketFileProblem.ObjectExists;
    }

    public async Task WriteAsync(string domainId, string bucket, string key, Stream content, CancellationToken ct)
    {
        var written = await files.WriteAsync(content, _ => true, ct)
            ?? throw new InvalidOperationException("An export's body was refused.");
        try
        {
            // The bucket may have been deleted (or the body written into one that is no longer the account's) while the
            // body was being written: the row is added only to the account's bucket, under the bucket's lock.
            var (bucketFound, replaced) = await store.PutObjectIntoOwnBucketAsync(domainId, new ObjectRow(bucket, key, written.Size,
                Convert.ToHexStringLower(written.Md5), "application/octet-stream", "{}", written.FileId, time.GetUtcNow().ToUnixTimeMilliseconds()), ct);
            if (!bucketFound) throw new BucketFileException(BucketFileProblem.BucketInaccessible, $"The bucket {bucket} no longer exists.");
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
/// configured keys, whichever account asks (that service's own permissions decide). Its region is that service's
/// business (a bucket it lets these keys write is taken as usable).
/// </summary>
public sealed class S3ImageFileBuckets(ObsOptions options) : IImageFileBuckets, IDisposable
{
    private readonly AmazonS3Client _client = new(new BasicAWSCredentials(options.AccessKey, options.SecretKey),
        new AmazonS3Config
        {
            ServiceURL = options.Endpoint,
            ForcePathStyle = true,
            AuthenticationRegion = options.Region ?? "us-east-1",
            // Checksums only where S3 requires them: Ceph RGW and OBS do not all take the SDK's newer trailing checksums.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });

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

    public async Task<BucketFileProblem> CheckWritableAsync(string domainId, string region, string bucket, string key, CancellationToken ct)
    {
        try
        {
            await _client.GetObjectMetadataAsync(bucket, key, ct);
            return BucketFileProblem.ObjectExists;
        }
        catch (AmazonS3Exception missing) when (missing.StatusCode == System.Net.HttpStatusCode.NotFound && missing.ErrorCode != "NoSuchBucket")
        {
            // A HEAD answers no error code: the bucket itself must be there.
            return await BucketExistsAsync(bucket, ct) ? BucketFileProblem.None : BucketFileProblem.BucketInaccessible;
        }
        catch (AmazonS3Exception)
        {
            return BucketFileProblem.BucketInaccessible;
        }
    }

    private async Task<bool> BucketExistsAsync(string bucket, CancellationToken ct)
    {
        try
        {
            await _client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, MaxKeys = 1 }, ct);
            return true;
        }
        catch (AmazonS3Exception)
        {
            return false;
        }
    }

    /// <summary>
    /// One PUT for a body of at most one part, else a multipart upload of <see cref="ObsOptions.ExportPartBytes"/> parts
    /// completed only after the last part is stored; any failure aborts the upload, so its parts go too.
    /// </summary>
    public async Task WriteAsync(string domainId, string bucket, string key, Stream content, CancellationToken ct)
    {
        var partSize = (int)options.ExportPartBytes;
        var buffer = new byte[partSize];
        var first = await FillAsync(content, buffer, ct);
        try
        {
            if (first < partSize)
            {
                await _client.PutObjectAsync(new PutObjectRequest
                {
                    BucketName = bucket,
                    Key = key,
                    InputStream = new MemoryStream(buffer, 0, first, writable: false),
                    UseChunkEncoding = false,
                }, ct);
                return;
            }
            await MultipartAsync(bucket, key, content, buffer, first, ct);
        }
        catch (AmazonS3Exception ex) when (ex.ErrorCode is "NoSuchBucket" or "AccessDenied")
        {
            throw new BucketFileException(BucketFileProblem.BucketInaccessible, $"The bucket {bucket} cannot be written: {ex.ErrorCode}.", ex);
        }
    }

    private async Task MultipartAsync(string bucket, string key, Stream content, byte[] buffer, int filled, CancellationToken ct)
    {
        var upload = await _client.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = bucket, Key = key }, ct);
        try
        {
            var parts = new List<PartETag>();
            for (var number = 1; filled > 0; number++)
            {
                var part = await _client.UploadPartAsync(new UploadPartRequest
                {
                    BucketName = bucket,
                    Key = key,
                    UploadId = upload.UploadId,
                    PartNumber = number,
                    InputStream = new MemoryStream(buffer, 0, filled, writable: false),
                    PartSize = filled,
                }, ct);
                parts.Add(new PartETag(number, part.ETag));
                filled = await FillAsync(content, buffer, ct);
            }
            await _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = bucket,
                Key = key,
                UploadId = upload.UploadId,
                PartETags = parts,
            }, ct);
        }
        catch
        {
            // Not cancellable: the parts must go even when the job is being stopped.
            try
            {
                await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = bucket, Key = key, UploadId = upload.UploadId },
                    CancellationToken.None);
            }
            catch (AmazonS3Exception)
            {
                // The bucket is gone (and its parts with it), or the service refuses: nothing more to do here.
            }
            throw;
        }
    }

    private static async Task<int> FillAsync(Stream content, byte[] buffer, CancellationToken ct)
    {
        var filled = 0;
        while (filled < buffer.Length)
        {
            var read = await content.ReadAsync(buffer.AsMemory(filled), ct);
            if (read == 0) break;
            filled += read;
        }
        return filled;
    }
}
