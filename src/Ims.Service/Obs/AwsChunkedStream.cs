using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Ims.Service.Obs;

/// <summary>Thrown when an <c>aws-chunked</c> body is malformed or a chunk's signature does not match.</summary>
public sealed class ChunkedBodyException(S3Error error) : Exception(error.Message)
{
    public S3Error Error { get; } = error;
}

/// <summary>
/// Reads the payload out of an <c>aws-chunked</c> body (<c>size;chunk-signature=sig\r\n data \r\n</c> ... <c>0;...</c>,
/// then optional trailers), the encoding SigV4 clients use to stream an upload. With <paramref name="chunkSignature"/>
/// each chunk's signature is checked against the chain seeded by the request's signature before the chunk's end is
/// passed on, so a body whose chunks were altered fails before it is stored.
/// </summary>
public sealed class AwsChunkedStream(Stream inner, Func<string, string, string>? chunkSignature, string seedSignature) : Stream
{
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;
    private long _chunkLeft;
    private bool _done;
    private string _previousSignature = seedSignature;
    private string? _expectedSignature;
    private IncrementalHash? _chunkHash;
    private bool _lastChunk;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        while (!_done && _chunkLeft == 0)
        {
            await StartChunkAsync(cancellationToken);
        }
        if (_done || destination.Length == 0) return 0;
        if (_start == _end && !await FillAsync(cancellationToken)) throw Malformed();
        var n = (int)Math.Min(Math.Min(destination.Length, _end - _start), _chunkLeft);
        _buffer.AsMemory(_start, n).CopyTo(destination);
        _chunkHash?.AppendData(_buffer, _start, n);
        _start += n;
        _chunkLeft -= n;
        if (_chunkLeft == 0) await EndChunkAsync(cancellationToken);
        return n;
    }

    private async Task StartChunkAsync(CancellationToken ct)
    {
        var line = await ReadLineAsync(ct) ?? throw Malformed();
        var semicolon = line.IndexOf(';', StringComparison.Ordinal);
        var sizeText = semicolon < 0 ? line : line[..semicolon];
        if (!long.TryParse(sizeText, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var size) || size < 0) throw Malformed();
        _expectedSignature = null;
        if (semicolon >= 0 && line[(semicolon + 1)..].StartsWith("chunk-signature=", StringComparison.Ordinal))
            _expectedSignature = line[(semicolon + 1 + "chunk-signature=".Length)..];
        if (chunkSignature is not null && _expectedSignature is null) throw Malformed();
        _chunkHash = chunkSignature is null ? null : IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        _chunkLeft = size;
        if (size > 0) return;
        _lastChunk = true;
        await EndChunkAsync(ct);
        // The last chunk: trailers (checksums the client computed) up to an empty line, or the end of the body.
        while (await ReadLineAsync(ct) is { Length: > 0 })
        {
        }
        _done = true;
    }

    private async Task EndChunkAsync(CancellationToken ct)
    {
        if (chunkSignature is not null && _chunkHash is not null)
        {
            var expected = chunkSignature(_previousSignature, Convert.ToHexStringLower(_chunkHash.GetHashAndReset()));
            if (!S3Signature.FixedTimeEquals(expected, _expectedSignature ?? ""))
                throw new ChunkedBodyException(S3Errors.SignatureDoesNotMatch());
            _previousSignature = expected;
        }
        if (_lastChunk) return;
        // A data chunk ends with CRLF.
        if (await ReadLineAsync(ct) is not { Length: 0 }) throw Malformed();
    }

    private async Task<string?> ReadLineAsync(CancellationToken ct)
    {
        var line = new StringBuilder();
        while (true)
        {
            if (_start == _end && !await FillAsync(ct)) return line.Length == 0 ? null : line.ToString();
            var b = _buffer[_start++];
            if (b == '\n') return line.ToString().TrimEnd('\r');
            if (line.Length > 4096) throw Malformed();
            line.Append((char)b);
        }
    }

    private async Task<bool> FillAsync(CancellationToken ct)
    {
        _start = 0;
        _end = await inner.ReadAsync(_buffer, ct);
        return _end > 0;
    }

    private static ChunkedBodyException Malformed() =>
        new(new S3Error(400, "IncompleteBody", "The request body is not a well-formed aws-chunked body."));
}
