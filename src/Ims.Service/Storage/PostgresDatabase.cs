using System.Data;
using System.Data.Common;
using System.Diagnostics.CodeAnalysis;
using Dapper;
using Npgsql;

namespace Ims.Service.Storage;

/// <summary>
/// PostgreSQL behind the seam (<c>Ims:Postgres</c>, a connection string). The schema keeps SQLite's shape: integers
/// and epoch-millisecond times are BIGINT (Npgsql reads them as the <see cref="long"/> the row records hold), flags are
/// 0/1, strings TEXT. Writers run concurrently under READ COMMITTED; the rules SQLite's single writer kept race-free
/// take <see cref="LockAsync"/> or rest on unique indexes, and job claims skip rows another node has locked.
/// </summary>
public sealed class PostgresDatabase : Database, IDisposable
{
    private readonly NpgsqlDataSource _source;

    public PostgresDatabase(string connectionString)
    {
        _source = NpgsqlDataSource.Create(WithStatementCache(connectionString));
    }

    /// <summary>
    /// The service runs a few hundred fixed statements over and over; unless the connection string says otherwise, Npgsql
    /// prepares each one after its second use on a connection, as SQLite's side keeps its statements prepared, so the
    /// server stops parsing and planning them per request.
    /// </summary>
    private static string WithStatementCache(string connectionString)
    {
        // The plain builder holds exactly the keys the string itself sets.
        var given = new DbConnectionStringBuilder { ConnectionString = connectionString };
        bool Given(params string[] keys) => keys.Any(given.ContainsKey);
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!Given("Max Auto Prepare", "MaxAutoPrepare")) builder.MaxAutoPrepare = 512;
        if (!Given("Auto Prepare Min Usages", "AutoPrepareMinUsages")) builder.AutoPrepareMinUsages = 2;
        return builder.ConnectionString;
    }

    public override string Dialect => "postgres";

    public override string ClaimLockClause => " FOR UPDATE SKIP LOCKED";

    public override async Task<DbConnection> OpenAsync(CancellationToken ct) =>
        new PgConnection(await _source.OpenConnectionAsync(ct));

    public override async Task<WriteScope> BeginWriteAsync(CancellationToken ct)
    {
        var connection = await OpenAsync(ct);
        try
        {
            var transaction = await connection.BeginTransactionAsync(ct);
            return new WriteScope(this, connection, transaction, null);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// A transaction-scoped advisory lock on the key's hash: held until the transaction ends, so every writer that
    /// takes the same key before checking a limit sees the previous writer's committed rows.
    /// </summary>
    public override Task LockAsync(WriteScope write, string key, CancellationToken ct) =>
        write.Connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_xact_lock(hashtext(@key))", new { key },
            write.Transaction, cancellationToken: ct));

    public override bool IsUniqueViolation(Exception ex) =>
        ex is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    // 53100 disk_full: the server could not extend a table, an index or its write-ahead log.
    public override bool IsStorageFull(Exception ex) => ex is PostgresException { SqlState: PostgresErrorCodes.DiskFull };

    public void Dispose() => _source.Dispose();
}

// Dapper passes lists to a connection whose type is named NpgsqlConnection as one array parameter and leaves
// "IN @ids" as it is, which PostgreSQL cannot parse (it wants "= ANY(@ids)"). The statements are written once for both
// databases, so Npgsql's connection travels under another name and Dapper expands lists into "IN (@ids1, @ids2, ...)"
// as it does for SQLite. The wrappers only forward.

internal sealed class PgConnection(NpgsqlConnection inner) : DbConnection
{
    public NpgsqlConnection Inner => inner;

    [AllowNull]
    public override string ConnectionString
    {
        get => inner.ConnectionString;
        set => inner.ConnectionString = value;
    }

    public override string Database => inner.Database;
    public override string DataSource => inner.DataSource;
    public override string ServerVersion => inner.ServerVersion;
    public override ConnectionState State => inner.State;
    public override void ChangeDatabase(string databaseName) => inner.ChangeDatabase(databaseName);
    public override void Close() => inner.Close();
    public override void Open() => inner.Open();
    public override Task OpenAsync(CancellationToken cancellationToken) => inner.OpenAsync(cancellationToken);

    protected override DbTransaction BeginDbTransaction(IsolationLevel isolationLevel) =>
        new PgTransaction(this, inner.BeginTransaction(isolationLevel));

    protected override async ValueTask<DbTransaction> BeginDbTransactionAsync(IsolationLevel isolationLevel, CancellationToken cancellationToken) =>
        new PgTransaction(this, await inner.BeginTransactionAsync(isolationLevel, cancellationToken));

    protected override DbCommand CreateDbCommand() => new PgCommand(this, inner.CreateCommand());

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}

internal sealed class PgTransaction(PgConnection connection, NpgsqlTransaction inner) : DbTransaction
{
    public NpgsqlTransaction Inner => inner;
    protected override DbConnection DbConnection => connection;
    public override IsolationLevel IsolationLevel => inner.IsolationLevel;
    public override void Commit() => inner.Commit();
    public override void Rollback() => inner.Rollback();
    public override Task CommitAsync(CancellationToken cancellationToken = default) => inner.CommitAsync(cancellationToken);
    public override Task RollbackAsync(CancellationToken cancellationToken = default) => inner.RollbackAsync(cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}

internal sealed class PgCommand(PgConnection connection, NpgsqlCommand inner) : DbCommand
{
    private PgConnection? _connection = connection;
    private PgTransaction? _transaction;

    [AllowNull]
    public override string CommandText
    {
        get => inner.CommandText;
        set => inner.CommandText = value;
    }

    public override int CommandTimeout
    {
        get => inner.CommandTimeout;
        set => inner.CommandTimeout = value;
    }

    public override CommandType CommandType
    {
        get => inner.CommandType;
        set => inner.CommandType = value;
    }

    public override bool DesignTimeVisible
    {
        get => inner.DesignTimeVisible;
        set => inner.DesignTimeVisible = value;
    }

    public override UpdateRowSource UpdatedRowSource
    {
        get => inner.UpdatedRowSource;
        set => inner.UpdatedRowSource = value;
    }

    protected override DbConnection? DbConnection
    {
        get => _connection;
        set
        {
            _connection = (PgConnection?)value;
            inner.Connection = _connection?.Inner;
        }
    }

    protected override DbTransaction? DbTransaction
    {
        get => _transaction;
        set
        {
            _transaction = (PgTransaction?)value;
            inner.Transaction = _transaction?.Inner;
        }
    }

    protected override DbParameterCollection DbParameterCollection => inner.Parameters;
    protected override DbParameter CreateDbParameter() => inner.CreateParameter();
    public override void Cancel() => inner.Cancel();
    public override void Prepare() => inner.Prepare();
    public override Task PrepareAsync(CancellationToken cancellationToken = default) => inner.PrepareAsync(cancellationToken);
    public override int ExecuteNonQuery() => inner.ExecuteNonQuery();
    public override Task<int> ExecuteNonQueryAsync(CancellationToken cancellationToken) => inner.ExecuteNonQueryAsync(cancellationToken);
    public override object? ExecuteScalar() => inner.ExecuteScalar();
    public override Task<object?> ExecuteScalarAsync(CancellationToken cancellationToken) => inner.ExecuteScalarAsync(cancellationToken);
    protected override DbDataReader ExecuteDbDataReader(CommandBehavior behavior) => inner.ExecuteReader(behavior);

    protected override async Task<DbDataReader> ExecuteDbDataReaderAsync(CommandBehavior behavior, CancellationToken cancellationToken) =>
        await inner.ExecuteReaderAsync(behavior, cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
