namespace Ims.Service.Http;

public static class Ids
{
    /// <summary>A lowercase UUID with dashes: servers, volumes, images, vaults, backups.</summary>
    public static string NewUuid() => Guid.NewGuid().ToString("D");

    /// <summary>32 lowercase hex digits: job ids, request ids, project ids.</summary>
    public static string NewHex32() => Guid.NewGuid().ToString("N");

    public static bool IsUuid(string? value) =>
        value is { Length: 36 } && Guid.TryParseExact(value, "D", out _) && value.ToLowerInvariant() == value;
}
