using Dapper;

namespace Ims.Service.Storage;

/// <summary>
/// Applies the embedded, numbered SQL scripts (<c>NNNN_name.sql</c>) that are newer than the schema version
/// recorded in the database, in one transaction, at start-up. A script written for both databases is plain
/// <c>NNNN_name.sql</c>; where a dialect needs its own text, <c>NNNN_name.postgres.sql</c> (or <c>.sqlite.sql</c>) stands
/// in for the shared script of the same number on that dialect.
/// </summary>
public static class Migrator
{
    public static async Task MigrateAsync(Database db, CancellationToken ct)
    {
        var scripts = LoadScripts(db.Dialect);
        await using var scope = await db.BeginWriteAsync(ct);
        await scope.Connection.ExecuteAsync(
            "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)",
            transaction: scope.Transaction);
        var current = await scope.Connection.ExecuteScalarAsync<long?>(
            "SELECT MAX(version) FROM schema_version", transaction: scope.Transaction) ?? 0;
        var newest = scripts.Count == 0 ? 0 : scripts[^1].Version;
        if (current > newest)
            throw new InvalidOperationException(
                $"The database schema is version {current}, newer than this build knows ({newest}). Refusing to start.");
        foreach (var (version, sql) in scripts.Where(s => s.Version > current))
        {
            await scope.Connection.ExecuteAsync(sql, transaction: scope.Transaction);
            await scope.Connection.ExecuteAsync(
                "INSERT INTO schema_version (version, applied_at) VALUES (@version, @now)",
                new { version, now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() }, scope.Transaction);
        }
        await scope.CommitAsync(ct);
    }

    internal static List<(int Version, string Sql)> LoadScripts(string dialect)
    {
        var assembly = typeof(Migrator).Assembly;
        var prefix = $"{assembly.GetName().Name}.Storage.Migrations.";
        var shared = new Dictionary<int, string>();
        var own = new Dictionary<int, string>();
        foreach (var name in assembly.GetManifestResourceNames())
        {
            if (!name.StartsWith(prefix, StringComparison.Ordinal) || !name.EndsWith(".sql", StringComparison.Ordinal)) continue;
            var file = name[prefix.Length..];
            // Shared scripts are NNNN_x.sql; NNNN_x.<dialect>.sql replaces NNNN_x.sql on that dialect only.
            var parts = file.Split('.');
            if (parts.Length == 3 && parts[1] != dialect) continue;
            var version = int.Parse(file.AsSpan(0, 4), System.Globalization.CultureInfo.InvariantCulture);
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            var target = parts.Length == 3 ? own : shared;
            if (!target.TryAdd(version, reader.ReadToEnd()))
                throw new InvalidOperationException($"Two migration scripts share the number {version:D4}.");
        }
        foreach (var (version, sql) in own) shared[version] = sql;
        return shared.OrderBy(s => s.Key).Select(s => (s.Key, s.Value)).ToList();
    }
}
