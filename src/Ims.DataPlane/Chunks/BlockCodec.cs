using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Ims.DataPlane.Chunks;

/// <summary>
/// The chunk encoding for disk content: the chunk is seen as 4 KiB blocks (the file-system block size), and blocks that
/// are all zero, or equal to an earlier block of the same chunk, are not stored. Disks are full of both: holes inside
/// chunks that also hold data, and copies of the same blocks (files copied, images repeated). Unlike a compressor, it
/// costs about a memory scan per chunk, so it is tried on every chunk; random data simply does not pay and is kept as is.
/// <para>
/// Payload: one little-endian <c>ushort</c> per block (<see cref="ZeroBlock"/>, <see cref="LiteralBlock"/>, or the index
/// of the earlier block it copies), then the literal blocks in order (the last block may be short).
/// </para>
/// </summary>
internal static class BlockCodec
{
    public const int BlockSize = 4096;
    private const ushort ZeroBlock = 0xFFFF;
    private const ushort LiteralBlock = 0xFFFE;

    [ThreadStatic]
    private static Dictionary<ulong, int>? blocksByKey;

    /// <summary>
    /// Encodes <paramref name="content"/> into <paramref name="payload"/> when that saves at least a sixteenth of the
    /// chunk; false (with <paramref name="payload"/> partly overwritten) otherwise.
    /// </summary>
    public static bool TryEncode(ReadOnlySpan<byte> content, Span<byte> payload, out int written)
    {
        written = 0;
        var blockCount = (content.Length + BlockSize - 1) / BlockSize;
        var mapLength = blockCount * sizeof(ushort);
        var budget = content.Length - content.Length / 16;
        if (mapLength >= budget || payload.Length < budget) return false;

        var byKey = blocksByKey ??= new Dictionary<ulong, int>(DataPlane.ChunkSize / BlockSize);
        byKey.Clear();
        var map = payload[..mapLength];
        var literalEnd = mapLength;
        for (var block = 0; block < blockCount; block++)
        {
            var bytes = Block(content, block);
            ushort code;
            if (bytes.IndexOfAnyExcept((byte)0) < 0) code = ZeroBlock;
            else if (bytes.Length == BlockSize && FindCopy(content, bytes, byKey, block) is var copyOf and >= 0) code = (ushort)copyOf;
            else
            {
                if (literalEnd + bytes.Length > budget) return false;
                bytes.CopyTo(payload[literalEnd..]);
                literalEnd += bytes.Length;
                code = LiteralBlock;
            }
            BinaryPrimitives.WriteUInt16LittleEndian(map[(block * sizeof(ushort))..], code);
        }
        written = literalEnd;
        return true;
    }

    /// <summary>Decodes a payload into exactly <paramref name="content"/>; false when the payload is not well formed.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> payload, Span<byte> content)
    {
        var blockCount = (content.Length + BlockSize - 1) / BlockSize;
        var mapLength = blockCount * sizeof(ushort);
        if (payload.Length < mapLength) return false;
        var literal = mapLength;
        for (var block = 0; block < blockCount; block++)
        {
            var target = Block(content, block);
            var code = BinaryPrimitives.ReadUInt16LittleEndian(payload[(block * sizeof(ushort))..]);
            switch (code)
            {
                case ZeroBlock:
                    target.Clear();
                    break;
                case LiteralBlock:
                    if (literal + target.Length > payload.Length) return false;
                    payload.Slice(literal, target.Length).CopyTo(target);
                    literal += target.Length;
                    break;
                default:
                    if (code >= block || target.Length != BlockSize) return false;
                    content.Slice(code * BlockSize, BlockSize).CopyTo(target);
                    break;
            }
        }
        return literal == payload.Length;
    }

    private static Span<byte> Block(Span<byte> content, int block) =>
        content.Slice(block * BlockSize, Math.Min(BlockSize, content.Length - block * BlockSize));

    private static ReadOnlySpan<byte> Block(ReadOnlySpan<byte> content, int block) =>
        content.Slice(block * BlockSize, Math.Min(BlockSize, content.Length - block * BlockSize));

    /// <summary>The earlier block equal to this one, or -1 (and this block is remembered for later ones).</summary>
    private static int FindCopy(ReadOnlySpan<byte> content, ReadOnlySpan<byte> bytes, Dictionary<ulong, int> byKey, int block)
    {
        // A cheap key from three spots of the block; a match is confirmed byte for byte, so a collision only costs a
        // missed copy, never a wrong one.
        var words = MemoryMarshal.Cast<byte, ulong>(bytes);
        var key = words[0] ^ (words[words.Length / 2] * 31) ^ (words[^1] * 131);
        ref var known = ref CollectionsMarshal.GetValueRefOrAddDefault(byKey, key, out var exists);
        if (!exists)
        {
            known = block;
            return -1;
        }
        return content.Slice(known * BlockSize, BlockSize).SequenceEqual(bytes) ? known : -1;
    }
}
