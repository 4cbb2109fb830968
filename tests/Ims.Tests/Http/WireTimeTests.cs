using System.Globalization;
using Ims.Service.Http;

namespace Ims.Tests.Http;

/// <summary>The wire dates are written by slicing the round-trip format; they must read exactly as the patterns say.</summary>
public sealed class WireTimeTests
{
    [Theory]
    [InlineData(0L)]
    [InlineData(1L)]
    [InlineData(999L)]
    [InlineData(1_580_899_114_209L)]
    [InlineData(1_795_441_565_448L)]
    [InlineData(253_402_300_799_999L)] // the last millisecond .NET can represent
    public void Formats_match_their_patterns(long ms)
    {
        var utc = DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime;
        string Pattern(string pattern) => utc.ToString(pattern, CultureInfo.InvariantCulture);

        Assert.Equal(Pattern("yyyy-MM-dd'T'HH:mm:ss'Z'"), WireTime.Seconds(ms));
        Assert.Equal(Pattern("yyyy-MM-dd'T'HH:mm:ss.fff'Z'"), WireTime.Millis(ms));
        Assert.Equal(Pattern("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'"), WireTime.Micros(ms));
        Assert.Equal(Pattern("yyyy-MM-dd'T'HH:mm:ss.ffffff"), WireTime.MicrosNoZone(ms));
    }
}
