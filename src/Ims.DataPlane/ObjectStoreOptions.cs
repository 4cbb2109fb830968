namespace Ims.DataPlane;

/// <summary>
/// Where chunks and manifests live when they are not in the local folder: a bucket of an S3-compatible object store
/// (Ceph's RADOS Gateway). Volumes stay local either way.
/// </summary>
public sealed record ObjectStoreOptions
{
    /// <summary>The S3 endpoint, e.g. <c>http://127.0.0.1:17080</c> (requests use path-style URLs).</summary>
    public string? Endpoint { get; set; }

    /// <summary>The bucket; created when it does not exist.</summary>
    public string? Bucket { get; set; }

    public string? AccessKey { get; set; }

    public string? SecretKey { get; set; }

    /// <summary>The region requests are signed for; RGW's default zonegroup answers any.</summary>
    public string Region { get; set; } = "us-east-1";

    /// <summary>Whether any setting is given (none means: chunks and manifests in the local folder).</summary>
    public bool IsSet => Endpoint is not null || Bucket is not null || AccessKey is not null || SecretKey is not null;

    /// <summary>What is wrong with the settings (empty when they are usable), each naming the setting.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (!Uri.TryCreate(Endpoint, UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("http" or "https"))
            problems.Add("Endpoint must be an absolute http:// or https:// URL.");
        if (Bucket is null || !IsBucketName(Bucket))
            problems.Add("Bucket must be 3 to 63 characters of lowercase letters, digits, '-' and '.', starting and ending with a letter or digit.");
        if (string.IsNullOrEmpty(AccessKey)) problems.Add("AccessKey is required.");
        if (string.IsNullOrEmpty(SecretKey)) problems.Add("SecretKey is required.");
        if (string.IsNullOrWhiteSpace(Region)) problems.Add("Region must not be empty.");
        return problems;
    }

    private static bool IsBucketName(string name) =>
        name.Length is >= 3 and <= 63
        && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.')
        && char.IsAsciiLetterOrDigit(name[0]) && char.IsAsciiLetterOrDigit(name[^1]);

    // The secret never reaches a log through a record's printed form.
    public override string ToString() => $"ObjectStoreOptions {{ Endpoint = {Endpoint}, Bucket = {Bucket}, Region = {Region} }}";
}
