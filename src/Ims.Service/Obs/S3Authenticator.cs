using Ims.Service.Auth;
using Microsoft.AspNetCore.Http.Features;

namespace Ims.Service.Obs;

/// <summary>How a request's body is to be read and checked, as its signature said.</summary>
public sealed record S3Payload(string? Sha256Hex, bool AwsChunked, Func<string, string, string>? ChunkSignature, string SeedSignature);

/// <summary>Who signed a bucket API request, and what its signature pins of the body.</summary>
public sealed record S3Caller(AccessKey Key, S3Payload Payload)
{
    public Domain Domain => Key.User.Domain;
}

/// <summary>
/// Checks a bucket API request's signature against the secret of the account's access key (the same AK/SK pairs the
/// IAM-signed APIs take). Answers the caller, or the S3 error to send.
/// </summary>
public sealed class S3Authenticator(Accounts accounts, TimeProvider time)
{
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromMinutes(15);

    public (S3Caller? Caller, S3Error? Error) Authenticate(HttpContext http, string? virtualHostBucket)
    {
        var authorization = http.Request.Headers.Authorization.ToString();
        if (authorization.Length == 0)
            return (null, S3Errors.AccessDenied("Anonymous requests are not accepted: sign the request with the account's AK/SK."));
        if (authorization.StartsWith(S3Signature.V4Algorithm + " ", StringComparison.Ordinal)) return AuthenticateV4(http, authorization);
        if (authorization.StartsWith("AWS ", StringComparison.Ordinal)) return AuthenticateV2(http, authorization[4..], "x-amz-", virtualHostBucket);
        if (authorization.StartsWith("OBS ", StringComparison.Ordinal)) return AuthenticateV2(http, authorization[4..], "x-obs-", virtualHostBucket);
        return (null, new S3Error(400, "InvalidArgument", "Unsupported Authorization type."));
    }

    private static (string Path, string Query) RawTarget(HttpContext http)
    {
        var target = http.Features.Get<IHttpRequestFeature>()?.RawTarget ?? http.Request.Path.Value ?? "/";
        var q = target.IndexOf('?', StringComparison.Ordinal);
        return q < 0 ? (target, "") : (target[..q], target[(q + 1)..]);
    }

    private string Header(HttpContext http, string name) => name == "host"
        ? http.Request.Host.Value ?? ""
        : string.Join(',', http.Request.Headers[name].Select(v => v ?? ""));

    private (S3Caller?, S3Error?) AuthenticateV4(HttpContext http, string authorization)
    {
        var header = S3Signature.ParseV4(authorization);
        if (header is null)
            return (null, new S3Error(400, "AuthorizationHeaderMalformed", "The authorization header is malformed."));
        var amzDate = http.Request.Headers["x-amz-date"].ToString();
        if (amzDate.Length == 0) amzDate = http.Request.Headers.Date.ToString();
        if (!S3Signature.TryParseAmzDate(amzDate, out var signedAt))
            return (null, new S3Error(403, "AccessDenied", "AWS authentication requires a valid x-amz-date header."));
        if ((time.GetUtcNow() - signedAt).Duration() > MaxClockSkew)
            return (null, new S3Error(403, "RequestTimeTooSkewed", "The difference between the request time and the server's time is too large."));
        if (!amzDate.StartsWith(header.Date, StringComparison.Ordinal))
            return (null, new S3Error(400, "AuthorizationHeaderMalformed", "The credential's date is not the date of x-amz-date."));
        var key = accounts.KeyByAccess(header.AccessKey);
        if (key is null)
            return (null, new S3Error(403, "InvalidAccessKeyId", "The AWS access key Id you provided does not exist in our records."));

        var payloadHash = http.Request.Headers["x-amz-content-sha256"].ToString();
        if (payloadHash.Length == 0)
            return (null, new S3Error(400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256."));
        var (path, query) = RawTarget(http);
        var canonical = S3Signature.V4CanonicalRequest(http.Request.Method, path, query, header.SignedHeaders, n => Header(http, n), payloadHash);
        var signingKey = S3Signature.V4SigningKey(key.Secret, header.Date, header.Region, header.Service);
        var expected = S3Signature.V4Signature(signingKey, amzDate, header.Scope, canonical);
        if (!S3Signature.FixedTimeEquals(expected, header.Signature))
            return (null, S3Errors.SignatureDoesNotMatch());

        var payload = payloadHash switch
        {
            S3Signature.UnsignedPayload => new S3Payload(null, false, null, ""),
            S3Signature.StreamingUnsignedTrailer => new S3Payload(null, true, null, ""),
            S3Signature.StreamingSigned or S3Signature.StreamingSignedTrailer => new S3Payload(null, true,
                (previous, chunkHash) => S3Signature.V4ChunkSignature(signingKey, amzDate, header.Scope, previous, chunkHash), expected),
            _ => new S3Payload(payloadHash.ToLowerInvariant(), false, null, ""),
        };
        return (new S3Caller(key, payload), null);
    }

    private (S3Caller?, S3Error?) AuthenticateV2(HttpContext http, string credential, string prefix, string? virtualHostBucket)
    {
        var colon = credential.LastIndexOf(':');
        if (colon <= 0) return (null, new S3Error(400, "InvalidArgument", "The authorization header is malformed."));
        var access = credential[..colon].Trim();
        var signature = credential[(colon + 1)..].Trim();
        var dateHeader = http.Request.Headers[prefix + "date"].ToString();
        if (dateHeader.Length == 0) dateHeader = http.Request.Headers.Date.ToString();
        if (!S3Signature.TryParseHttpDate(dateHeader, out var signedAt))
            return (null, new S3Error(403, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header."));
        if ((time.GetUtcNow() - signedAt).Duration() > MaxClockSkew)
            return (null, new S3Error(403, "RequestTimeTooSkewed", "The difference between the request time and the server's time is too large."));
        var key = accounts.KeyByAccess(access);
        if (key is null)
            return (null, new S3Error(403, "InvalidAccessKeyId", "The AWS access key Id you provided does not exist in our records."));

        var (path, query) = RawTarget(http);
        var resource = virtualHostBucket is null ? path : "/" + virtualHostBucket + path;
        var stringToSign = S3Signature.V2StringToSign(http.Request.Method, n => Header(http, n),
            http.Request.Headers.SelectMany(h => h.Value.Select(v => new KeyValuePair<string, string>(h.Key, v ?? ""))), prefix, resource, query);
        if (!S3Signature.FixedTimeEquals(S3Signature.V2Signature(key.Secret, stringToSign), signature))
            return (null, S3Errors.SignatureDoesNotMatch());
        return (new S3Caller(key, new S3Payload(null, false, null, "")), null);
    }
}
