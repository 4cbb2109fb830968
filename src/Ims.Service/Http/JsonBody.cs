using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http.Features;

namespace Ims.Service.Http;

/// <summary>
/// Reads request bodies. Binding is explicit (never Minimal API's automatic binding) so that a malformed or
/// wrongly-typed body gets the owning service's 400, not a framework default.
/// </summary>
public static class JsonBody
{
    private const string RawBodyKey = "ims.raw-body";
    private const string PendingBodyKey = "ims.pending-body";

    /// <summary>Requests may carry up to 12 MB, the API gateway's limit for signed requests.</summary>
    public const long MaxBodyBytes = 12 * 1024 * 1024;

    public static readonly JsonSerializerOptions Options = new()
    {
        NumberHandling = JsonNumberHandling.Strict,
        PropertyNameCaseInsensitive = false,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
        AllowTrailingCommas = false,
        ReadCommentHandling = JsonCommentHandling.Disallow,
        RespectNullableAnnotations = false,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>
    /// The raw body, read once (the AK/SK check hashes the same bytes the handler parses). The 12 MB cap is enforced here,
    /// not by Kestrel's limit: a body over Kestrel's limit poisons the connection, which is then reset under a client still
    /// sending (a broken pipe instead of the answer). Ours throws a 413 that <see cref="ErrorMiddleware"/> answers, and
    /// the server reads and discards the rest of the body, as it does for any body a handler did not read.
    /// </summary>
    public static async Task<ReadOnlyMemory<byte>> RawAsync(HttpContext http)
    {
        if (http.Items.TryGetValue(RawBodyKey, out var cached) && cached is ReadOnlyMemory<byte> bytes) return bytes;
        return Materialize(http, await BufferAsync(http));
    }

    /// <summary>
    /// The body in pooled segments (see <see cref="BodyBuffer"/>), read once and given back when the request ends: what
    /// the AK/SK check hashes before anything is allocated for a body that may be refused.
    /// </summary>
    public static async Task<BodyBuffer> BufferAsync(HttpContext http)
    {
        if (http.Items.TryGetValue(PendingBodyKey, out var pending) && pending is BodyBuffer buffered) return buffered;
        if (http.Request.ContentLength > MaxBodyBytes) throw TooLarge();
        var feature = http.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (feature is { IsReadOnly: false }) feature.MaxRequestBodySize = null;
        var buffer = await BodyBuffer.ReadAsync(http, MaxBodyBytes, TooLarge);
        http.Response.RegisterForDispose(buffer);
        http.Items[PendingBodyKey] = buffer;
        return buffer;
    }

    /// <summary>Turns the pooled body into one array of its length, cached for every later reader; the segments go back.</summary>
    private static ReadOnlyMemory<byte> Materialize(HttpContext http, BodyBuffer buffer)
    {
        ReadOnlyMemory<byte> read = buffer.ToArray();
        buffer.Dispose();
        http.Items.Remove(PendingBodyKey);
        http.Items[RawBodyKey] = read;
        return read;
    }

    private static BadHttpRequestException TooLarge() =>
        new($"The request body is larger than {MaxBodyBytes} bytes.", StatusCodes.Status413PayloadTooLarge);

    /// <summary>
    /// The body when something (the AK/SK check) has already read it whole; a handler that streams the body uses these
    /// bytes instead, since the request stream is then spent.
    /// </summary>
    public static bool TryGetBuffered(HttpContext http, out ReadOnlyMemory<byte> body)
    {
        if (http.Items.TryGetValue(RawBodyKey, out var cached) && cached is ReadOnlyMemory<byte> bytes)
        {
            body = bytes;
            return true;
        }
        if (http.Items.TryGetValue(PendingBodyKey, out var pending) && pending is BodyBuffer buffered)
        {
            body = Materialize(http, buffered);
            return true;
        }
        body = default;
        return false;
    }

    /// <summary>
    /// Parses the body as <typeparamref name="T"/>. An empty body is an error unless <paramref name="allowEmpty"/>,
    /// in which case the result is <c>default</c> with no error.
    /// </summary>
    public static async Task<(T? Value, ApiError? Error)> ReadAsync<T>(HttpContext http, ServiceKind service, bool allowEmpty = false)
        where T : class
    {
        var raw = await RawAsync(http);
        if (IsBlank(raw.Span))
        {
            if (allowEmpty) return (null, null);
            return (null, service == ServiceKind.Ims
                ? ApiError.Ims("IMG.0007", "The request body is empty.")
                : ApiError.BadBody(service, "The request body is empty."));
        }
        if (!IsWellFormedText(raw.Span)) return (null, ApiError.BadBody(service, MalformedText));
        try
        {
            var value = JsonSerializer.Deserialize<T>(raw.Span, Options);
            if (value is null) return (null, ApiError.BadBody(service, "The request body must be a JSON object."));
            return (value, null);
        }
        catch (JsonException ex)
        {
            var where = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "" : $" at {ex.Path}";
            return (null, ApiError.BadBody(service, $"The request message format is invalid{where}."));
        }
    }

    /// <summary>What a body that is not well-formed text is told.</summary>
    public const string MalformedText = "The request body is not well-formed UTF-8 text: it has an invalid byte sequence or an unpaired surrogate escape.";

    /// <summary>
    /// Whether a JSON body is text that every later step can read: valid UTF-8, and no string or name whose escapes
    /// decode to an unpaired surrogate (<c>"\ud800"</c>). The parsers accept both and throw only when a string is
    /// read, so a body is checked once here, before any of its strings reaches a handler. Syntax errors are left to
    /// the parser that reports them.
    /// </summary>
    public static bool IsWellFormedText(ReadOnlySpan<byte> json)
    {
        if (!Utf8.IsValid(json)) return false;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueIsEscaped)
                    _ = reader.GetString();
            }
        }
        catch (JsonException)
        {
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
        return true;
    }

    private static bool IsBlank(ReadOnlySpan<byte> span)
    {
        foreach (var b in span)
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')) return false;
        return true;
    }
}
