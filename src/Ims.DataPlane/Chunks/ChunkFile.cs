using System.Buffers.Binary;
using System.IO.Compression;

namespace Ims.DataPlane.Chunks;

/// <summary>How a chunk's payload is stored. The values are written to disk: never renumber them.</summary>
internal enum ChunkCodec : byte
{
    None = 0,
    Brotli = 1,
    /// <summary>A map of 4 KiB blocks (zero, literal, or a copy of an earlier block of the chunk) then the literal blocks.</summary>
    Blocks = 2,
}

/// <summary>
/// A chunk file: a 16-byte header (magic, format version, codec, stored and original lengths) then the payload. The
/// lengths let a reader tell a torn or truncated file from a whole one before it even hashes.
/// </summary>
internal static class ChunkFile
{
    public const int HeaderSize = 16;
    public const byte FormatVersion = 1;
    private static ReadOnlySpan<byte> Magic => "IMSC"u8;

    // Compression must pay: a probe of the first 64 KiB at the fastest level, then the whole chunk kept only when it
    // saves an eighth. Random data fails the probe and pays about 1% of a full compression.
    private const int ProbeLength = 64 * 1024;
    private const int FastestQuality = 1;
    private const int Window = 22;

    public readonly record struct Header(ChunkCodec Codec, int StoredLength, int OriginalLength);

    /// <summary>
    /// Encodes a chunk into <paramref name="output"/> (at least <see cref="HeaderSize"/> + content length). When the
    /// content is kept as is, only the header is written and <paramref name="payloadIsContent"/> is true.
    /// </summary>
    public static int Encode(ReadOnlySpan<byte> content, Span<byte> output, out bool payloadIsContent)
    {
        var payload = output[HeaderSize..];
        if (BlockCodec.TryEncode(content, payload, out var blocksLength))
        {
            WriteHeader(output, new Header(ChunkCodec.Blocks, blocksLength, content.Length));
            payloadIsContent = false;
            return HeaderSize + blocksLength;
        }
        if (TryCompress(content, payload, out var compressedLength))
        {
            WriteHeader(output, new Header(ChunkCodec.Brotli, compressedLength, content.Length));
            payloadIsContent = false;
            return HeaderSize + compressedLength;
        }
        WriteHeader(output, new Header(ChunkCodec.None, content.Length, content.Length));
        payloadIsContent = true;
        return HeaderSize;
    }

    private static bool TryCompress(ReadOnlySpan<byte> content, Span<byte> payload, out int written)
    {
        written = 0;
        if (content.Length > ProbeLength)
        {
            var probe = content[..ProbeLength];
            if (!BrotliEncoder.TryCompress(probe, payload[..(probe.Length * 3 / 4)], out _, FastestQuality, Window)) return false;
        }
        return BrotliEncoder.TryCompress(content, payload[..(content.Length * 7 / 8)], out written, FastestQuality, Window);
    }

    public static void WriteHeader(Span<byte> destination, Header header)
    {
        Magic.CopyTo(destination);
        destination[4] = FormatVersion;
        destination[5] = (byte)header.Codec;
        destination[6] = 0;
        destination[7] = 0;
        BinaryPrimitives.WriteInt32LittleEndian(destination[8..], header.StoredLength);
        BinaryPrimitives.WriteInt32LittleEndian(destination[12..], header.OriginalLength);
    }

    /// <summary>Parses a header; null with a reason when it is not one this build wrote.</summary>
    public static Header? ReadHeader(ReadOnlySpan<byte> source, long fileLength, out string problem)
    {
        problem = "";
        if (source.Length < HeaderSize || fileLength < HeaderSize)
        {
            problem = $"truncated: {fileLength} bytes, shorter than the header";
            return null;
        }
        if (!source[..4].SequenceEqual(Magic))
        {
            problem = "not a chunk file (bad magic)";
            return null;
        }
        if (source[4] != FormatVersion)
        {
            problem = $"unknown chunk format version {source[4]}";
            return null;
        }
        var codec = (ChunkCodec)source[5];
        if (codec is not (ChunkCodec.None or ChunkCodec.Brotli or ChunkCodec.Blocks))
        {
            problem = $"unknown codec {source[5]}";
            return null;
        }
        var stored = BinaryPrimitives.ReadInt32LittleEndian(source[8..]);
        var original = BinaryPrimitives.ReadInt32LittleEndian(source[12..]);
        if (original is < 1 or > DataPlane.ChunkSize || stored < 1 || stored > original
            || (codec == ChunkCodec.None && stored != original))
        {
            problem = $"impossible lengths in header (stored {stored}, original {original})";
            return null;
        }
        if (fileLength != HeaderSize + (long)stored)
        {
            problem = $"torn or truncated: {fileLength} bytes on disk, the header says {HeaderSize + (long)stored}";
            return null;
        }
        return new Header(codec, stored, original);
    }

    public static bool TryDecode(Header header, ReadOnlySpan<byte> payload, Span<byte> content)
    {
        if (header.Codec == ChunkCodec.None)
        {
            payload.CopyTo(content);
            return true;
        }
        if (header.Codec == ChunkCodec.Blocks) return BlockCodec.TryDecode(payload, content[..header.OriginalLength]);
        return BrotliDecoder.TryDecompress(payload, content[..header.OriginalLength], out var written) && written == header.OriginalLength;
    }
}
