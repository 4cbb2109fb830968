using System.Xml.Linq;

namespace Ims.Service.Obs;

/// <summary>An S3 error: its HTTP status, S3 code and message, and the bucket or key it is about.</summary>
public sealed record S3Error(int Status, string Code, string Message, string? Bucket = null, string? Key = null);

/// <summary>
/// The bucket API's errors, written in one place in S3's XML shape (<c>&lt;Error&gt;&lt;Code&gt;...</c>, as S3, OBS and
/// RGW answer); a HEAD gets the status alone, as S3 sends no body there.
/// </summary>
public static class S3Errors
{
    public static S3Error NoSuchBucket(string bucket) => new(404, "NoSuchBucket", "The specified bucket does not exist", bucket);
    public static S3Error NoSuchKey(string bucket, string key) => new(404, "NoSuchKey", "The specified key does not exist.", bucket, key);
    public static S3Error NoSuchUpload(string bucket, string key) =>
        new(404, "NoSuchUpload", "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.", bucket, key);
    public static S3Error AccessDenied(string message = "Access Denied") => new(403, "AccessDenied", message);
    public static S3Error SignatureDoesNotMatch() =>
        new(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.");
    public static S3Error InvalidArgument(string message) => new(400, "InvalidArgument", message);
    public static S3Error MalformedXml() =>
        new(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.");

    public static async Task WriteAsync(HttpContext http, S3Error error)
    {
        var response = http.Response;
        response.StatusCode = error.Status;
        var requestId = response.Headers["x-amz-request-id"].ToString();
        if (HttpMethods.IsHead(http.Request.Method)) return;
        var body = new XElement("Error",
            new XElement("Code", error.Code),
            new XElement("Message", error.Message),
            error.Bucket is null ? null : new XElement("BucketName", error.Bucket),
            error.Key is null ? null : new XElement("Key", error.Key),
            new XElement("RequestId", requestId),
            new XElement("HostId", requestId));
        await S3Xml.WriteAsync(http, body, error.Status);
    }
}

/// <summary>Writes an XML document as the bucket API's response body.</summary>
public static class S3Xml
{
    public static readonly XNamespace Ns = "http://s3.amazonaws.com/doc/2006-03-01/";

    /// <summary>An element in the S3 namespace with the given children (null children are left out).</summary>
    public static XElement E(string name, params object?[] content) => new(Ns + name, content);

    public static async Task WriteAsync(HttpContext http, XElement root, int status = 200)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/xml";
        var text = new XDocument(new XDeclaration("1.0", "UTF-8", null), root).Declaration + root.ToString(SaveOptions.DisableFormatting);
        await http.Response.WriteAsync(text, http.RequestAborted);
    }
}
