using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace Ims.Service.Storage;

public sealed class SqliteDatabase : Database
{
    private readonly string _connectionString;
    private readonly SemaphoreSlim _writer = new(1, 1);

    public SqliteDatabase(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var pragma = connection.CreateCommand();
        // WAL lets readers run while one writer commits; NORMAL sync is durable across process crashes in WAL mode.
        pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
        pragma.ExecuteNonQuery();
    }

    public override string Dialect => "sqlite";

    public override async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(ct);
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;";
        await pragma.ExecuteNonQueryAsync(ct);
        return connection;
    }

    public override async Task<WriteScope> BeginWriteAsync(CancellationToken ct)
    {
        await _writer.WaitAsync(ct);
        var release = new Releaser(_writer);
        try
        {
            var connection = await OpenAsync(ct);
            // Microsoft.Data.Sqlite begins IMMEDIATE transactions unless asked for deferred ones.
            var transaction = await connection.BeginTransactionAsync(ct);
            return new WriteScope(connection, transaction, release);
        }
        catch
        {
            release.Dispose();
            throw;
        }
    }

    public override bool IsUniqueViolation(Exception ex) =>
        ex is SqliteException { SqliteErrorCode: 19, SqliteExtendedErrorCode: 1555 or 2067 };

    private sealed class Releaser(SemaphoreSlim semaphore) : IDisposable
    {
        private int _released;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) semaphore.Release();
        }
    }
}
