using System.Text;
using Ims.Service.Auth;

namespace Ims.Tests.Auth;

/// <summary>Known-answer vectors from spec §6.2, computed with the official Node.js signer.</summary>
public sealed class SdkSignatureTests
{
    private const string Date = "20250304T081502Z";

    [Theory]
    [InlineData("POST", "/v1/cloudimages/wholeimages/action", "", "0b1e494e2660441a957313163095fe5c",
        """{"name":"web-01-full","instance_id":"5f0e3c2a-8b4d-4d1e-9a77-2c1e0b6f4a10"}""",
        "b11b6c3557eabba7087c2356dc19e9cc90cde0e0ec79bb963a089d3ad079bb11")]
    [InlineData("GET", "/v2/cloudimages", "__whole_image=true&name=a b&limit=10", "p1", "",
        "f88b72e467d21434175e49b5678b9a03cfd8625b1e49551aa7b07d0094e1b82c")]
    public void Signature_matches_the_official_signer(string method, string path, string query, string projectId, string body, string expected)
    {
        var headers = new Dictionary<string, string>
        {
            ["content-type"] = "application/json",
            ["host"] = "ims.example.local:8443",
            ["x-project-id"] = projectId,
            ["x-sdk-date"] = Date,
        };
        var pairs = query.Length == 0 ? [] : query.Split('&').Select(p => p.Split('=')).Select(p => new KeyValuePair<string, string>(p[0], p[1])).ToList();
        var canonical = SdkSignature.CanonicalRequest(method, path, pairs, ["content-type", "host", "x-project-id", "x-sdk-date"],
            name => headers[name], SdkSignature.HexSha256(Encoding.UTF8.GetBytes(body)));

        Assert.Equal(expected, SdkSignature.Sign(canonical, Date, "SKEXAMPLESECRET", null));
    }

    [Fact]
    public void Empty_body_hash_is_the_sha256_of_nothing() =>
        Assert.Equal(SdkSignature.EmptyBodyHash, SdkSignature.HexSha256([]));

    [Theory]
    [InlineData("SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;x-sdk-date, Signature=abc", "AK1", null)]
    [InlineData("SDK-HMAC-SHA256 Credential=AK2/20250304/eu-de/ims/sdk_request, SignedHeaders=host, Signature=abc", "AK2", "20250304/eu-de/ims/sdk_request")]
    public void Both_header_forms_parse(string header, string ak, string? scope)
    {
        var parsed = SdkSignature.ParseHeader(header);
        Assert.NotNull(parsed);
        Assert.Equal(ak, parsed.AccessKey);
        Assert.Equal(scope, parsed.Scope);
        Assert.Equal("abc", parsed.Signature);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Bearer xyz")]
    [InlineData("SDK-HMAC-SHA256 Access=AK1")]
    [InlineData("SDK-HMAC-SHA256 garbage")]
    public void Malformed_headers_are_rejected(string? header) => Assert.Null(SdkSignature.ParseHeader(header));

    [Fact]
    public void Path_segments_are_encoded_and_end_with_a_slash() =>
        Assert.Equal("/v2/images/a%20b/", SdkSignature.CanonicalUri("/v2/images/a b"));
}
