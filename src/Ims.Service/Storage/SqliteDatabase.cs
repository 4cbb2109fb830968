using System.Collections.Concurrent;
using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Ims.Service.Storage;

public sealed class SqliteDatabase : Database, IDisposable
{
    /// <summary>Idle read sessions kept; more are made under load and closed again when they come back to a full pool.</summary>
    private const int MaxIdleSessions = 16;

    /// <summary>Distinct statements one session keeps prepared (the hot reads are a handful of texts).</summary>
    private const int MaxStatementsPerSession = 64;

    private readonly string _connectionString;
    private readonly SemaphoreSlim _writer = new(1, 1);
    private readonly ConcurrentBag<ReadSession> _sessions = [];
    private volatile bool _disposed;

    /// <summary>
    /// Native connections that already have their per-connection settings. The pool hands the same native connection
    /// out again and again, and the settings stay with it, so they are applied once instead of on every open (running
    /// them cost as much as the query of a job read). Weak keys: a connection the pool drops is forgotten with it.
    /// </summary>
    private readonly ConditionalWeakTable<sqlite3, object> _configured = [];

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
        Configure(connection);
        return connection;
    }

    /// <summary>
    /// Microsoft.Data.Sqlite compiles a command's SQL again for every new command, and commands die with their
    /// connection, so the hot reads run on sessions: connections that stay open with their commands prepared. An open
    /// connection outside a transaction holds no lock, so sessions do not hold back writers or WAL checkpoints.
    /// </summary>
    public override Task<T> ReadAsync<T>(string sql, IReadOnlyList<(string Name, object? Value)> args, Func<DbDataReader, T> read,
        CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var session = RentSession();
        try
        {
            var command = session.Prepared(sql);
            foreach (var (name, value) in args)
            {
                var parameter = command.Parameters.Contains(name) ? command.Parameters[name] : command.Parameters.Add(new SqliteParameter { ParameterName = name });
                parameter.Value = value ?? DBNull.Value;
            }
            T result;
            using (var reader = command.ExecuteReader())
                result = read(reader);
            ReturnSession(session);
            return Task.FromResult(result);
        }
        catch
        {
            // A session that failed half-way is not trusted again.
            session.Dispose();
            throw;
        }
    }

    private ReadSession RentSession()
    {
        if (_sessions.TryTake(out var session)) return session;
        ObjectDisposedException.ThrowIf(_disposed, this);
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        Configure(connection);
        return new ReadSession(connection);
    }

    private void ReturnSession(ReadSession session)
    {
        if (_disposed || _sessions.Count >= MaxIdleSessions) session.Dispose();
        else _sessions.Add(session);
    }

    /// <summary>Closes the idle read sessions; sessions in use close when they come back.</summary>
    public void Dispose()
    {
        _disposed = true;
        while (_sessions.TryTake(out var session)) session.Dispose();
    }

    private sealed class ReadSession(SqliteConnection connection) : IDisposable
    {
        private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

        public SqliteCommand Prepared(string sql)
        {
            if (_commands.TryGetValue(sql, out var command)) return command;
            if (_commands.Count >= MaxStatementsPerSession) DisposeCommands();
            command = connection.CreateCommand();
            command.CommandText = sql;
            _commands[sql] = command;
            return command;
        }

        private void DisposeCommands()
        {
            foreach (var command in _commands.Values) command.Dispose();
            _commands.Clear();
        }

        public void Dispose()
        {
            DisposeCommands();
            connection.Dispose();
        }
    }

    private void Configure(SqliteConnection connection)
    {
        var handle = connection.Handle!;
        if (_configured.TryGetValue(handle, out _)) return;
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;";
        pragma.ExecuteNonQuery();
        _configured.TryAdd(handle, handle);
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
            return new WriteScope(this, connection, transaction, release);
        }
        catch
        {
            release.Dispose();
            throw;
        }
    }

    public override bool IsUniqueViolation(Exception ex) =>
        ex is SqliteException { SqliteErrorCode: 19, SqliteExtendedErrorCode: 1555 or 2067 };

    // SQLITE_FULL: the database or its journal could not grow (the file system is full).
    public override bool IsStorageFull(Exception ex) => ex is SqliteException { SqliteErrorCode: 13 };

    private sealed class Releaser(SemaphoreSlim semaphore) : IDisposable
    {
        private int _released;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) semaphore.Release();
        }
    }
}
