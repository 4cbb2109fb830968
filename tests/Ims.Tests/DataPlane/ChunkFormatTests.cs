using System.Text;
using Ims.DataPlane.Chunks;
using Plane = Ims.DataPlane.DataPlane;

namespace Ims.Tests.DataPlane;

public class ChunkFormatTests
{
    [Theory]
    [InlineData("", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")]
    [InlineData("abc", "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD")]
    public void Chunk_digest_matches_known_answer(string input, string hex)
    {
        var bytes = Encoding.ASCII.GetBytes(input);
        Assert.Equal(hex.ToLowerInvariant(), ChunkDigest.Name(bytes));

        Span<byte> digest = stackalloc byte[40];
        Assert.True(ChunkDigest.TryHashChunk(bytes, digest, out var written));
        Assert.Equal(32, written);
        Assert.Equal(hex, Convert.ToHexString(digest[..written]));
        Assert.False(ChunkDigest.TryHashChunk(bytes, stackalloc byte[31], out written));
        Assert.Equal(0, written);
    }

    [Fact]
    public void Codec_values_written_to_disk_never_change()
    {
        Assert.Equal(0, (byte)ChunkCodec.None);
        Assert.Equal(1, (byte)ChunkCodec.Brotli);
        Assert.Equal(2, (byte)ChunkCodec.Blocks);
        Assert.Equal(3, Enum.GetValues<ChunkCodec>().Length);
    }

    [Fact]
    public void Random_data_is_stored_as_is_and_repetitive_data_compressed()
    {
        var scratch = new byte[Plane.ChunkSize + 64];
        ChunkFile.Encode(Patterns.Random(Plane.ChunkSize, 1), scratch, out var randomAsIs);
        Assert.True(randomAsIs);

        var repeated = Patterns.Repeated(Plane.ChunkSize, 2);
        var length = ChunkFile.Encode(repeated, scratch, out var repeatedAsIs);
        Assert.False(repeatedAsIs);
        Assert.True(length < repeated.Length / 8);
        var header = ChunkFile.ReadHeader(scratch, length, out var problem);
        Assert.True(header.HasValue, problem);
        var decoded = new byte[repeated.Length];
        Assert.True(ChunkFile.TryDecode(header.Value, scratch.AsSpan(ChunkFile.HeaderSize, length - ChunkFile.HeaderSize), decoded));
        Assert.Equal(repeated, decoded);
    }

    [Fact]
    public void Zero_and_repeated_blocks_inside_a_chunk_are_not_stored_and_decode_exactly()
    {
        // Half random, then a hole, then copies of an earlier 64 KiB run, and a short last block: a disk chunk's mix.
        var content = new byte[Plane.ChunkSize - 3000];
        Patterns.Random(Plane.ChunkSize / 2, 7).CopyTo(content, 0);
        var copied = content.AsSpan(0, 64 * 1024).ToArray();
        for (var offset = Plane.ChunkSize * 3 / 4; offset + copied.Length <= content.Length; offset += copied.Length)
            copied.CopyTo(content, offset);
        content[^1] = 9;

        var scratch = new byte[Plane.ChunkSize + 64];
        var length = ChunkFile.Encode(content, scratch, out var asIs);
        Assert.False(asIs);
        var header = ChunkFile.ReadHeader(scratch, length, out var problem);
        Assert.True(header.HasValue, problem);
        Assert.Equal(ChunkCodec.Blocks, header.Value.Codec);
        Assert.True(length < Plane.ChunkSize / 2 + 64 * 1024 + 8 * 1024, $"stored {length} bytes");

        var decoded = new byte[content.Length];
        Assert.True(ChunkFile.TryDecode(header.Value, scratch.AsSpan(ChunkFile.HeaderSize, length - ChunkFile.HeaderSize), decoded));
        Assert.Equal(content, decoded);
    }

    [Fact]
    public void A_malformed_block_map_does_not_decode()
    {
        var content = new byte[3 * BlockCodec.BlockSize];
        content[0] = 1;
        var payload = new byte[content.Length];
        Assert.True(BlockCodec.TryEncode(content, payload, out var written));
        var decoded = new byte[content.Length];
        Assert.True(BlockCodec.TryDecode(payload.AsSpan(0, written), decoded));
        Assert.Equal(content, decoded);

        Assert.False(BlockCodec.TryDecode(payload.AsSpan(0, written - 1), decoded)); // literal cut short
        var forward = payload.AsSpan(0, written).ToArray();
        forward[2] = 2; // block 1 claims to copy block 2, which comes after it
        forward[3] = 0;
        Assert.False(BlockCodec.TryDecode(forward, decoded));
    }
}
