using System.Security.Cryptography;

namespace Ims.DataPlane.Chunks;

/// <summary>Chunk names: the SHA-256 of the uncompressed content, as 64 lowercase hex digits.</summary>
internal static class ChunkDigest
{
    public const int HexLength = SHA256.HashSizeInBytes * 2;

    public static bool TryHashChunk(ReadOnlySpan<byte> chunk, Span<byte> digest, out int written)
    {
        if (digest.Length < SHA256.HashSizeInBytes)
        {
            written = 0;
            return false;
        }
        written = SHA256.HashData(chunk, digest);
        return true;
    }

    public static string Name(ReadOnlySpan<byte> chunk)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(chunk, digest);
        return Convert.ToHexStringLower(digest);
    }

    public static bool Matches(ReadOnlySpan<byte> chunk, string name)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(chunk, digest);
        Span<byte> expected = stackalloc byte[SHA256.HashSizeInBytes];
        return Convert.FromHexString(name, expected, out _, out var written) == System.Buffers.OperationStatus.Done
            && written == expected.Length
            && CryptographicOperations.FixedTimeEquals(digest, expected);
    }

    public static bool IsName(ReadOnlySpan<char> text)
    {
        if (text.Length != HexLength) return false;
        foreach (var c in text)
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c)) return false;
        return true;
    }
}
