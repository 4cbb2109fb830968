using System.Collections.Concurrent;
using Ims.Service.Storage;
using Npgsql;

namespace Ims.Tests.Infrastructure;

/// <summary>
/// Which database the test hosts use. Without <c>IMS_TEST_POSTGRES</c> every host keeps its SQLite file in its data
/// folder. With it (a connection string to a PostgreSQL server whose user may create databases, such as the cluster
/// scripts/postgres.sh starts), every data folder gets a fresh database of its own, so a host restarted on the same
/// folder finds its data again. A host started on a fresh folder drops its database when it is disposed; databases of
/// folders a test named itself (to restart a host on them) are dropped when the test process ends, or with the
/// throwaway cluster.
/// </summary>
public static class TestDatabases
{
    public const string Variable = "IMS_TEST_POSTGRES";

    private static readonly string? Server = Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value ? value : null;
    private static readonly ConcurrentDictionary<string, string> Created = new(StringComparer.Ordinal);

    static TestDatabases()
    {
        if (Server is not null) AppDomain.CurrentDomain.ProcessExit += (_, _) => DropAll();
    }

    public static bool OnPostgres => Server is not null;

    /// <summary>The service's settings for the data folder's database: none on SQLite.</summary>
    public static string[] Arguments(string dataDir) =>
        Server is null ? [] : [$"--Ims:Postgres={ConnectionString(dataDir)}"];

    /// <summary>
    /// The database a host started on <paramref name="dataDir"/> uses, opened directly: for a test that prepares what the
    /// host will find (an older schema, say).
    /// </summary>
    public static Database Open(string dataDir) =>
        Server is null ? new SqliteDatabase(Path.Combine(dataDir, "ims.db")) : new PostgresDatabase(ConnectionString(dataDir));

    /// <summary>The connection string of the data folder's own database, created on first use.</summary>
    public static string ConnectionString(string dataDir)
    {
        if (Server is null) throw new InvalidOperationException($"{Variable} is not set.");
        var name = Created.GetOrAdd(Path.GetFullPath(dataDir), Create);
        return new NpgsqlConnectionStringBuilder(Server) { Database = name }.ConnectionString;
    }

    private static string Create(string dataDir)
    {
        var name = "ims_test_" + Guid.NewGuid().ToString("N");
        using var connection = Admin();
        using var command = connection.CreateCommand();
        // C collation: text sorts byte by byte, as in SQLite.
        command.CommandText = $"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'";
        command.ExecuteNonQuery();
        return name;
    }

    private static NpgsqlConnection Admin()
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Server) { Database = "postgres", Pooling = false }.ConnectionString);
        connection.Open();
        return connection;
    }

    /// <summary>Drops the data folder's database, if it has one.</summary>
    public static void Drop(string dataDir)
    {
        if (Server is null || !Created.TryRemove(Path.GetFullPath(dataDir), out var name)) return;
        using var connection = Admin();
        Drop(connection, name);
    }

    private static void Drop(NpgsqlConnection connection, string name)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"DROP DATABASE IF EXISTS {name} WITH (FORCE)";
        command.ExecuteNonQuery();
    }

    private static void DropAll()
    {
        try
        {
            using var connection = Admin();
            foreach (var name in Created.Values) Drop(connection, name);
        }
        catch (NpgsqlException)
        {
            // The server may already be gone (the throwaway cluster is removed whole); nothing is left to drop then.
        }
    }
}
