using Ims.Service.Storage;

namespace Ims.Service.Data;

/// <summary>The coordination row of the deletion epoch and the running collection.</summary>
public sealed record CoordinationRow(long DeletionEpoch, string? Collector, string? CollectionId, long CollectionExpiresAt)
{
    public bool CollectionRunning(long nowMs) => CollectionId is not null && CollectionExpiresAt > nowMs;
}

/// <summary>
/// The data plane's shared state (tables <c>data_holds</c>, <c>data_pins</c>, <c>data_coordination</c>): holds of running
/// operations, leases and writers with the manifests they pin, the deletion epoch, the collection's turn. A hold or turn
/// whose <c>expires_at</c> has passed belongs to a node that stopped renewing it and counts for nothing.
/// </summary>
public sealed class DataCoordinationStore(Database db)
{
    /// <summary>The lock that orders pins with epochs, writers and collection turns (see <see cref="Database.LockAsync"/>).</summary>
    public const string LockKey = "data-coordination";

    public const string OperationKind = "operation";
    public const string LeaseKind = "lease";
    public const string WriterKind = "writer";

    public Task InsertHoldAsync(WriteScope tx, string id, string owner, string kind, long startedAtMs, long expiresAtMs,
        CancellationToken ct) =>
        tx.ExecuteAsync(
            "INSERT INTO data_holds (id, node, kind, started_at, expires_at) VALUES (@id, @owner, @kind, @startedAtMs, @expiresAtMs)",
            new { id, owner, kind, startedAtMs, expiresAtMs }, ct);

    /// <summary>Pins manifests for a hold that still exists (a lapsed hold removed by a collection pins nothing).</summary>
    public Task InsertPinsAsync(WriteScope tx, string holdId, IEnumerable<string> manifestIds, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            INSERT INTO data_pins (hold_id, manifest_id)
            SELECT @holdId, @manifestId WHERE EXISTS (SELECT 1 FROM data_holds WHERE id = @holdId)
            ON CONFLICT (hold_id, manifest_id) DO NOTHING
            """, manifestIds.Distinct(StringComparer.Ordinal).Select(manifestId => new { holdId, manifestId }), ct);

    public async Task DeleteHoldAsync(WriteScope tx, string id, CancellationToken ct)
    {
        await tx.ExecuteAsync("DELETE FROM data_pins WHERE hold_id = @id", new { id }, ct);
        await tx.ExecuteAsync("DELETE FROM data_holds WHERE id = @id", new { id }, ct);
    }

    /// <summary>Extends every hold of one process (its owner tag), and its collection turn if it has one running.</summary>
    public async Task RenewAsync(WriteScope tx, string owner, string? collectionId, long expiresAtMs, CancellationToken ct)
    {
        await tx.ExecuteAsync("UPDATE data_holds SET expires_at = @expiresAtMs WHERE node = @owner", new { owner, expiresAtMs }, ct);
        if (collectionId is not null)
            await tx.ExecuteAsync(
                "UPDATE data_coordination SET collection_expires_at = @expiresAtMs WHERE id = 1 AND collection_id = @collectionId",
                new { collectionId, expiresAtMs }, ct);
    }

    public Task<CoordinationRow> ReadAsync(WriteScope tx, CancellationToken ct) =>
        tx.QuerySingleAsync<CoordinationRow>(
            """
            SELECT deletion_epoch AS DeletionEpoch, collector AS Collector, collection_id AS CollectionId,
                   collection_expires_at AS CollectionExpiresAt
            FROM data_coordination WHERE id = 1
            """, null, ct);

    public Task SetDeletionEpochAsync(WriteScope tx, long epoch, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE data_coordination SET deletion_epoch = @epoch WHERE id = 1", new { epoch }, ct);

    /// <summary>Takes the collection's turn unless another one runs (and has not lapsed); true when taken.</summary>
    public async Task<bool> TryTakeCollectionAsync(WriteScope tx, string collectionId, string owner, long nowMs, long expiresAtMs,
        CancellationToken ct) =>
        await tx.ExecuteAsync(
            """
            UPDATE data_coordination SET collector = @owner, collection_id = @collectionId, collection_expires_at = @expiresAtMs
            WHERE id = 1 AND (collection_id IS NULL OR collection_expires_at <= @nowMs)
            """, new { collectionId, owner, nowMs, expiresAtMs }, ct) == 1;

    public Task EndCollectionAsync(WriteScope tx, string collectionId, CancellationToken ct) =>
        tx.ExecuteAsync(
            "UPDATE data_coordination SET collector = NULL, collection_id = NULL, collection_expires_at = 0 WHERE id = 1 AND collection_id = @collectionId",
            new { collectionId }, ct);

    /// <summary>Removes the holds (and their pins) that lapsed: their nodes stopped.</summary>
    public async Task DeleteLapsedAsync(WriteScope tx, long nowMs, CancellationToken ct)
    {
        await tx.ExecuteAsync(
            "DELETE FROM data_pins WHERE hold_id IN (SELECT id FROM data_holds WHERE expires_at <= @nowMs)", new { nowMs }, ct);
        await tx.ExecuteAsync("DELETE FROM data_holds WHERE expires_at <= @nowMs", new { nowMs }, ct);
    }

    public async Task<long> CountWritersAsync(long nowMs, CancellationToken ct) =>
        await db.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM data_holds WHERE kind = @kind AND expires_at > @nowMs", new { kind = WriterKind, nowMs }, ct);

    /// <summary>The start of the oldest running operation (null when none runs).</summary>
    public Task<long?> OldestOperationStartAsync(long nowMs, CancellationToken ct) =>
        db.ExecuteScalarAsync<long?>(
            "SELECT MIN(started_at) FROM data_holds WHERE kind = @kind AND expires_at > @nowMs", new { kind = OperationKind, nowMs }, ct);

    /// <summary>Every manifest a hold that has not lapsed pins.</summary>
    public Task<List<string>> PinnedAsync(long nowMs, CancellationToken ct) =>
        db.QueryAsync<string>(
            """
            SELECT DISTINCT p.manifest_id FROM data_pins p JOIN data_holds h ON h.id = p.hold_id
            WHERE h.expires_at > @nowMs
            """, new { nowMs }, ct);
}
