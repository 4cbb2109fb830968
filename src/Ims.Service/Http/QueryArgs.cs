using System.Globalization;

namespace Ims.Service.Http;

/// <summary>Explicit query-string parsing, so a bad value gets the owning service's 400.</summary>
public static class QueryArgs
{
    public static string? String(HttpContext http, string name)
    {
        var values = http.Request.Query[name];
        return values.Count == 0 ? null : values[0];
    }

    /// <summary>Parses an optional non-negative integer; a malformed value is an error.</summary>
    public static bool TryInt(HttpContext http, string name, ServiceKind service, out int? value, out ApiError? error,
        int min = 0, int max = int.MaxValue)
    {
        value = null;
        error = null;
        var raw = String(http, name);
        if (raw is null or "") return true;
        if (int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) && parsed >= min && parsed <= max)
        {
            value = parsed;
            return true;
        }
        error = ApiError.BadBody(service, $"Invalid value '{raw}' for query parameter {name}.");
        return false;
    }
}
