using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Xml;
using System.Xml.Linq;
using Ims.DataPlane.Objects;
using Ims.Service.Hosting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using static Ims.Service.Obs.S3Xml;

namespace Ims.Service.Obs;

/// <summary>
/// The bucket API (S3-compatible, as OBS is) on its own listener: buckets of an account, objects, listings and
/// multipart uploads. S3 names its operations by method, by whether the path names a bucket and a key, and by query
/// sub-resources (<c>?uploads</c>, <c>?uploadId=</c>, <c>?delete</c>, <c>?location</c>, <c>?list-type=2</c>), so
/// <see cref="HandleAsync"/> is the routing table and each operation is a named handler below.
/// </summary>
public static class ObsEndpoints
{
    private const int MaxListKeys = 1000;
    private const long MinPartBytes = 5L * 1024 * 1024;
    private const int MaxPartNumber = 10_000;

    /// <summary>What every handler gets: the request, its caller and target, and the services.</summary>
    private sealed record Call(HttpContext Http, S3Caller Caller, string? Bucket, string Key, IReadOnlyDictionary<string, string> Query,
        BucketStore Store, ObjectFiles Files, ObsOptions Options, string Region, TimeProvider Time)
    {
        public CancellationToken Ct => Http.RequestAborted;
        public bool Has(string name) => Query.ContainsKey(name);
        public string? Q(string name) => Query.GetValueOrDefault(name);
        public long Now => Time.GetUtcNow().ToUnixTimeMilliseconds();
    }

    public static async Task HandleAsync(HttpContext http)
    {
        var services = http.RequestServices;
        var options = services.GetRequiredService<IOptions<ObsOptions>>().Value;
        var requestId = Guid.NewGuid().ToString("N")[..16].ToUpperInvariant();
        http.Response.Headers["x-amz-request-id"] = requestId;
        http.Response.Headers["x-obs-request-id"] = requestId;
        http.Response.Headers.Server = "OBS";
        try
        {
            var (virtualBucket, pathBucket, key) = Target(http, options);
            var (caller, error) = services.GetRequiredService<S3Authenticator>().Authenticate(http, virtualBucket);
            if (caller is null)
            {
                await S3Errors.WriteAsync(http, error!);
                return;
            }
            var query = S3Signature.QueryPairs(http.Request.QueryString.Value ?? "")
                .GroupBy(p => p.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Value, StringComparer.Ordinal);
            var region = options.Region ?? services.GetRequiredService<IOptions<ServiceOptions>>().Value.EffectiveRegion;
            var call = new Call(http, caller, virtualBucket ?? pathBucket, key, query, services.GetRequiredService<BucketStore>(),
                services.GetRequiredService<ObjectFiles>(), options, region, services.GetRequiredService<TimeProvider>());
            var failure = await DispatchAsync(call);
            if (failure is not null) await S3Errors.WriteAsync(http, failure);
        }
        catch (ChunkedBodyException bad)
        {
            if (!http.Response.HasStarted) await S3Errors.WriteAsync(http, bad.Error);
        }
        catch (XmlException)
        {
            if (!http.Response.HasStarted) await S3Errors.WriteAsync(http, S3Errors.MalformedXml());
        }
        catch (BadHttpRequestException bad) when (bad.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            if (!http.Response.HasStarted) await S3Errors.WriteAsync(http, new S3Error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size."));
        }
        catch (Exception) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away mid-body: nothing was stored (bodies become visible only when complete).
        }
    }

