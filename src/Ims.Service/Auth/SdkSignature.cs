using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Ims.Service.Auth;

/// <summary>
/// The API gateway's <c>SDK-HMAC-SHA256</c> request signature (spec §6.2), in both header forms:
/// <c>Access=AK</c> (Huawei SDK v3, SK used directly) and <c>Credential=AK/date/region/service/sdk_request</c>
/// (gophertelekomcloud, derived key).
/// </summary>
public static class SdkSignature
{
    public const string Algorithm = "SDK-HMAC-SHA256";
    public const string EmptyBodyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    public sealed record Header(string AccessKey, string? Scope, IReadOnlyList<string> SignedHeaders, string Signature);

    /// <summary>Parses an Authorization header value; null when it is not an SDK-HMAC-SHA256 header.</summary>
    public static Header? ParseHeader(string? value)
    {
        if (value is null || !value.StartsWith(Algorithm + " ", StringComparison.Ordinal)) return null;
        string? access = null, credential = null, signed = null, signature = null;
        foreach (var part in value[(Algorithm.Length + 1)..].Split(','))
        {
            var kv = part.Trim();
            var eq = kv.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) return null;
            var key = kv[..eq];
            var val = kv[(eq + 1)..];
            switch (key)
            {
                case "Access": access = val; break;
                case "Credential": credential = val; break;
                case "SignedHeaders": signed = val; break;
                case "Signature": signature = val; break;
                default: break;
            }
        }
        if (signed is null || signature is null) return null;
        string? scope = null;
        if (access is null && credential is not null)
        {
            var slash = credential.IndexOf('/', StringComparison.Ordinal);
            if (slash <= 0) return null;
            access = credential[..slash];
            scope = credential[(slash + 1)..];
        }
        if (string.IsNullOrEmpty(access)) return null;
        return new Header(access, scope, signed.Split(';', StringSplitOptions.RemoveEmptyEntries), signature);
    }

    /// <summary>Percent-encodes as the signer does: unreserved characters kept, UTF-8, uppercase hex.</summary>
    public static string Encode(string value)
    {
        var sb = new StringBuilder(value.Length);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            var c = (char)b;
            if (c is >= 'A' and <= 'Z' or >= 'a' and <= 'z' or >= '0' and <= '9' or '-' or '.' or '_' or '~') sb.Append(c);
            else sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    public static string CanonicalUri(string decodedPath)
    {
        var encoded = string.Join('/', decodedPath.Split('/').Select(Encode));
        return encoded.EndsWith('/') ? encoded : encoded + "/";
    }

    public static string CanonicalQuery(IEnumerable<KeyValuePair<string, string>> decodedPairs) =>
        string.Join('&', decodedPairs
            .Select(p => (Key: Encode(p.Key), Value: Encode(p.Value)))
            .OrderBy(p => p.Key, StringComparer.Ordinal)
            .ThenBy(p => p.Value, StringComparer.Ordinal)
            .Select(p => $"{p.Key}={p.Value}"));

    public static string CanonicalRequest(string method, string decodedPath, IEnumerable<KeyValuePair<string, string>> query,
        IReadOnlyList<string> signedHeaders, Func<string, string?> headerValue, string bodyHash)
    {
        var sb = new StringBuilder();
        sb.Append(method.ToUpperInvariant()).Append('\n');
        sb.Append(CanonicalUri(decodedPath)).Append('\n');
        sb.Append(CanonicalQuery(query)).Append('\n');
        foreach (var name in signedHeaders)
            sb.Append(name.ToLowerInvariant()).Append(':').Append((headerValue(name) ?? "").Trim()).Append('\n');
        sb.Append('\n');
        sb.Append(string.Join(';', signedHeaders)).Append('\n');
        sb.Append(bodyHash);
        return sb.ToString();
    }

    public static string HexSha256(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(SHA256.HashData(data));

    /// <summary>Computes the signature for the <c>Access=</c> form (<paramref name="scope"/> null) or the derived-key form.</summary>
    public static string Sign(string canonicalRequest, string sdkDate, string secret, string? scope)
    {
        var requestHash = HexSha256(Encoding.UTF8.GetBytes(canonicalRequest));
        if (scope is null)
        {
            var stringToSign = $"{Algorithm}\n{sdkDate}\n{requestHash}";
            return Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(stringToSign)));
        }
        var parts = scope.Split('/');
        if (parts.Length != 4) return "";
        var scopedString = $"{Algorithm}\n{sdkDate}\n{scope}\n{requestHash}";
        var key = HMACSHA256.HashData(Encoding.UTF8.GetBytes("SDK" + secret), Encoding.UTF8.GetBytes(parts[0]));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(parts[1]));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(parts[2]));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(parts[3]));
        return Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(scopedString)));
    }

    public static bool TryParseSdkDate(string? value, out DateTimeOffset time) =>
        DateTimeOffset.TryParseExact(value, "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time);

    public static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(a), Encoding.ASCII.GetBytes(b));
}
