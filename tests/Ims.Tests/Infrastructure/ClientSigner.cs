using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Ims.Tests.Infrastructure;

/// <summary>
/// The client half of SDK-HMAC-SHA256, written independently of the service's verifier, as the Huawei SDK v3
/// (<c>Access=</c>) and gophertelekomcloud (<c>Credential=</c>) sign.
/// </summary>
public static class ClientSigner
{
    public static void Sign(HttpRequestMessage request, byte[] body, string ak, string sk, DateTime utcNow, string? credentialScopeRegion = null)
    {
        var date = utcNow.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        request.Headers.TryAddWithoutValidation("X-Sdk-Date", date);
        var uri = request.RequestUri!;
        var headers = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["host"] = uri.IsDefaultPort ? uri.Host : $"{uri.Host}:{uri.Port}",
            ["x-sdk-date"] = date,
        };
        foreach (var h in request.Headers)
            if (h.Key.Equals("X-Project-Id", StringComparison.OrdinalIgnoreCase)) headers["x-project-id"] = string.Join(",", h.Value);
        if (request.Content?.Headers.ContentType is { } ct) headers["content-type"] = ct.ToString();

        var path = Uri.UnescapeDataString(uri.AbsolutePath);
        var canonicalUri = string.Join("/", path.Split('/').Select(Escape));
        if (!canonicalUri.EndsWith('/')) canonicalUri += "/";
        var query = uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .Select(p => (Key: Escape(Decode(p[0])), Value: Escape(Decode(p.Length > 1 ? p[1] : ""))))
            .OrderBy(p => p.Key, StringComparer.Ordinal).ThenBy(p => p.Value, StringComparer.Ordinal)
            .Select(p => p.Key + "=" + p.Value);
        var signedHeaders = string.Join(";", headers.Keys);
        var canonical = string.Join("\n",
            request.Method.Method, canonicalUri, string.Join("&", query),
            string.Concat(headers.Select(h => h.Key + ":" + h.Value.Trim() + "\n")),
            signedHeaders, Hex(SHA256.HashData(body)));
        var canonicalHash = Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
        string authorization;
        if (credentialScopeRegion is null)
        {
            var signature = Hex(HMACSHA256.HashData(Encoding.UTF8.GetBytes(sk), Encoding.UTF8.GetBytes($"SDK-HMAC-SHA256\n{date}\n{canonicalHash}")));
            authorization = $"SDK-HMAC-SHA256 Access={ak}, SignedHeaders={signedHeaders}, Signature={signature}";
        }
        else
        {
            var day = date[..8];
            var scope = $"{day}/{credentialScopeRegion}/ims/sdk_request";
            var key = HMACSHA256.HashData(Encoding.UTF8.GetBytes("SDK" + sk), Encoding.UTF8.GetBytes(day));
            foreach (var part in new[] { credentialScopeRegion, "ims", "sdk_request" }) key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(part));
            var signature = Hex(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"SDK-HMAC-SHA256\n{date}\n{scope}\n{canonicalHash}")));
            authorization = $"SDK-HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={signedHeaders}, Signature={signature}";
        }
        request.Headers.TryAddWithoutValidation("Authorization", authorization);
    }

    private static string Escape(string s) => Uri.EscapeDataString(s).Replace("!", "%21", StringComparison.Ordinal)
        .Replace("'", "%27", StringComparison.Ordinal).Replace("(", "%28", StringComparison.Ordinal)
        .Replace(")", "%29", StringComparison.Ordinal).Replace("*", "%2A", StringComparison.Ordinal);

    /// <summary>Query decoding as Go's url.ParseQuery does it: '+' is a space.</summary>
    private static string Decode(string s) => Uri.UnescapeDataString(s.Replace('+', ' '));

    private static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);
}