    private static Task<S3Error?> DispatchAsync(Call c)
    {
        var method = c.Http.Request.Method;
        if (c.Bucket is null)
            return HttpMethods.IsGet(method) ? ListBucketsAsync(c) : Task.FromResult<S3Error?>(MethodNotAllowed());
        if (c.Key.Length == 0)
        {
            if (HttpMethods.IsPut(method)) return CreateBucketAsync(c);
            if (HttpMethods.IsHead(method)) return WithBucketAsync(c, _ => Task.FromResult<S3Error?>(null));
            if (HttpMethods.IsDelete(method)) return WithBucketAsync(c, DeleteBucketAsync);
            if (HttpMethods.IsPost(method) && c.Has("delete")) return WithBucketAsync(c, DeleteObjectsAsync);
            if (!HttpMethods.IsGet(method)) return Task.FromResult<S3Error?>(MethodNotAllowed());
            if (c.Has("location")) return WithBucketAsync(c, GetBucketLocationAsync);
            if (c.Has("uploads")) return WithBucketAsync(c, ListUploadsAsync);
            if (c.Has("versioning")) return WithBucketAsync(c, GetVersioningAsync);
            if (Unsupported(c) is { } unsupported) return Task.FromResult<S3Error?>(unsupported);
            return WithBucketAsync(c, c.Q("list-type") == "2" ? ListObjectsV2Async : ListObjectsV1Async);
        }
        if (Unsupported(c) is { } notHere) return Task.FromResult<S3Error?>(notHere);
        if (HttpMethods.IsPut(method))
        {
            if (c.Has("uploadId") || c.Has("partNumber")) return WithBucketAsync(c, UploadPartAsync);
            if (c.Http.Request.Headers.ContainsKey("x-amz-copy-source") || c.Http.Request.Headers.ContainsKey("x-obs-copy-source"))
                return Task.FromResult<S3Error?>(new S3Error(501, "NotImplemented", "Copying objects is not implemented."));
            return WithBucketAsync(c, PutObjectAsync);
        }
        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method))
            return WithBucketAsync(c, c.Has("uploadId") && HttpMethods.IsGet(method) ? ListPartsAsync : GetObjectAsync);
        if (HttpMethods.IsDelete(method)) return WithBucketAsync(c, c.Has("uploadId") ? AbortUploadAsync : DeleteObjectAsync);
        if (HttpMethods.IsPost(method) && c.Has("uploads")) return WithBucketAsync(c, InitiateUploadAsync);
        if (HttpMethods.IsPost(method) && c.Has("uploadId")) return WithBucketAsync(c, CompleteUploadAsync);
        return Task.FromResult<S3Error?>(MethodNotAllowed());
    }

    /// <summary>Bucket and object configuration this service does not keep (ACLs, policies, CORS, ...): 501, as RGW answers.</summary>
    private static S3Error? Unsupported(Call c)
    {
        string[] configuration = ["acl", "policy", "cors", "lifecycle", "website", "tagging", "logging", "notification", "replication", "encryption"];
        var asked = configuration.FirstOrDefault(c.Has);
        return asked is null ? null : new S3Error(501, "NotImplemented", $"The bucket API does not implement the '{asked}' sub-resource.");
    }

    private static S3Error MethodNotAllowed() => new(405, "MethodNotAllowed", "The specified method is not allowed against this resource.");

    /// <summary>Runs <paramref name="handler"/> when the bucket exists and belongs to the caller's account.</summary>
    private static async Task<S3Error?> WithBucketAsync(Call c, Func<Call, Task<S3Error?>> handler)
    {
        var bucket = await c.Store.GetBucketAsync(c.Bucket!, c.Ct);
        if (bucket is null) return S3Errors.NoSuchBucket(c.Bucket!);
        if (bucket.DomainId != c.Caller.Domain.Id) return S3Errors.AccessDenied();
        var error = await handler(c);
        if (error is null && HttpMethods.IsHead(c.Http.Request.Method) && c.Key.Length == 0) c.Http.Response.Headers["x-amz-bucket-region"] = bucket.Region;
        return error;
    }

    /// <summary>
    /// The bucket and key a request names: virtual-host style (<c>bucket.host</c>) when the host name ends with a
    /// listener's host name or <c>Ims:Obs:Domain</c>, path-style (<c>/bucket/key</c>) otherwise.
    /// </summary>
    private static (string? VirtualBucket, string? PathBucket, string Key) Target(HttpContext http, ObsOptions options)
    {
        var raw = http.Features.Get<IHttpRequestFeature>()?.RawTarget ?? "/";
        var q = raw.IndexOf('?', StringComparison.Ordinal);
        var path = q < 0 ? raw : raw[..q];
        if (path.StartsWith("http", StringComparison.OrdinalIgnoreCase) && Uri.TryCreate(path, UriKind.Absolute, out var absolute)) path = absolute.AbsolutePath;
        var host = http.Request.Host.Host;
        var suffixes = options.Listeners().Select(u => u.Host).Append(options.Domain).Append("localhost").OfType<string>();
        var suffix = IPAddress.TryParse(host, out _) ? null
            : suffixes.FirstOrDefault(s => host.EndsWith("." + s, StringComparison.OrdinalIgnoreCase));
        if (suffix is not null)
            return (host[..^(suffix.Length + 1)], null, Uri.UnescapeDataString(path.TrimStart('/')));
        var trimmed = path.TrimStart('/');
        if (trimmed.Length == 0) return (null, null, "");
        var slash = trimmed.IndexOf('/', StringComparison.Ordinal);
        return slash < 0
            ? (null, Uri.UnescapeDataString(trimmed), "")
            : (null, Uri.UnescapeDataString(trimmed[..slash]), Uri.UnescapeDataString(trimmed[(slash + 1)..]));
    }

    // ----- service and buckets ------------------------------------------------------------------------------------

    private static async Task<S3Error?> ListBucketsAsync(Call c)
    {
        var buckets = await c.Store.ListBucketsAsync(c.Caller.Domain.Id, c.Ct);
        await WriteAsync(c.Http, E("ListAllMyBucketsResult",
            Owner(c),
            E("Buckets", buckets.Select(b => E("Bucket", E("Name", b.Name), E("CreationDate", Time(b.CreatedAt)))))));
        return null;
    }

    private static XElement Owner(Call c) => E("Owner", E("ID", c.Caller.Domain.Id), E("DisplayName", c.Caller.Domain.Name));

    private static async Task<S3Error?> CreateBucketAsync(Call c)
    {
        if (Unsupported(c) is { } unsupported) return unsupported;
        if (!BucketNames.IsValid(c.Bucket!))
            return new S3Error(400, "InvalidBucketName", "The specified bucket is not valid.", c.Bucket);
        // The body may name a location: the service has one region, which a different constraint contradicts.
        var body = await ReadSmallBodyAsync(c);
        if (body.Length > 0)
        {
            var constraint = XDocument.Parse(body).Descendants().FirstOrDefault(e => e.Name.LocalName is "LocationConstraint" or "Location")?.Value;
            if (!string.IsNullOrEmpty(constraint) && constraint != c.Region)
                return new S3Error(400, "InvalidLocationConstraint", $"The specified location-constraint is not valid: this service's region is {c.Region}.", c.Bucket);
        }
        var created = await c.Store.TryCreateBucketAsync(new BucketRow(c.Bucket!, c.Caller.Domain.Id, c.Region, c.Now), c.Ct);
        if (!created)
        {
            var existing = await c.Store.GetBucketAsync(c.Bucket!, c.Ct);
            return existing?.DomainId == c.Caller.Domain.Id
                ? new S3Error(409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.", c.Bucket)
                : new S3Error(409, "BucketAlreadyExists", "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.", c.Bucket);
        }
        c.Http.Response.Headers.Location = "/" + c.Bucket;
        c.Http.Response.StatusCode = 200;
        return null;
    }

    private static async Task<S3Error?> DeleteBucketAsync(Call c)
    {
        if (!await c.Store.TryDeleteBucketAsync(c.Bucket!, c.Ct))
            return new S3Error(409, "BucketNotEmpty", "The bucket you tried to delete is not empty.", c.Bucket);
        c.Http.Response.StatusCode = 204;
        return null;
    }

    private static async Task<S3Error?> GetBucketLocationAsync(Call c)
    {
        var bucket = await c.Store.GetBucketAsync(c.Bucket!, c.Ct);
        await WriteAsync(c.Http, E("LocationConstraint", bucket!.Region));
        return null;
    }

    private static async Task<S3Error?> GetVersioningAsync(Call c)
    {
        await WriteAsync(c.Http, E("VersioningConfiguration"));
        return null;
    }

    // ----- listings -----------------------------------------------------------------------------------------------

    private sealed record Listing(List<ObjectRow> Objects, List<string> Prefixes, bool Truncated, string? Last);

    /// <summary>
    /// A page of a bucket: keys under <paramref name="prefix"/> after <paramref name="after"/>, keys sharing a part up
    /// to the next <paramref name="delimiter"/> rolled up into one common prefix, at most <paramref name="max"/> entries.
    /// </summary>
    private static async Task<Listing> ListAsync(Call c, string prefix, string delimiter, string after, int max)
    {
        var objects = new List<ObjectRow>();
        var prefixes = new List<string>();
        string? last = null;
        var afterHex = BucketStore.KeyHex(after);
        while (true)
        {
            var rows = await c.Store.ListObjectsAsync(c.Bucket!, prefix, afterHex, MaxListKeys, c.Ct);
            var jumped = false;
            foreach (var row in rows)
            {
                var cut = delimiter.Length == 0 ? -1 : row.ObjectKey.IndexOf(delimiter, prefix.Length, StringComparison.Ordinal);
                var entry = cut < 0 ? row.ObjectKey : row.ObjectKey[..(cut + delimiter.Length)];
                if (entry != after)
                {
                    if (objects.Count + prefixes.Count >= max) return new Listing(objects, prefixes, true, last);
                    if (cut >= 0) prefixes.Add(entry);
                    else objects.Add(row);
                    last = entry;
                }
                if (cut < 0)
                {
                    afterHex = BucketStore.KeyHex(row.ObjectKey);
                    continue;
                }
                // No UTF-8 byte is 0xff: every key under this common prefix sorts before the prefix plus 0xff.
                afterHex = BucketStore.KeyHex(entry) + "ff";
                jumped = true;
                break;
            }
            if (!jumped && rows.Count < MaxListKeys) return new Listing(objects, prefixes, false, last);
        }
    }

    private static (int Max, S3Error? Error) MaxKeys(Call c, string name = "max-keys")
    {
        var text = c.Q(name);
        if (text is null) return (MaxListKeys, null);
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var max))
            return (0, S3Errors.InvalidArgument($"{name} must be a non-negative integer."));
        return (Math.Min(max, MaxListKeys), null);
    }

    private static async Task<S3Error?> ListObjectsV1Async(Call c)
    {
        var (max, bad) = MaxKeys(c);
        if (bad is not null) return bad;
        var prefix = c.Q("prefix") ?? "";
        var delimiter = c.Q("delimiter") ?? "";
        var marker = c.Q("marker") ?? "";
        var url = c.Q("encoding-type") == "url";
        var page = await ListAsync(c, prefix, delimiter, marker, max);
        await WriteAsync(c.Http, E("ListBucketResult",
            E("Name", c.Bucket), E("Prefix", Enc(prefix, url)), E("Marker", Enc(marker, url)), E("MaxKeys", max),
            delimiter.Length > 0 ? E("Delimiter", Enc(delimiter, url)) : null,
            E("IsTruncated", page.Truncated ? "true" : "false"),
            page.Truncated && page.Last is not null ? E("NextMarker", Enc(page.Last, url)) : null,
            page.Objects.Select(o => Contents(c, o, url, owner: true)),
            page.Prefixes.Select(p => E("CommonPrefixes", E("Prefix", Enc(p, url)))),
            url ? E("EncodingType", "url") : null));
        return null;
    }

    private static async Task<S3Error?> ListObjectsV2Async(Call c)
    {
        var (max, bad) = MaxKeys(c);
        if (bad is not null) return bad;
        var prefix = c.Q("prefix") ?? "";
        var delimiter = c.Q("delimiter") ?? "";
        var token = c.Q("continuation-token");
        var startAfter = c.Q("start-after") ?? "";
        var after = startAfter;
        if (token is not null)
        {
            try
            {
                after = Encoding.UTF8.GetString(Convert.FromBase64String(token));
            }
            catch (FormatException)
            {
                return S3Errors.InvalidArgument("The continuation token provided is incorrect.");
            }
        }
        var url = c.Q("encoding-type") == "url";
        var page = await ListAsync(c, prefix, delimiter, after, max);
        await WriteAsync(c.Http, E("ListBucketResult",
            E("Name", c.Bucket), E("Prefix", Enc(prefix, url)), E("KeyCount", page.Objects.Count + page.Prefixes.Count), E("MaxKeys", max),
            delimiter.Length > 0 ? E("Delimiter", Enc(delimiter, url)) : null,
            E("IsTruncated", page.Truncated ? "true" : "false"),
            token is not null ? E("ContinuationToken", token) : null,
            page.Truncated && page.Last is not null ? E("NextContinuationToken", Convert.ToBase64String(Encoding.UTF8.GetBytes(page.Last))) : null,
            startAfter.Length > 0 ? E("StartAfter", Enc(startAfter, url)) : null,
            page.Objects.Select(o => Contents(c, o, url, owner: c.Q("fetch-owner") == "true")),
            page.Prefixes.Select(p => E("CommonPrefixes", E("Prefix", Enc(p, url)))),
            url ? E("EncodingType", "url") : null));
        return null;
    }

    private static XElement Contents(Call c, ObjectRow o, bool url, bool owner) => E("Contents",
        E("Key", Enc(o.ObjectKey, url)), E("LastModified", Time(o.ModifiedAt)), E("ETag", Quote(o.Etag)), E("Size", o.Size),
        owner ? Owner(c) : null, E("StorageClass", "STANDARD"));

    /// <summary>With <c>encoding-type=url</c>, names are sent URL-encoded (keys may hold characters XML 1.0 cannot carry).</summary>
    private static string Enc(string value, bool url) => url ? S3Signature.Encode(value).Replace("%2F", "/", StringComparison.Ordinal) : value;

    // ----- objects ------------------------------------------------------------------------------------------------

    private static Stream Body(Call c)
    {
        c.Http.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize = null;
        var payload = c.Caller.Payload;
        return payload.AwsChunked
            ? new AwsChunkedStream(c.Http.Request.Body, payload.ChunkSignature, payload.SeedSignature)
            : c.Http.Request.Body;
    }

    /// <summary>The declared size of the body: <c>x-amz-decoded-content-length</c> for aws-chunked bodies.</summary>
    private static long? DeclaredLength(Call c) =>
        c.Caller.Payload.AwsChunked && long.TryParse(c.Http.Request.Headers["x-amz-decoded-content-length"], out var decoded)
            ? decoded
            : c.Http.Request.ContentLength;

    /// <summary>Streams the body to a new file, checking it against Content-MD5 and the signed SHA-256; null on success.</summary>
    private static async Task<(ObjectFiles.Written? Written, S3Error? Error)> StoreBodyAsync(Call c, long maxBytes)
    {
        var declared = DeclaredLength(c);
        if (declared is null && !c.Caller.Payload.AwsChunked)
            return (null, new S3Error(411, "MissingContentLength", "You must provide the Content-Length HTTP header."));
        if (declared > maxBytes)
            return (null, new S3Error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size."));
        byte[]? md5 = null;
        var contentMd5 = c.Http.Request.Headers.ContentMD5.ToString();
        if (contentMd5.Length > 0)
        {
            try
            {
                md5 = Convert.FromBase64String(contentMd5);
            }
            catch (FormatException)
            {
                return (null, new S3Error(400, "InvalidDigest", "The Content-MD5 you specified was invalid."));
            }
            if (md5.Length != 16) return (null, new S3Error(400, "InvalidDigest", "The Content-MD5 you specified was invalid."));
        }
        S3Error? refused = null;
        var written = await c.Files.WriteAsync(Body(c), w =>
        {
            if (declared is not null && w.Size != declared)
                refused = new S3Error(400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.");
            else if (md5 is not null && !md5.AsSpan().SequenceEqual(w.Md5))
                refused = new S3Error(400, "BadDigest", "The Content-MD5 you specified did not match what we received.");
            else if (c.Caller.Payload.Sha256Hex is { } sha && sha != w.Sha256Hex)
                refused = new S3Error(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.");
            return refused is null;
        }, c.Ct);
        return (written, refused);
    }

    private static async Task<S3Error?> PutObjectAsync(Call c)
    {
        var (written, error) = await StoreBodyAsync(c, c.Options.MaxPutBytes);
        if (written is null) return error;
        var etag = Convert.ToHexStringLower(written.Md5);
        var replaced = await c.Store.PutObjectAsync(new ObjectRow(c.Bucket!, c.Key, written.Size, etag, ContentType(c), Metadata(c),
            written.FileId, c.Now), c.Ct);
        if (replaced is not null) c.Files.Delete(replaced);
        c.Http.Response.Headers.ETag = Quote(etag);
        c.Http.Response.StatusCode = 200;
        return null;
    }

    private static string ContentType(Call c)
    {
        var type = c.Http.Request.ContentType;
        return string.IsNullOrEmpty(type) ? "binary/octet-stream" : type;
    }

    /// <summary>The user metadata headers (<c>x-amz-meta-*</c>, <c>x-obs-meta-*</c>), kept by their lower-case name.</summary>
    private static string Metadata(Call c) => JsonSerializer.Serialize(c.Http.Request.Headers
        .Where(h => h.Key.StartsWith("x-amz-meta-", StringComparison.OrdinalIgnoreCase) || h.Key.StartsWith("x-obs-meta-", StringComparison.OrdinalIgnoreCase))
        .ToDictionary(h => h.Key.ToLowerInvariant()[6..], h => h.Value.ToString()));

    private static async Task<S3Error?> GetObjectAsync(Call c)
    {
        var row = await c.Store.GetObjectAsync(c.Bucket!, c.Key, c.Ct);
        if (row is null) return S3Errors.NoSuchKey(c.Bucket!, c.Key);
        FileStream file;
        try
        {
            file = c.Files.OpenRead(row.FileId);
        }
        catch (FileNotFoundException)
        {
            // Replaced or deleted between the read of its row and the open of its body.
            return S3Errors.NoSuchKey(c.Bucket!, c.Key);
        }
        await using (file)
        {
            var response = c.Http.Response;
            response.Headers.ETag = Quote(row.Etag);
            response.Headers.LastModified = DateTimeOffset.FromUnixTimeMilliseconds(row.ModifiedAt).ToString("r", CultureInfo.InvariantCulture);
            response.Headers.AcceptRanges = "bytes";
            response.ContentType = c.Q("response-content-type") ?? row.ContentType;
            if (c.Q("response-content-disposition") is { } disposition) response.Headers.ContentDisposition = disposition;
            foreach (var (name, value) in JsonSerializer.Deserialize<Dictionary<string, string>>(row.Metadata) ?? [])
                response.Headers["x-amz-" + name] = value;

            long start = 0, length = row.Size;
            var range = c.Http.Request.Headers.Range.ToString();
            if (range.Length > 0 && ParseRange(range, row.Size) is var (from, to))
            {
                if (from < 0)
                {
                    response.Headers.ContentRange = $"bytes */{row.Size}";
                    return new S3Error(416, "InvalidRange", "The requested range is not satisfiable", c.Bucket, c.Key);
                }
                (start, length) = (from, to - from + 1);
                response.StatusCode = 206;
                response.Headers.ContentRange = $"bytes {start}-{to}/{row.Size}";
            }
            response.ContentLength = length;
            if (HttpMethods.IsHead(c.Http.Request.Method)) return null;
            file.Position = start;
            var buffer = new byte[1 << 20];
            var left = length;
            while (left > 0)
            {
                var read = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), c.Ct);
                if (read == 0) throw new IOException($"The body of {c.Bucket}/{c.Key} is shorter than its recorded size.");
                await response.Body.WriteAsync(buffer.AsMemory(0, read), c.Ct);
                left -= read;
            }
        }
        return null;
    }

    /// <summary>
    /// One byte range (<c>bytes=a-b</c>, <c>bytes=a-</c>, <c>bytes=-n</c>) clipped to the object; (-1, -1) when it lies
    /// wholly outside; null for a header S3 ignores (several ranges, another unit, malformed): the whole object.
    /// </summary>
    private static (long From, long To)? ParseRange(string header, long size)
    {
        if (!header.StartsWith("bytes=", StringComparison.Ordinal) || header.Contains(',', StringComparison.Ordinal)) return null;
        var spec = header[6..].Trim();
        var dash = spec.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0) return null;
        var first = spec[..dash];
        var last = spec[(dash + 1)..];
        if (first.Length == 0)
        {
            if (!long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var suffix)) return null;
            return suffix == 0 || size == 0 ? (-1, -1) : (Math.Max(0, size - suffix), size - 1);
        }
        if (!long.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out var from)) return null;
        var to = size - 1;
        if (last.Length > 0)
        {
            if (!long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out to) || to < from) return null;
            to = Math.Min(to, size - 1);
        }
        return from >= size ? (-1, -1) : (from, to);
    }

    private static async Task<S3Error?> DeleteObjectAsync(Call c)
    {
        if (await c.Store.DeleteObjectAsync(c.Bucket!, c.Key, c.Ct) is { } fileId) c.Files.Delete(fileId);
        c.Http.Response.StatusCode = 204;
        return null;
    }

    private static async Task<S3Error?> DeleteObjectsAsync(Call c)
    {
        var request = XDocument.Parse(await ReadSmallBodyAsync(c));
        var quiet = request.Descendants().FirstOrDefault(e => e.Name.LocalName == "Quiet")?.Value == "true";
        var keys = request.Descendants().Where(e => e.Name.LocalName == "Object")
            .Select(o => o.Elements().FirstOrDefault(e => e.Name.LocalName == "Key")?.Value).ToList();
        if (keys.Count is 0 or > 1000 || keys.Any(k => k is null)) return S3Errors.MalformedXml();
        var deleted = new List<XElement>();
        foreach (var key in keys)
        {
            if (await c.Store.DeleteObjectAsync(c.Bucket!, key!, c.Ct) is { } fileId) c.Files.Delete(fileId);
            if (!quiet) deleted.Add(E("Deleted", E("Key", key)));
        }
        await WriteAsync(c.Http, E("DeleteResult", deleted));
        return null;
    }

    // ----- multipart uploads --------------------------------------------------------------------------------------

    private static async Task<S3Error?> InitiateUploadAsync(Call c)
    {
        var uploadId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        await c.Store.CreateUploadAsync(new UploadRow(uploadId, c.Bucket!, c.Key, ContentType(c), Metadata(c), c.Now), c.Ct);
        await WriteAsync(c.Http, E("InitiateMultipartUploadResult", E("Bucket", c.Bucket), E("Key", c.Key), E("UploadId", uploadId)));
        return null;
    }

    private static async Task<(UploadRow? Upload, S3Error? Error)> UploadOfAsync(Call c)
    {
        var upload = await c.Store.GetUploadAsync(c.Bucket!, c.Q("uploadId") ?? "", c.Ct);
        return upload is null || upload.ObjectKey != c.Key ? (null, S3Errors.NoSuchUpload(c.Bucket!, c.Key)) : (upload, null);
    }

    private static async Task<S3Error?> UploadPartAsync(Call c)
    {
        if (!int.TryParse(c.Q("partNumber"), NumberStyles.None, CultureInfo.InvariantCulture, out var partNumber) || partNumber is < 1 or > MaxPartNumber)
            return S3Errors.InvalidArgument($"Part number must be an integer between 1 and {MaxPartNumber}, inclusive.");
        var (upload, missing) = await UploadOfAsync(c);
        if (upload is null) return missing;
        var (written, error) = await StoreBodyAsync(c, c.Options.MaxPutBytes);
        if (written is null) return error;
        var etag = Convert.ToHexStringLower(written.Md5);
        var (stored, replaced) = await c.Store.PutPartAsync(new PartRow(upload.UploadId, partNumber, written.Size, etag, written.FileId, c.Now), c.Ct);
        if (!stored)
        {
            c.Files.Delete(written.FileId);
            return S3Errors.NoSuchUpload(c.Bucket!, c.Key);
        }
        if (replaced is not null) c.Files.Delete(replaced);
        c.Http.Response.Headers.ETag = Quote(etag);
        c.Http.Response.StatusCode = 200;
        return null;
    }

    private static async Task<S3Error?> CompleteUploadAsync(Call c)
    {
        var (upload, missing) = await UploadOfAsync(c);
        if (upload is null) return missing;
        var request = XDocument.Parse(await ReadSmallBodyAsync(c));
        var listed = new List<(int Number, string Etag)>();
        foreach (var part in request.Descendants().Where(e => e.Name.LocalName == "Part"))
        {
            var number = part.Elements().FirstOrDefault(e => e.Name.LocalName == "PartNumber")?.Value;
            var etag = part.Elements().FirstOrDefault(e => e.Name.LocalName == "ETag")?.Value;
            if (!int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || etag is null) return S3Errors.MalformedXml();
            listed.Add((n, etag.Trim().Trim('"')));
        }
        if (listed.Count == 0) return S3Errors.MalformedXml();
        for (var i = 1; i < listed.Count; i++)
        {
            if (listed[i].Number <= listed[i - 1].Number)
                return new S3Error(400, "InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number.", c.Bucket, c.Key);
        }
        var parts = (await c.Store.ListPartsAsync(upload.UploadId, c.Ct)).ToDictionary(p => (int)p.PartNumber);
        var chosen = new List<PartRow>();
        foreach (var (number, etag) in listed)
        {
            if (!parts.TryGetValue(number, out var part) || !string.Equals(part.Etag, etag, StringComparison.OrdinalIgnoreCase))
                return new S3Error(400, "InvalidPart", "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.", c.Bucket, c.Key);
            chosen.Add(part);
        }
        if (chosen.SkipLast(1).Any(p => p.Size < MinPartBytes))
            return new S3Error(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.", c.Bucket, c.Key);

        var joined = await c.Files.ConcatenateAsync([.. chosen.Select(p => p.FileId)], c.Ct);
        // S3's multipart ETag: the MD5 of the parts' MD5s, and their count.
        var etags = chosen.SelectMany(p => Convert.FromHexString(p.Etag)).ToArray();
        var objectEtag = $"{Convert.ToHexStringLower(MD5.HashData(etags))}-{chosen.Count}";
        var unused = await c.Store.EndUploadAsync(upload.UploadId,
            new ObjectRow(c.Bucket!, c.Key, joined.Size, objectEtag, upload.ContentType, upload.Metadata, joined.FileId, c.Now), c.Ct);
        if (unused is null)
        {
            c.Files.Delete(joined.FileId);
            return S3Errors.NoSuchUpload(c.Bucket!, c.Key);
        }
        foreach (var fileId in unused) c.Files.Delete(fileId);
        await WriteAsync(c.Http, E("CompleteMultipartUploadResult",
            E("Location", $"{c.Http.Request.Scheme}://{c.Http.Request.Host}/{c.Bucket}/{S3Signature.Encode(c.Key)}"),
            E("Bucket", c.Bucket), E("Key", c.Key), E("ETag", Quote(objectEtag))));
        return null;
    }

    private static async Task<S3Error?> AbortUploadAsync(Call c)
    {
        var (upload, missing) = await UploadOfAsync(c);
        if (upload is null) return missing;
        var unused = await c.Store.EndUploadAsync(upload.UploadId, null, c.Ct);
        if (unused is null) return S3Errors.NoSuchUpload(c.Bucket!, c.Key);
        foreach (var fileId in unused) c.Files.Delete(fileId);
        c.Http.Response.StatusCode = 204;
        return null;
    }

    private static async Task<S3Error?> ListPartsAsync(Call c)
    {
        var (upload, missing) = await UploadOfAsync(c);
        if (upload is null) return missing;
        var (max, bad) = MaxKeys(c, "max-parts");
        if (bad is not null) return bad;
        _ = int.TryParse(c.Q("part-number-marker"), NumberStyles.None, CultureInfo.InvariantCulture, out var marker);
        var parts = (await c.Store.ListPartsAsync(upload.UploadId, c.Ct)).Where(p => p.PartNumber > marker).ToList();
        var page = parts.Take(max).ToList();
        var truncated = parts.Count > page.Count;
        await WriteAsync(c.Http, E("ListPartsResult",
            E("Bucket", c.Bucket), E("Key", c.Key), E("UploadId", upload.UploadId),
            E("Initiator", E("ID", c.Caller.Domain.Id), E("DisplayName", c.Caller.Domain.Name)), Owner(c),
            E("StorageClass", "STANDARD"), E("PartNumberMarker", marker),
            E("NextPartNumberMarker", page.Count > 0 ? page[^1].PartNumber : marker), E("MaxParts", max),
            E("IsTruncated", truncated ? "true" : "false"),
            page.Select(p => E("Part", E("PartNumber", p.PartNumber), E("LastModified", Time(p.ModifiedAt)), E("ETag", Quote(p.Etag)), E("Size", p.Size)))));
        return null;
    }

    private static async Task<S3Error?> ListUploadsAsync(Call c)
    {
        var prefix = c.Q("prefix") ?? "";
        var uploads = await c.Store.ListUploadsAsync(c.Bucket!, prefix, c.Ct);
        await WriteAsync(c.Http, E("ListMultipartUploadsResult",
            E("Bucket", c.Bucket), E("KeyMarker", ""), E("UploadIdMarker", ""), E("Prefix", prefix), E("MaxUploads", MaxListKeys),
            E("IsTruncated", "false"),
            uploads.Take(MaxListKeys).Select(u => E("Upload", E("Key", u.ObjectKey), E("UploadId", u.UploadId),
                E("Initiator", E("ID", c.Caller.Domain.Id), E("DisplayName", c.Caller.Domain.Name)), Owner(c),
                E("StorageClass", "STANDARD"), E("Initiated", Time(u.InitiatedAt))))));
        return null;
    }

    // ----- helpers ------------------------------------------------------------------------------------------------

    /// <summary>A small XML request body (bucket configuration, a parts list, a delete list), at most 1 MiB.</summary>
    private static async Task<string> ReadSmallBodyAsync(Call c)
    {
        using var reader = new StreamReader(Body(c), Encoding.UTF8);
        var buffer = new char[1024 * 1024 + 1];
        var total = 0;
        int read;
        while (total < buffer.Length && (read = await reader.ReadAsync(buffer.AsMemory(total), c.Ct)) > 0) total += read;
        if (total == buffer.Length) throw new XmlException("The request body is too large.");
        return new string(buffer, 0, total);
    }

    private static string Quote(string etag) => $"\"{etag}\"";

    private static string Time(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}

/// <summary>S3's bucket naming rules (DNS-compatible names, as OBS requires).</summary>
public static class BucketNames
{
    public static bool IsValid(string name) =>
        name.Length is >= 3 and <= 63
        && name.All(ch => ch is >= 'a' and <= 'z' or >= '0' and <= '9' or '.' or '-')
        && char.IsAsciiLetterOrDigit(name[0]) && char.IsAsciiLetterOrDigit(name[^1])
        && !name.Contains("..", StringComparison.Ordinal) && !name.Contains(".-", StringComparison.Ordinal) && !name.Contains("-.", StringComparison.Ordinal)
        && !IPAddress.TryParse(name, out _);
}
