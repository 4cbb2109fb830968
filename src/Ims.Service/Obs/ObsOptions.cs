namespace Ims.Service.Obs;

/// <summary>
/// The <c>Ims:Obs</c> section: where the service's own bucket API listens. <c>Urls</c> are its listeners (a second
/// port beside the IMS one: S3 clients want the bucket at the root of a host, path-style <c>/bucket/key</c> or
/// virtual-host style <c>bucket.host</c>); empty, no bucket API is served. <c>Domain</c> is an extra host name under
/// which virtual-host requests arrive (behind a proxy, for example); the listeners' own host names count already.
/// </summary>
public sealed class ObsOptions
{
    public string? Urls { get; set; }

    public string? Domain { get; set; }

    /// <summary>The region buckets report (GetBucketLocation); the service's region when unset.</summary>
    public string? Region { get; set; }

    /// <summary>
    /// An external S3 endpoint (Ceph RGW, a real OBS) whose buckets import and export use instead of the service's own,
    /// with <see cref="AccessKey"/> and <see cref="SecretKey"/>.
    /// </summary>
    public string? Endpoint { get; set; }

    public string? AccessKey { get; set; }

    public string? SecretKey { get; set; }

    public bool UsesExternalEndpoint => !string.IsNullOrWhiteSpace(Endpoint);

    /// <summary>The largest single PUT (S3's limit, 5 GiB; bigger files go in multipart uploads).</summary>
    public long MaxPutBytes { get; set; } = 5L * 1024 * 1024 * 1024;

    /// <summary>
    /// The part size of exports written to an external S3 service: a file larger than one part goes in a multipart
    /// upload (S3's parts are 5 MiB to 5 GiB; an export's buffer is one part).
    /// </summary>
    public long ExportPartBytes { get; set; } = 16L * 1024 * 1024;

    public IReadOnlyList<Uri> Listeners() =>
        [.. (Urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(u => Uri.TryCreate(u.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal),
                UriKind.Absolute, out var uri) ? uri : null).OfType<Uri>()];

    public IEnumerable<string> Problems()
    {
        var urls = (Urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (Listeners().Count != urls.Length) yield return "Urls: each entry must be an absolute URL such as http://127.0.0.1:8091.";
        if (Listeners().Any(u => u.Port == 0)) yield return "Urls: the bucket API needs a fixed port (0 is not accepted).";
        if (MaxPutBytes <= 0) yield return "MaxPutBytes must be positive.";
        if (ExportPartBytes is < 5L * 1024 * 1024 or > 1024L * 1024 * 1024) yield return "ExportPartBytes must be between 5 MiB and 1 GiB.";
        if (UsesExternalEndpoint && !Uri.TryCreate(Endpoint, UriKind.Absolute, out _)) yield return "Endpoint must be an absolute URL.";
        if (UsesExternalEndpoint && (string.IsNullOrEmpty(AccessKey) || string.IsNullOrEmpty(SecretKey)))
            yield return "Endpoint needs AccessKey and SecretKey.";
    }
}
