using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Ims.Service.Auth;

namespace Ims.Service.Obs;

/// <summary>
/// The two request signatures S3 and OBS clients send: AWS Signature Version 4 (<c>AWS4-HMAC-SHA256</c>, awscli, boto3,
/// the AWS SDKs, s3cmd by default) and the older header signature of S3 and OBS (<c>AWS AK:sig</c> / <c>OBS AK:sig</c>,
/// HMAC-SHA1: s3cmd --signature-v2, the OBS SDKs). Pure functions over the request's parts; <see cref="S3Authenticator"/>
/// applies them to a request.
/// </summary>
public static class S3Signature
{
    public const string V4Algorithm = "AWS4-HMAC-SHA256";
    public const string UnsignedPayload = "UNSIGNED-PAYLOAD";
    public const string StreamingSigned = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
    public const string StreamingSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
    public const string StreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
    public const string EmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// <summary>An <c>AWS4-HMAC-SHA256 Credential=AK/date/region/service/aws4_request, SignedHeaders=..., Signature=...</c> header.</summary>
    public sealed record V4Header(string AccessKey, string Date, string Region, string Service, IReadOnlyList<string> SignedHeaders, string Signature)
    {
        public string Scope => $"{Date}/{Region}/{Service}/aws4_request";
    }

