using System.Globalization;

namespace Ims.Service.Http;

/// <summary>
/// The date formats each wire contract demands. Stored times are Unix epoch milliseconds. Every format is a prefix of
/// the round-trip format ("O": yyyy-MM-ddTHH:mm:ss.fffffffZ for UTC), which .NET writes without parsing a pattern; lists
/// and job polls write several dates per response.
/// </summary>
public static class WireTime
{
    public static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    /// <summary>Image timestamps: second precision with a literal Z (terraform regex-checks them).</summary>
    public static string Seconds(long ms) => Format(ms, 19, zone: true);

    /// <summary>Job timestamps: milliseconds with a literal Z.</summary>
    public static string Millis(long ms) => Format(ms, 23, zone: true);

    /// <summary>Microseconds with a literal Z (Keystone token expiry).</summary>
    public static string Micros(long ms) => Format(ms, 26, zone: true);

    /// <summary>
    /// CSBS and CBR: microseconds and no zone at all, as both API references show them ("2020-02-05T10:38:34.209782").
    /// A trailing Z breaks the CSBS Go clients, and clients of CBR parse vault dates with a zone-less pattern.
    /// </summary>
    public static string MicrosNoZone(long ms) => Format(ms, 26, zone: false);

    /// <summary>The first <paramref name="length"/> characters of the round-trip format, then Z if asked.</summary>
    private static string Format(long ms, int length, bool zone)
    {
        Span<char> text = stackalloc char[32];
        FromMs(ms).UtcDateTime.TryFormat(text, out _, "O", CultureInfo.InvariantCulture);
        if (zone) text[length++] = 'Z';
        return new string(text[..length]);
    }
}
