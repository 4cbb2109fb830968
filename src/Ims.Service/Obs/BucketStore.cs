using System.Text;
using Ims.Service.Storage;

namespace Ims.Service.Obs;

public sealed record BucketRow(string Name, string DomainId, string Region, long CreatedAt);

public sealed record ObjectRow(string Bucket, string ObjectKey, long Size, string Etag, string ContentType, string Metadata,
    string FileId, long ModifiedAt);

public sealed record UploadRow(string UploadId, string Bucket, string ObjectKey, string ContentType, string Metadata, long InitiatedAt);

public sealed record PartRow(string UploadId, long PartNumber, long Size, string Etag, string FileId, long ModifiedAt);

/// <summary>
/// The buckets aggregate of the service's own object storage: <c>obs_buckets</c>, <c>obs_objects</c>,
/// <c>obs_uploads</c>, <c>obs_parts</c>. Writes that replace or drop a body return the file ids no row names any more,
/// for the caller to delete after the commit.
/// </summary>
public sealed class BucketStore(Database db)
{
    private const string ObjectColumns = "bucket, object_key AS ObjectKey, size, etag, content_type AS ContentType, metadata, file_id AS FileId, modified_at AS ModifiedAt";
    private const string ObjectInsertColumns = "bucket, object_key, size, etag, content_type, metadata, file_id, modified_at";
    private const string UploadColumns = "upload_id AS UploadId, bucket, object_key AS ObjectKey, content_type AS ContentType, metadata, initiated_at AS InitiatedAt";
    private const string UploadInsertColumns = "upload_id, bucket, object_key, content_type, metadata, initiated_at";
    private const string PartColumns = "upload_id AS UploadId, part_number AS PartNumber, size, etag, file_id AS FileId, modified_at AS ModifiedAt";
    private const string PartInsertColumns = "upload_id, part_number, size, etag, file_id, modified_at";

    /// <summary>A key's listing order: its UTF-8 bytes in hex (S3 lists keys in byte order).</summary>
    public static string KeyHex(string key) => Convert.ToHexStringLower(Encoding.UTF8.GetBytes(key));

    // ----- buckets ------------------------------------------------------------------------------------------------