    /// <summary>Parses a SigV4 Authorization header; null when malformed.</summary>
    public static V4Header? ParseV4(string value)
    {
        if (!value.StartsWith(V4Algorithm + " ", StringComparison.Ordinal)) return null;
        string? credential = null, signed = null, signature = null;
        foreach (var part in value[(V4Algorithm.Length + 1)..].Split(','))
        {
            var kv = part.Trim();
            var eq = kv.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) return null;
            switch (kv[..eq])
            {
                case "Credential": credential = kv[(eq + 1)..]; break;
                case "SignedHeaders": signed = kv[(eq + 1)..]; break;
                case "Signature": signature = kv[(eq + 1)..]; break;
                default: break;
            }
        }
        var scope = credential?.Split('/');
        if (scope is not { Length: 5 } || scope[4] != "aws4_request" || signed is null || signature is null || scope[0].Length == 0) return null;
        return new V4Header(scope[0], scope[1], scope[2], scope[3], signed.Split(';', StringSplitOptions.RemoveEmptyEntries), signature);
    }

    /// <summary>A path or query part percent-encoded as SigV4 wants it (RFC 3986 unreserved characters kept).</summary>
    public static string Encode(string value) => SdkSignature.Encode(value);

    /// <summary>The canonical URI of a raw (as sent) request path: each segment decoded, then encoded once.</summary>
    public static string CanonicalUri(string rawPath)
    {
        if (rawPath.Length == 0) return "/";
        return string.Join('/', rawPath.Split('/').Select(segment => Encode(Uri.UnescapeDataString(segment))));
    }

    /// <summary>The decoded name/value pairs of a raw query string (without the '?'); a name alone has an empty value.</summary>
    public static List<KeyValuePair<string, string>> QueryPairs(string rawQuery)
    {
        var pairs = new List<KeyValuePair<string, string>>();
        foreach (var part in rawQuery.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            var name = eq < 0 ? part : part[..eq];
            var value = eq < 0 ? "" : part[(eq + 1)..];
            pairs.Add(new(Uri.UnescapeDataString(name), Uri.UnescapeDataString(value)));
        }
        return pairs;
    }

    public static string CanonicalQuery(IEnumerable<KeyValuePair<string, string>> pairs) => SdkSignature.CanonicalQuery(pairs);

    /// <summary>A header value as SigV4 canonicalises it: trimmed, inner runs of spaces made one.</summary>
    public static string CanonicalHeaderValue(string value)
    {
        var sb = new StringBuilder(value.Length);
        var space = false;
        foreach (var c in value.Trim())
        {
            if (c == ' ')
            {
                if (!space) sb.Append(c);
                space = true;
            }
            else
            {
                sb.Append(c);
                space = false;
            }
        }
        return sb.ToString();
    }

    public static string V4CanonicalRequest(string method, string rawPath, string rawQuery, IReadOnlyList<string> signedHeaders,
        Func<string, string> headerValue, string payloadHash, Func<string, bool>? skipQuery = null)
    {
        var sb = new StringBuilder();
        sb.Append(method).Append('\n');
        sb.Append(CanonicalUri(rawPath)).Append('\n');
        sb.Append(CanonicalQuery(QueryPairs(rawQuery).Where(p => skipQuery is null || !skipQuery(p.Key)))).Append('\n');
        foreach (var name in signedHeaders)
            sb.Append(name).Append(':').Append(CanonicalHeaderValue(headerValue(name))).Append('\n');
        sb.Append('\n');
        sb.Append(string.Join(';', signedHeaders)).Append('\n');
        sb.Append(payloadHash);
        return sb.ToString();
    }

    public static byte[] V4SigningKey(string secret, string date, string region, string service)
    {
        var key = HMACSHA256.HashData(Encoding.UTF8.GetBytes("AWS4" + secret), Encoding.UTF8.GetBytes(date));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(region));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(service));
        return HMACSHA256.HashData(key, "aws4_request"u8);
    }

    public static string V4Signature(byte[] signingKey, string amzDate, string scope, string canonicalRequest)
    {
        var stringToSign = $"{V4Algorithm}\n{amzDate}\n{scope}\n{Sha256Hex(canonicalRequest)}";
        return Convert.ToHexStringLower(HMACSHA256.HashData(signingKey, Encoding.UTF8.GetBytes(stringToSign)));
    }

    /// <summary>The signature of one chunk of an <c>aws-chunked</c> body, chained from the previous one.</summary>
    public static string V4ChunkSignature(byte[] signingKey, string amzDate, string scope, string previousSignature, string chunkSha256Hex)
    {
        var stringToSign = $"AWS4-HMAC-SHA256-PAYLOAD\n{amzDate}\n{scope}\n{previousSignature}\n{EmptySha256}\n{chunkSha256Hex}";
        return Convert.ToHexStringLower(HMACSHA256.HashData(signingKey, Encoding.UTF8.GetBytes(stringToSign)));
    }

    public static bool TryParseAmzDate(string? value, out DateTimeOffset time) =>
        DateTimeOffset.TryParseExact(value, "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time);

    /// <summary>An HTTP date (RFC 1123, as the V2 signature's <c>Date</c> or <c>x-amz-date</c>).</summary>
    public static bool TryParseHttpDate(string? value, out DateTimeOffset time) =>
        DateTimeOffset.TryParseExact(value?.Trim(), ["r", "ddd, d MMM yyyy HH:mm:ss 'GMT'", "ddd, dd MMM yyyy HH:mm:ss 'GMT'", "ddd, dd MMM yyyy HH:mm:ss '+0000'"],
            CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time);

    // ----- the V2 header signature --------------------------------------------------------------------------------

    /// <summary>The query parameters that take part in the V2 signature's canonical resource (S3's and OBS's lists).</summary>
    private static readonly HashSet<string> V2SubResources = new(StringComparer.Ordinal)
    {
        "acl", "append", "cors", "delete", "inventory", "lifecycle", "location", "logging", "metadata", "notification",
        "partNumber", "policy", "position", "quota", "replication", "requestPayment", "response-cache-control",
        "response-content-disposition", "response-content-encoding", "response-content-language", "response-content-type",
        "response-expires", "restore", "storageClass", "storagePolicy", "tagging", "torrent", "uploadId", "uploads",
        "versionId", "versioning", "versions", "website",
    };

    /// <summary>
    /// The V2 string to sign. <paramref name="headerPrefix"/> is <c>x-amz-</c> (AWS) or <c>x-obs-</c> (OBS);
    /// <paramref name="resourcePath"/> is the raw path naming the bucket (<c>/bucket/key</c>) even for virtual-host requests.
    /// </summary>
    public static string V2StringToSign(string method, Func<string, string> header, IEnumerable<KeyValuePair<string, string>> headers,
        string headerPrefix, string resourcePath, string rawQuery)
    {
        var sb = new StringBuilder();
        sb.Append(method).Append('\n');
        sb.Append(header("content-md5")).Append('\n');
        sb.Append(header("content-type")).Append('\n');
        var prefixed = headers
            .Where(h => h.Key.StartsWith(headerPrefix, StringComparison.OrdinalIgnoreCase))
            .GroupBy(h => h.Key.ToLowerInvariant())
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToList();
        // With x-amz-date (x-obs-date) the Date line is empty: the prefixed header carries the signed time.
        sb.Append(prefixed.Any(g => g.Key == headerPrefix + "date") ? "" : header("date")).Append('\n');
        foreach (var group in prefixed)
            sb.Append(group.Key).Append(':').Append(string.Join(',', group.Select(h => h.Value.Trim()))).Append('\n');
        sb.Append(resourcePath);
        var sub = QueryPairs(rawQuery).Where(p => V2SubResources.Contains(p.Key)).OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
        if (sub.Count > 0)
            sb.Append('?').Append(string.Join('&', sub.Select(p => p.Value.Length == 0 ? p.Key : $"{p.Key}={p.Value}")));
        return sb.ToString();
    }

    public static string V2Signature(string secret, string stringToSign) =>
        Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(stringToSign)));

    public static string Sha256Hex(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    public static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(a), Encoding.ASCII.GetBytes(b));
}
