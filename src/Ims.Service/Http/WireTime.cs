using System.Globalization;

namespace Ims.Service.Http;

/// <summary>The date formats each wire contract demands. Stored times are Unix epoch milliseconds.</summary>
public static class WireTime
{
    public static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    /// <summary>Image timestamps: second precision with a literal Z (terraform regex-checks them).</summary>
    public static string Seconds(long ms) => FromMs(ms).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>Job timestamps: milliseconds with a literal Z.</summary>
    public static string Millis(long ms) => FromMs(ms).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>Microseconds with a literal Z (Keystone token expiry).</summary>
    public static string Micros(long ms) => FromMs(ms).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>
    /// CSBS and CBR: microseconds and no zone at all, as both API references show them ("2020-02-05T10:38:34.209782").
    /// A trailing Z breaks the CSBS Go clients, and clients of CBR parse vault dates with a zone-less pattern.
    /// </summary>
    public static string MicrosNoZone(long ms) => FromMs(ms).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff", CultureInfo.InvariantCulture);
}