    public Task<BucketRow?> GetBucketAsync(string name, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<BucketRow>(
            "SELECT name, domain_id AS DomainId, region, created_at AS CreatedAt FROM obs_buckets WHERE name = @name", new { name }, ct);

    public Task<List<BucketRow>> ListBucketsAsync(string domainId, CancellationToken ct) =>
        db.QueryAsync<BucketRow>(
            "SELECT name, domain_id AS DomainId, region, created_at AS CreatedAt FROM obs_buckets WHERE domain_id = @domainId ORDER BY name", new { domainId }, ct);

    /// <summary>Creates a bucket; false when the name is taken (bucket names are global, as in S3).</summary>
    public async Task<bool> TryCreateBucketAsync(BucketRow bucket, CancellationToken ct)
    {
        try
        {
            await using var tx = await db.BeginWriteAsync(ct);
            await tx.ExecuteAsync("INSERT INTO obs_buckets (name, domain_id, region, created_at) VALUES (@Name, @DomainId, @Region, @CreatedAt)",
                bucket, ct);
            await tx.CommitAsync(ct);
            return true;
        }
        catch (Exception ex) when (db.IsUniqueViolation(ex))
        {
            return false;
        }
    }

    /// <summary>Deletes an empty bucket: false when it holds objects or unfinished uploads (<c>BucketNotEmpty</c>).</summary>
    public async Task<bool> TryDeleteBucketAsync(string name, CancellationToken ct)
    {
        await using var tx = await db.BeginWriteAsync(ct);
        await tx.LockAsync($"obs-bucket:{name}", ct);
        var used = await tx.ExecuteScalarAsync<long>(
            "SELECT (SELECT COUNT(*) FROM obs_objects WHERE bucket = @name) + (SELECT COUNT(*) FROM obs_uploads WHERE bucket = @name)",
            new { name }, ct);
        if (used > 0) return false;
        await tx.ExecuteAsync("DELETE FROM obs_buckets WHERE name = @name", new { name }, ct);
        await tx.CommitAsync(ct);
        return true;
    }

    // ----- objects ------------------------------------------------------------------------------------------------

    public Task<ObjectRow?> GetObjectAsync(string bucket, string key, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<ObjectRow>(
            $"SELECT {ObjectColumns} FROM obs_objects WHERE bucket = @bucket AND key_hex = @keyHex",
            new { bucket, keyHex = KeyHex(key) }, ct);

    /// <summary>
    /// Up to <paramref name="limit"/> objects of a bucket whose key starts with <paramref name="prefix"/> and sorts
    /// after the key whose hex is <paramref name="afterHex"/> (byte order), in byte order.
    /// </summary>
    public Task<List<ObjectRow>> ListObjectsAsync(string bucket, string prefix, string afterHex, int limit, CancellationToken ct) =>
        db.QueryAsync<ObjectRow>(
            $"SELECT {ObjectColumns} FROM obs_objects WHERE bucket = @bucket AND key_hex > @afterHex AND key_hex LIKE @prefixHex " +
            $"ORDER BY key_hex LIMIT {limit}",
            new { bucket, afterHex, prefixHex = KeyHex(prefix) + "%" }, ct);

    /// <summary>Stores an object (replacing any of that key); returns the replaced body's file id, or null.</summary>
    public async Task<string?> PutObjectAsync(ObjectRow row, CancellationToken ct)
    {
        await using var tx = await db.BeginWriteAsync(ct);
        var replaced = await PutObjectAsync(tx, row, ct);
        await tx.CommitAsync(ct);
        return replaced;
    }

    /// <summary>
    /// Stores an object only into a bucket that exists and belongs to <paramref name="domainId"/>, under the bucket's
    /// lock (a bucket delete takes it too, so the two cannot cross): (false, null) when it does not; else (true, the
    /// replaced body's file id or null).
    /// </summary>
    public async Task<(bool BucketFound, string? Replaced)> PutObjectIntoOwnBucketAsync(string domainId, ObjectRow row, CancellationToken ct)
    {
        await using var tx = await db.BeginWriteAsync(ct);
        await tx.LockAsync($"obs-bucket:{row.Bucket}", ct);
        var owner = await tx.ExecuteScalarAsync<string>("SELECT domain_id FROM obs_buckets WHERE name = @Bucket", new { row.Bucket }, ct);
        if (owner != domainId) return (false, null);
        var replaced = await PutObjectAsync(tx, row, ct);
        await tx.CommitAsync(ct);
        return (true, replaced);
    }

    private static async Task<string?> PutObjectAsync(WriteScope tx, ObjectRow row, CancellationToken ct)
    {
        var keyHex = KeyHex(row.ObjectKey);
        var replaced = await tx.ExecuteScalarAsync<string>(
            "SELECT file_id FROM obs_objects WHERE bucket = @Bucket AND key_hex = @keyHex", new { row.Bucket, keyHex }, ct);
        await tx.ExecuteAsync("DELETE FROM obs_objects WHERE bucket = @Bucket AND key_hex = @keyHex", new { row.Bucket, keyHex }, ct);
        await tx.ExecuteAsync(
            $"INSERT INTO obs_objects (key_hex, {ObjectInsertColumns}) VALUES " +
            "(@keyHex, @Bucket, @ObjectKey, @Size, @Etag, @ContentType, @Metadata, @FileId, @ModifiedAt)",
            new { keyHex, row.Bucket, row.ObjectKey, row.Size, row.Etag, row.ContentType, row.Metadata, row.FileId, row.ModifiedAt }, ct);
        return replaced;
    }

    /// <summary>Deletes an object; returns its body's file id, or null when there was none.</summary>
    public async Task<string?> DeleteObjectAsync(string bucket, string key, CancellationToken ct)
    {
        await using var tx = await db.BeginWriteAsync(ct);
        var keyHex = KeyHex(key);
        var fileId = await tx.ExecuteScalarAsync<string>(
            "SELECT file_id FROM obs_objects WHERE bucket = @bucket AND key_hex = @keyHex", new { bucket, keyHex }, ct);
        if (fileId is null) return null;
        await tx.ExecuteAsync("DELETE FROM obs_objects WHERE bucket = @bucket AND key_hex = @keyHex", new { bucket, keyHex }, ct);
        await tx.CommitAsync(ct);
        return fileId;
    }

    // ----- multipart uploads --------------------------------------------------------------------------------------

    public async Task CreateUploadAsync(UploadRow upload, CancellationToken ct)
    {
        await using var tx = await db.BeginWriteAsync(ct);
        await tx.ExecuteAsync($"INSERT INTO obs_uploads ({UploadInsertColumns}) VALUES " +
            "(@UploadId, @Bucket, @ObjectKey, @ContentType, @Metadata, @InitiatedAt)", upload, ct);
        await tx.CommitAsync(ct);
    }

    public Task<UploadRow?> GetUploadAsync(string bucket, string uploadId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<UploadRow>(
            $"SELECT {UploadColumns} FROM obs_uploads WHERE upload_id = @uploadId AND bucket = @bucket", new { bucket, uploadId }, ct);

    public async Task<List<UploadRow>> ListUploadsAsync(string bucket, string prefix, CancellationToken ct)
    {
        var uploads = await db.QueryAsync<UploadRow>(
            $"SELECT {UploadColumns} FROM obs_uploads WHERE bucket = @bucket ORDER BY object_key, initiated_at", new { bucket }, ct);
        return [.. uploads.Where(u => u.ObjectKey.StartsWith(prefix, StringComparison.Ordinal))];
    }

    public Task<List<PartRow>> ListPartsAsync(string uploadId, CancellationToken ct) =>
        db.QueryAsync<PartRow>($"SELECT {PartColumns} FROM obs_parts WHERE upload_id = @uploadId ORDER BY part_number", new { uploadId }, ct);

    /// <summary>
    /// Records a part (replacing one of the same number); returns the replaced part's file id, or null. False in
    /// <c>Stored</c> when the upload is gone (completed or aborted meanwhile): the caller drops the new body.
    /// </summary>
    public async Task<(bool Stored, string? Replaced)> PutPartAsync(PartRow part, CancellationToken ct)
    {
        await using var tx = await db.BeginWriteAsync(ct);
        await tx.LockAsync($"obs-upload:{part.UploadId}", ct);
        var exists = await tx.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM obs_uploads WHERE upload_id = @UploadId", part, ct);
        if (exists == 0) return (false, null);
        var replaced = await tx.ExecuteScalarAsync<string>(
            "SELECT file_id FROM obs_parts WHERE upload_id = @UploadId AND part_number = @PartNumber", part, ct);
        await tx.ExecuteAsync("DELETE FROM obs_parts WHERE upload_id = @UploadId AND part_number = @PartNumber", part, ct);
        await tx.ExecuteAsync($"INSERT INTO obs_parts ({PartInsertColumns}) VALUES " +
            "(@UploadId, @PartNumber, @Size, @Etag, @FileId, @ModifiedAt)", part, ct);
        await tx.CommitAsync(ct);
        return (true, replaced);
    }

    /// <summary>
    /// Ends an upload: its parts' rows go, and with <paramref name="completed"/> the object is stored. Returns the file
    /// ids no row names any more (every part, and a replaced object's body); null when the upload was already gone.
    /// </summary>
    public async Task<List<string>?> EndUploadAsync(string uploadId, ObjectRow? completed, CancellationToken ct)
    {
        await using var tx = await db.BeginWriteAsync(ct);
        await tx.LockAsync($"obs-upload:{uploadId}", ct);
        var exists = await tx.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM obs_uploads WHERE upload_id = @uploadId", new { uploadId }, ct);
        if (exists == 0) return null;
        var unused = await tx.QueryAsync<string>("SELECT file_id FROM obs_parts WHERE upload_id = @uploadId", new { uploadId }, ct);
        await tx.ExecuteAsync("DELETE FROM obs_parts WHERE upload_id = @uploadId", new { uploadId }, ct);
        await tx.ExecuteAsync("DELETE FROM obs_uploads WHERE upload_id = @uploadId", new { uploadId }, ct);
        if (completed is not null && await PutObjectAsync(tx, completed, ct) is { } replaced) unused.Add(replaced);
        await tx.CommitAsync(ct);
        return unused;
    }

    /// <summary>Every body file a row names (objects and parts), for the clean-up of files no row names.</summary>
    public async Task<HashSet<string>> LiveFileIdsAsync(CancellationToken ct) =>
        [.. await db.QueryAsync<string>("SELECT file_id FROM obs_objects UNION ALL SELECT file_id FROM obs_parts", null, ct)];
}
