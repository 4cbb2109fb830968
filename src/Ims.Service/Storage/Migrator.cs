using Dapper;

namespace Ims.Service.Storage;

/// <summary>
/// Applies the embedded, numbered SQL scripts (<c>NNNN_name.sql</c>) that are newer than the schema version
/// recorded in the database, each in its own transaction, at start-up.
/// </summary>
public static class Migrator
{
    public static async Task MigrateAsync(Database db, CancellationToken ct)
    {
        var scripts = LoadScripts(db.Dialect);
        await using var scope = await db.BeginWriteAsync(ct);
        await scope.Connection.ExecuteAsync(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL)",
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

    private static List<(int Version, string Sql)> LoadScripts(string dialect)
    {
        var assembly = typeof(Migrator).Assembly;
        var prefix = $"{assembly.GetName().Name}.Storage.Migrations.";
        var list = new List<(int, string)>();
        foreach (var name in assembly.GetManifestResourceNames())
        {
            if (!name.StartsWith(prefix, StringComparison.Ordinal) || !name.EndsWith(".sql", StringComparison.Ordinal)) continue;
            var file = name[prefix.Length..];
            // Scripts shared by every dialect are plain NNNN_x.sql; dialect-only ones are NNNN_x.<dialect>.sql.
            var parts = file.Split('.');
            if (parts.Length == 3 && parts[1] != dialect) continue;
            var version = int.Parse(file.AsSpan(0, 4), System.Globalization.CultureInfo.InvariantCulture);
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            list.Add((version, reader.ReadToEnd()));
        }
        list.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return list;
    }
}
