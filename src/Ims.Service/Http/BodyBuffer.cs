using System.Buffers;
using System.Security.Cryptography;

namespace Ims.Service.Http;

/// <summary>
/// A request body held in pooled 64 KiB segments while it arrives, never more than the cap (<see cref="JsonBody.MaxBodyBytes"/>).
/// Memory is taken only as bytes come in and goes back to the pool when the request ends, so a body that is refused
/// (over the cap, a wrong AK/SK signature) costs no large array: under a flood of such requests every one of them
/// used to be a fresh array of up to 12 MB on the large object heap, and the service's memory grew by hundreds of MB.
/// A body that is used becomes one array of its exact length (<see cref="ToArray"/>).
/// </summary>
public sealed class BodyBuffer : IDisposable
{
    private const int SegmentBytes = 64 * 1024;

    // The shared pool keeps only a few dozen arrays of a size (per core), fewer than the 192 segments of one body at the
    // cap, so under a flood most segments were fresh arrays again. This pool keeps up to 512 (32 MiB, only once that
    // many were in use at once): enough for a few bodies at the cap in flight without allocating.
    private static readonly ArrayPool<byte> Segments = ArrayPool<byte>.Create(SegmentBytes, 512);

    private readonly List<byte[]> _segments = [];
    private long _length;

    public long Length => _length;

    /// <summary>
    /// Reads the whole body; throws the 413 <see cref="BadHttpRequestException"/> as soon as it passes
    /// <paramref name="maxBytes"/> (what was read goes back to the pool).
    /// </summary>
    public static async Task<BodyBuffer> ReadAsync(HttpContext http, long maxBytes, Func<BadHttpRequestException> tooLarge)
    {
        var buffer = new BodyBuffer();
        try
        {
            var body = http.Request.Body;
            while (true)
            {
                var segment = buffer.Tail();
                var used = (int)(buffer._length % SegmentBytes);
                var n = await body.ReadAsync(segment.AsMemory(used), http.RequestAborted);
                if (n == 0) break;
                buffer._length += n;
                if (buffer._length > maxBytes) throw tooLarge();
            }
            return buffer;
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
    }

    /// <summary>The segment the next bytes go to (a new one when the last is full).</summary>
    private byte[] Tail()
    {
        if (_length == (long)_segments.Count * SegmentBytes) _segments.Add(Segments.Rent(SegmentBytes));
        return _segments[^1];
    }

    /// <summary>The SHA-256 of the body, lowercase hex.</summary>
    public string Sha256Hex()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (segment, count) in Pieces()) hash.AppendData(segment, 0, count);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The body as one array of its exact length.</summary>
    public byte[] ToArray()
    {
        if (_length == 0) return [];
        var bytes = GC.AllocateUninitializedArray<byte>(checked((int)_length));
        var at = 0;
        foreach (var (segment, count) in Pieces())
        {
            segment.AsSpan(0, count).CopyTo(bytes.AsSpan(at));
            at += count;
        }
        return bytes;
    }

    private IEnumerable<(byte[] Segment, int Count)> Pieces()
    {
        for (var i = 0; i < _segments.Count; i++)
            yield return (_segments[i], (int)Math.Min(SegmentBytes, _length - (long)i * SegmentBytes));
    }

    public void Dispose()
    {
        foreach (var segment in _segments) Segments.Return(segment);
        _segments.Clear();
        _length = 0;
    }
}
