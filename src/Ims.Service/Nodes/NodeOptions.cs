namespace Ims.Service.Nodes;

/// <summary>
/// The <c>Ims:Node</c> section: who this process is among the nodes sharing one database and one bucket, checked at
/// start-up (<see cref="Problems"/>).
/// </summary>
public sealed class NodeOptions
{
    public const string Section = "Ims:Node";

    /// <summary>The node's name, unique among the nodes of one database (default: the host name).</summary>
    public string Name { get; set; } = Environment.MachineName;

    /// <summary>
    /// The base URL other nodes reach this one at (for example <c>http://10.0.0.5:8080</c>), registered in the database:
    /// a request for a volume hosted here that reaches another node is forwarded to it. Unset, the first address the
    /// service listens on.
    /// </summary>
    public string? Url { get; set; }

    /// <summary>
    /// How long this node's registrations (its heartbeat, and the data plane's holds and collection turn) stay valid
    /// without a renewal; they are renewed every third of it. A node silent for longer counts as down, and its pins stop
    /// keeping chunks.
    /// </summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Whether the data plane's garbage collection coordinates through the database (holds, deletion epoch, collection
    /// turn shared by every node) instead of in the process. Default: on PostgreSQL, where several nodes can share the
    /// database; off on SQLite, whose file has one process.
    /// </summary>
    public bool? SharedCoordination { get; set; }

    /// <summary>What is wrong with these settings, each naming its key; empty when they are usable.</summary>
    public IEnumerable<string> Problems()
    {
        if (string.IsNullOrWhiteSpace(Name) || Name.Length > 64 || Name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            yield return $"{Section}:Name must be 1 to 64 letters, digits, '-', '_' or '.' (it is '{Name}').";
        if (Url is not null && (!Uri.TryCreate(Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
            yield return $"{Section}:Url must be an absolute http or https URL (it is '{Url}').";
        if (Lease < TimeSpan.FromSeconds(1)) yield return $"{Section}:Lease must be at least one second (it is {Lease}).";
    }
}
