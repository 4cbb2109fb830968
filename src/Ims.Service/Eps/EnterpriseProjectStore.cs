using System.Globalization;
using Ims.Service.Storage;

namespace Ims.Service.Eps;

/// <summary>An enterprise project of an account (table <c>enterprise_projects</c>, migration 0015).</summary>
public sealed record EnterpriseProjectRow
{
    public string DomainId { get; init; } = "";
    public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    public string Description { get; init; } = "";
    public string Type { get; init; } = EnterpriseProjectStore.Prod;
    public long Status { get; init; }
    public long CreatedAt { get; init; }
    public long UpdatedAt { get; init; }

    public bool Enabled => Status == EnterpriseProjectStore.Enabled;
}

/// <summary>What the EPS list asks for; every part optional but the page and the order.</summary>
public sealed record EnterpriseProjectQuery(string? Id, string? NameContains, long? Status, string? Type, int Limit, int Offset,
    string SortKey, bool Descending);

/// <summary>
/// The enterprise projects aggregate: the only code that touches <c>enterprise_projects</c>. Every account has the
/// default project <c>0</c>, seeded at start-up; the rules of who may change what live in the endpoints.
/// </summary>
public sealed class EnterpriseProjectStore(Database db)
{
    public const string DefaultId = "0";
    public const string DefaultName = "default";
    public const long Enabled = 1;
    public const long Disabled = 2;
    public const string Prod = "prod";
    public const string Poc = "poc";

    private const string Columns =
        "domain_id AS DomainId, id, name, description, type, status, created_at AS CreatedAt, updated_at AS UpdatedAt";

    /// <summary>Sort keys the list accepts, and their columns.</summary>
    public static readonly IReadOnlyDictionary<string, string> SortColumns = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["created_at"] = "created_at",
        ["updated_at"] = "updated_at",
        ["name"] = "name",
    };

    public static string NameKey(string name) => name.ToLowerInvariant();

    // ----- reads --------------------------------------------------------------------------------------------------

    public Task<EnterpriseProjectRow?> GetAsync(string domainId, string id, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<EnterpriseProjectRow>(
            $"SELECT {Columns} FROM enterprise_projects WHERE domain_id = @domainId AND id = @id", new { domainId, id }, ct);

    public Task<EnterpriseProjectRow?> GetAsync(WriteScope tx, string domainId, string id, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<EnterpriseProjectRow>(
            $"SELECT {Columns} FROM enterprise_projects WHERE domain_id = @domainId AND id = @id", new { domainId, id }, ct);

    /// <summary>One page of the account's enterprise projects and how many match in all.</summary>
    public async Task<(IReadOnlyList<EnterpriseProjectRow> Page, long Total)> ListAsync(string domainId, EnterpriseProjectQuery query,
        CancellationToken ct)
    {
        var where = "domain_id = @domainId" +
            (query.Id is null ? "" : " AND id = @id") +
            (query.NameContains is null ? "" : " AND name_key LIKE @pattern ESCAPE '\\'") +
            (query.Status is null ? "" : " AND status = @status") +
            (query.Type is null ? "" : " AND type = @type");
        var args = new
        {
            domainId,
            id = query.Id,
            pattern = query.NameContains is null ? null : $"%{EscapeLike(NameKey(query.NameContains))}%",
            status = query.Status,
            type = query.Type,
        };
        var total = await db.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM enterprise_projects WHERE {where}", args, ct);
        var direction = query.Descending ? "DESC" : "ASC";
        // The page size and offset are validated integers, written into the SQL text like the image list's.
        var page = await db.QueryAsync<EnterpriseProjectRow>(
            $"""
            SELECT {Columns} FROM enterprise_projects WHERE {where}
            ORDER BY {SortColumns[query.SortKey]} {direction}, id {direction}
            LIMIT {query.Limit.ToString(CultureInfo.InvariantCulture)} OFFSET {query.Offset.ToString(CultureInfo.InvariantCulture)}
            """, args, ct);
        return (page, total);
    }

    /// <summary>
    /// How many enterprise projects the account has besides the default. The count decides whether one more may be
    /// made, so it takes the account's lock first (held until the transaction ends; see <see cref="LockAccountAsync"/>).
    /// </summary>
    public async Task<long> CountAsync(WriteScope tx, string domainId, CancellationToken ct)
    {
        await LockAccountAsync(tx, domainId, ct);
        return await tx.QuerySingleAsync<long>("SELECT COUNT(*) FROM enterprise_projects WHERE domain_id = @domainId AND id <> '0'", new { domainId }, ct);
    }

    /// <summary>True when the account has another project of that name (any case); takes the account's lock first.</summary>
    public async Task<bool> NameTakenAsync(WriteScope tx, string domainId, string name, string? exceptId, CancellationToken ct)
    {
        await LockAccountAsync(tx, domainId, ct);
        return await tx.ExecuteScalarAsync<long?>(
            "SELECT 1 FROM enterprise_projects WHERE domain_id = @domainId AND name_key = @key" + (exceptId is null ? "" : " AND id <> @exceptId"),
            new { domainId, key = NameKey(name), exceptId = exceptId ?? "" }, ct) is not null;
    }

    /// <summary>
    /// Serialises the writers that check an account's project count or names before they insert or rename: concurrent
    /// creations cannot both take the last place or the same name (on PostgreSQL; SQLite's one writer already does).
    /// </summary>
    private static Task LockAccountAsync(WriteScope tx, string domainId, CancellationToken ct) =>
        tx.LockAsync($"enterprise-projects:{domainId}", ct);

    // ----- writes -------------------------------------------------------------------------------------------------

    public Task InsertAsync(WriteScope tx, EnterpriseProjectRow row, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            INSERT INTO enterprise_projects (domain_id, id, name, name_key, description, type, status, created_at, updated_at)
            VALUES (@DomainId, @Id, @Name, @NameKey, @Description, @Type, @Status, @CreatedAt, @UpdatedAt)
            """,
            new { row.DomainId, row.Id, row.Name, NameKey = NameKey(row.Name), row.Description, row.Type, row.Status, row.CreatedAt, row.UpdatedAt },
            ct);

    public Task UpdateAsync(WriteScope tx, string domainId, string id, string name, string description, string type, long now,
        CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            UPDATE enterprise_projects SET name = @name, name_key = @key, description = @description, type = @type, updated_at = @now
            WHERE domain_id = @domainId AND id = @id
            """,
            new { domainId, id, name, key = NameKey(name), description, type, now }, ct);

    public Task SetStatusAsync(WriteScope tx, string domainId, string id, long status, long now, CancellationToken ct) =>
        tx.ExecuteAsync(
            "UPDATE enterprise_projects SET status = @status, updated_at = @now WHERE domain_id = @domainId AND id = @id AND status <> @status",
            new { domainId, id, status, now }, ct);

    /// <summary>Gives every account its default enterprise project <c>0</c> (start-up; nothing happens for those that have it).</summary>
    public async Task EnsureDefaultsAsync(WriteScope tx, IEnumerable<string> domainIds, long now, CancellationToken ct)
    {
        foreach (var domainId in domainIds)
        {
            await tx.ExecuteAsync(
                """
                INSERT INTO enterprise_projects (domain_id, id, name, name_key, description, type, status, created_at, updated_at)
                VALUES (@domainId, '0', 'default', 'default', '', 'prod', 1, @now, @now)
                ON CONFLICT (domain_id, id) DO NOTHING
                """, new { domainId, now }, ct);
        }
    }

    private static string EscapeLike(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);
}
