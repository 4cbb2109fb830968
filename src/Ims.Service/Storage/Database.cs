using System.Data.Common;
using Ims.DataPlane;

namespace Ims.Service.Storage;

/// <summary>
/// The narrow seam between the service and its relational store. Everything above it speaks plain SQL
/// (through Dapper) that both SQLite and PostgreSQL accept; only what truly differs lives here.
/// </summary>
public abstract class Database
{
    /// <summary>Opens a connection for reads (and for writes that need no transaction).</summary>
    public abstract Task<DbConnection> OpenAsync(CancellationToken ct);

    /// <summary>
    /// Runs one read statement and hands its reader to <paramref name="read"/>, which reads synchronously. For the hot
    /// reads (a job, a page of images), where compiling the SQL cost as much as running it: a provider that does not
    /// keep statements prepared by itself (SQLite) keeps them here, per connection. <paramref name="sql"/> should be one
    /// of a bounded set of texts, with the values in <paramref name="args"/> (named <c>@name</c> in the SQL); a value a
    /// <c>LIMIT</c> reads belongs in the text (SQLite recompiles a statement when such a parameter is bound again).
    /// </summary>
    public virtual async Task<T> ReadAsync<T>(string sql, IReadOnlyList<(string Name, object? Value)> args, Func<DbDataReader, T> read,
        CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in args)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }
        await using var reader = await command.ExecuteReaderAsync(ct);
        return read(reader);
    }

    /// <summary>
    /// Starts a write transaction. On SQLite there is one writer per file, so the seam serialises writers
    /// in-process instead of letting them spin on SQLITE_BUSY.
    /// </summary>
    public abstract Task<WriteScope> BeginWriteAsync(CancellationToken ct);

    /// <summary>True when the exception is a unique or primary-key violation.</summary>
    public abstract bool IsUniqueViolation(Exception ex);

    /// <summary>True when the database could not write for want of space (SQLite's <c>SQLITE_FULL</c>, PostgreSQL's <c>53100</c>).</summary>
    public abstract bool IsStorageFull(Exception ex);

    /// <summary>
    /// The out-of-space error behind <paramref name="ex"/>, from the database or from a file write, as one
    /// <see cref="StorageFullException"/>; null when space is not the cause.
    /// </summary>
    public StorageFullException? StorageFull(Exception ex) => StorageFullException.Find(ex, IsStorageFull);

    /// <summary>
    /// Appended to the job-claim subquery. PostgreSQL needs <c> FOR UPDATE SKIP LOCKED</c> so that nodes skip
    /// each other's rows; SQLite has a single writer and needs nothing.
    /// </summary>
    public virtual string ClaimLockClause => "";

    /// <summary>
    /// Serialises the transactions that take the same <paramref name="key"/> (for example <c>image-quota:{project}</c>)
    /// until <paramref name="write"/> ends: a rule that counts rows and then inserts one (a quota, a limit) takes the
    /// lock first, so two concurrent requests cannot both see room for one more. SQLite needs nothing (its one writer
    /// already serialises every write transaction); PostgreSQL takes an advisory lock.
    /// </summary>
    public virtual Task LockAsync(WriteScope write, string key, CancellationToken ct) => Task.CompletedTask;

    /// <summary>The dialect name used to pick migration scripts ("sqlite" or "postgres").</summary>
    public abstract string Dialect { get; }
}

/// <summary>A connection plus its open write transaction. Dispose without <see cref="CommitAsync"/> rolls back.</summary>
public sealed class WriteScope(Database database, DbConnection connection, DbTransaction transaction, IDisposable? writerLock) : IAsyncDisposable
{
    public DbConnection Connection { get; } = connection;
    public DbTransaction Transaction { get; } = transaction;

    /// <summary>Takes <paramref name="key"/>'s lock until this transaction ends (see <see cref="Database.LockAsync"/>).</summary>
    public Task LockAsync(string key, CancellationToken ct) => database.LockAsync(this, key, ct);

    private List<Action>? _onCommitted;

    /// <summary>Runs <paramref name="action"/> after a successful commit (for example, waking job workers).</summary>
    public void OnCommitted(Action action) => (_onCommitted ??= []).Add(action);

    /// <summary>The database's out-of-space error behind <paramref name="ex"/>, if that is its cause (see <see cref="Database.StorageFull"/>).</summary>
    internal StorageFullException? StorageFull(Exception ex) => database.StorageFull(ex);

    public async Task CommitAsync(CancellationToken ct)
    {
        try
        {
            await Transaction.CommitAsync(ct);
        }
        catch (Exception ex) when (database.StorageFull(ex) is { } full)
        {
            throw full;
        }
        if (_onCommitted is null) return;
        foreach (var action in _onCommitted) action();
    }

    public async ValueTask DisposeAsync()
    {
        await Transaction.DisposeAsync();
        await Connection.DisposeAsync();
        writerLock?.Dispose();
    }
}
