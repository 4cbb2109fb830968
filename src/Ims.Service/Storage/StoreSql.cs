using Dapper;

namespace Ims.Service.Storage;

/// <summary>
/// The few Dapper calls the stores make, in the stores' two shapes: on the <see cref="Database"/> for a read outside a
/// transaction (one connection per call), and on an open <see cref="WriteScope"/> for everything inside one. Stores only.
/// </summary>
internal static class StoreSql
{
    public static async Task<List<T>> QueryAsync<T>(this Database db, string sql, object? args, CancellationToken ct)
    {
        await using var connection = await db.OpenAsync(ct);
        return (await connection.QueryAsync<T>(new CommandDefinition(sql, args, cancellationToken: ct))).AsList();
    }

    public static async Task<T?> QuerySingleOrDefaultAsync<T>(this Database db, string sql, object? args, CancellationToken ct)
    {
        await using var connection = await db.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<T>(new CommandDefinition(sql, args, cancellationToken: ct));
    }

    public static async Task<T?> ExecuteScalarAsync<T>(this Database db, string sql, object? args, CancellationToken ct)
    {
        await using var connection = await db.OpenAsync(ct);
        return await connection.ExecuteScalarAsync<T>(new CommandDefinition(sql, args, cancellationToken: ct));
    }

    // Inside a transaction a statement may have to grow the database (SQLite spills pages to the WAL, PostgreSQL extends
    // a table): an out-of-space error becomes the StorageFullException the API and the job engine answer.
    public static Task<List<T>> QueryAsync<T>(this WriteScope tx, string sql, object? args, CancellationToken ct) =>
        tx.Guard(async () => (await tx.Connection.QueryAsync<T>(new CommandDefinition(sql, args, tx.Transaction, cancellationToken: ct))).AsList());

    public static Task<T?> QuerySingleOrDefaultAsync<T>(this WriteScope tx, string sql, object? args, CancellationToken ct) =>
        tx.Guard(() => tx.Connection.QuerySingleOrDefaultAsync<T>(new CommandDefinition(sql, args, tx.Transaction, cancellationToken: ct)));

    public static Task<T> QuerySingleAsync<T>(this WriteScope tx, string sql, object? args, CancellationToken ct) =>
        tx.Guard(() => tx.Connection.QuerySingleAsync<T>(new CommandDefinition(sql, args, tx.Transaction, cancellationToken: ct)));

    public static Task<T?> ExecuteScalarAsync<T>(this WriteScope tx, string sql, object? args, CancellationToken ct) =>
        tx.Guard(() => tx.Connection.ExecuteScalarAsync<T>(new CommandDefinition(sql, args, tx.Transaction, cancellationToken: ct)));

    public static Task<int> ExecuteAsync(this WriteScope tx, string sql, object? args, CancellationToken ct) =>
        tx.Guard(() => tx.Connection.ExecuteAsync(new CommandDefinition(sql, args, tx.Transaction, cancellationToken: ct)));

    private static async Task<T> Guard<T>(this WriteScope tx, Func<Task<T>> statement)
    {
        try
        {
            return await statement();
        }
        catch (Exception ex) when (tx.StorageFull(ex) is { } full)
        {
            throw full;
        }
    }
}
