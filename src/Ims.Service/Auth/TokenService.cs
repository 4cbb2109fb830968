using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using Ims.Service.Storage;

namespace Ims.Service.Auth;

/// <summary>
/// Issues and checks project-scoped tokens. A token is self-contained and signed with a key kept in the
/// database, so tokens stay valid across restarts without a token table.
/// </summary>
public sealed class TokenService
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(24);

    /// <summary>How long a checked token is taken on trust before its signature and caller are checked again.</summary>
    internal static readonly TimeSpan CacheFor = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Bounds the cache. Only tokens that passed the check get in (a forged one costs its sender a full check each
    /// time), and a client usually reuses one token for many requests, so a few thousand cover every active client.
    /// </summary>
    internal const int CacheCapacity = 4096;

    private readonly Accounts _accounts;
    private readonly TimeProvider _time;
    private readonly byte[] _key;

    /// <summary>
    /// Checked tokens by their text. Every request carries a token, and checking one (HMAC, Base64, JSON) cost about as
    /// much as a whole job read; a hit costs one lookup. The token's own expiry is still checked on every hit. Lookups
    /// go through .NET's per-process randomised string hashing, so their timing tells nothing about the cached tokens.
    /// </summary>
    private readonly ConcurrentDictionary<string, Checked> _checked = new(StringComparer.Ordinal);

    private sealed record Checked(Caller Caller, long IssuedAtMs, long ExpiresAtMs, long TrustedUntilMs);

    public TokenService(Accounts accounts, TimeProvider time, Database db)
    {
        _accounts = accounts;
        _time = time;
        _key = LoadOrCreateKey(db);
    }

    public sealed record Issued(string Token, long IssuedAtMs, long ExpiresAtMs);

    private sealed record Payload(string U, string P, long I, long E, string N);

    public Issued Issue(User user, Project project)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var payload = new Payload(user.Id, project.Id, now, now + (long)Lifetime.TotalMilliseconds, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)));
        var body = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(payload));
        return new Issued($"MII{body}.{Sign(body)}", payload.I, payload.E);
    }

    /// <summary>Returns the caller a token stands for, or null when it is forged, expired or names a removed user.</summary>
    public (Caller Caller, long IssuedAtMs, long ExpiresAtMs)? Validate(string token)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (_checked.TryGetValue(token, out var hit))
        {
            if (now < hit.TrustedUntilMs && now < hit.ExpiresAtMs) return (hit.Caller, hit.IssuedAtMs, hit.ExpiresAtMs);
            _checked.TryRemove(KeyValuePair.Create(token, hit));
        }
        var validated = Check(token, now);
        if (validated is { } v)
        {
            // Emptying a full cache is crude but bounded and rare: the tokens in use come back on their next request.
            if (_checked.Count >= CacheCapacity) _checked.Clear();
            _checked[token] = new Checked(v.Caller, v.IssuedAtMs, v.ExpiresAtMs, now + (long)CacheFor.TotalMilliseconds);
        }
        return validated;
    }

    private (Caller Caller, long IssuedAtMs, long ExpiresAtMs)? Check(string token, long now)
    {
        if (!token.StartsWith("MII", StringComparison.Ordinal)) return null;
        var dot = token.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0) return null;
        var body = token[3..dot];
        if (!SdkSignature.FixedTimeEquals(Sign(body), token[(dot + 1)..])) return null;
        Payload? payload;
        try
        {
            payload = JsonSerializer.Deserialize<Payload>(Base64Url.DecodeFromChars(body));
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            return null;
        }
        if (payload is null || payload.E <= now) return null;
        var user = _accounts.UserById(payload.U);
        var project = _accounts.ProjectById(payload.P);
        if (user is null || project is null || project.Domain != user.Domain) return null;
        return (new Caller(user, project, AuthMethod.Token), payload.I, payload.E);
    }

    private string Sign(string body) => Base64Url.EncodeToString(HMACSHA256.HashData(_key, Encoding.ASCII.GetBytes(body)));

    private static byte[] LoadOrCreateKey(Database db)
    {
        using var connection = db.OpenAsync(CancellationToken.None).GetAwaiter().GetResult();
        var existing = connection.ExecuteScalar<string?>("SELECT value FROM settings WHERE key = 'token_key'");
        if (existing is not null) return Convert.FromHexString(existing);
        var key = RandomNumberGenerator.GetBytes(32);
        // A concurrent first start may have won the insert; whichever key is stored is the one used.
        connection.Execute("INSERT INTO settings (key, value) VALUES ('token_key', @v) ON CONFLICT (key) DO NOTHING",
            new { v = Convert.ToHexStringLower(key) });
        return Convert.FromHexString(connection.ExecuteScalar<string>("SELECT value FROM settings WHERE key = 'token_key'")!);
    }
}
