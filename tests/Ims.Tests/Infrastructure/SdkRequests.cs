using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace Ims.Tests.Infrastructure;

/// <summary>
/// Requests shaped exactly as the Huawei Node.js SDK (core 3.1.211) sends them, captured from the real SDK: every
/// header present at signing time is signed (<c>content-type</c>, <c>host</c>, <c>x-sdk-date</c> and the SDK's own
/// <c>X-Project-Id</c>/<c>X-Domain-Id</c>/<c>X-Subject-Token</c>), <c>Content-Type: application/json</c> even on GETs,
/// and the SDK's internal IAM look-ups send (and sign) a <c>{}</c> body with their GET. User-Agent is added after
/// signing, unsigned.
/// </summary>
public static class SdkRequests
{
    private static readonly HttpClient Http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(1) })
    {
        Timeout = TimeSpan.FromSeconds(60),
    };

    /// <summary>
    /// Sends <paramref name="method"/> <paramref name="pathAndQuery"/> with the given extra headers (all signed) and body
    /// (null: none), signed with the tenant's AK/SK in the <c>Access=</c> form.
    /// </summary>
    public static async Task<ApiResponse> SendAsync(Uri baseAddress, TestTenant tenant, HttpMethod method, string pathAndQuery,
        IReadOnlyDictionary<string, string>? headers = null, string? body = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(baseAddress, pathAndQuery));
        var bytes = body is null ? [] : Encoding.UTF8.GetBytes(body);
        // The SDK sets Content-Type on every request; HttpClient carries it on the content, so a GET gets empty content.
        request.Content = new ByteArrayContent(bytes);
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json");
        var date = DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var signed = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["content-type"] = "application/json",
            ["host"] = request.RequestUri!.Authority,
            ["x-sdk-date"] = date,
        };
        request.Headers.TryAddWithoutValidation("X-Sdk-Date", date);
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(name, value);
            signed[name.ToLowerInvariant()] = value;
        }
        request.Headers.TryAddWithoutValidation("User-Agent", "huaweicloud-usdk-nodejs/3.0");

        var uri = request.RequestUri!;
        var canonicalUri = string.Join("/", Uri.UnescapeDataString(uri.AbsolutePath).Split('/').Select(Escape));
        if (!canonicalUri.EndsWith('/')) canonicalUri += "/";
        var query = uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .Select(p => (Key: Escape(Uri.UnescapeDataString(p[0])), Value: Escape(Uri.UnescapeDataString(p.Length > 1 ? p[1] : ""))))
            .OrderBy(p => p.Key, StringComparer.Ordinal).ThenBy(p => p.Value, StringComparer.Ordinal)
            .Select(p => p.Key + "=" + p.Value);
        var signedHeaders = string.Join(";", signed.Keys);
        var canonical = string.Join("\n",
            method.Method, canonicalUri, string.Join("&", query),
            string.Concat(signed.Select(h => h.Key + ":" + h.Value + "\n")),
            signedHeaders, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        var stringToSign = $"SDK-HMAC-SHA256\n{date}\n{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)))}";
        var signature = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(tenant.SecretKey), Encoding.UTF8.GetBytes(stringToSign)));
        request.Headers.TryAddWithoutValidation("Authorization",
            $"SDK-HMAC-SHA256 Access={tenant.AccessKey}, SignedHeaders={signedHeaders}, Signature={signature}");

        using var response = await Http.SendAsync(request);
        return new ApiResponse(response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers);
    }

    /// <summary>The SDK's URL encoding: unreserved characters kept, everything else %XX of its UTF-8 bytes.</summary>
    private static string Escape(string s)
    {
        var sb = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(s))
        {
            var c = (char)b;
            if (c is >= 'A' and <= 'Z' or >= 'a' and <= 'z' or >= '0' and <= '9' or '-' or '_' or '.' or '~') sb.Append(c);
            else sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
