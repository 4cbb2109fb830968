using System.Text.Json;
using System.Text.Json.Serialization;
using Ims.Service.Storage;

namespace Ims.Service.Policies;

/// <summary>A row of <c>backup_policies</c>.</summary>
public sealed record PolicyRow
{
    public string Id { get; init; } = "";
    public string ProjectId { get; init; } = "";
    /// <summary><c>CBR</c> or <c>CSBS</c>.</summary>
    public string Service { get; init; } = "";
    public string Name { get; init; } = "";
    public string Description { get; init; } = "";
    public string OperationType { get; init; } = PolicyOperation.Backup;
    public long Enabled { get; init; }
    /// <summary>JSON of <see cref="PolicyDefinition"/>.</summary>
    public string Definition { get; init; } = "{}";
    /// <summary>JSON array of the trigger's pattern strings, as the client sent them.</summary>
    public string Patterns { get; init; } = "[]";
    public string TriggerId { get; init; } = "";
    public string OperationId { get; init; } = "";
    public string OperationName { get; init; } = "";
    public string OperationDescription { get; init; } = "";
    public string Tags { get; init; } = "[]";
    public long CreatedAt { get; init; }
    public long UpdatedAt { get; init; }

    public PolicyDefinition ParsedDefinition => JsonSerializer.Deserialize<PolicyDefinition>(Definition) ?? new PolicyDefinition();

    public IReadOnlyList<string> ParsedPatterns => JsonSerializer.Deserialize<List<string>>(Patterns) ?? [];
}

public static class PolicyOperation
{
    public const string Backup = "backup";
    public const string Replication = "replication";
}

/// <summary>
/// A policy's <c>operation_definition</c> as stored, in CBR's field names (the wire shape of a CBR policy's definition;
/// CSBS renders its subset). Unset long-term counts are 0; unset quantity and duration are -1.
/// </summary>
public sealed record PolicyDefinition
{
    [JsonPropertyName("max_backups")] public int MaxBackups { get; init; } = -1;
    [JsonPropertyName("retention_duration_days")] public int RetentionDurationDays { get; init; } = -1;
    [JsonPropertyName("day_backups")] public int DayBackups { get; init; }
    [JsonPropertyName("week_backups")] public int WeekBackups { get; init; }
    [JsonPropertyName("month_backups")] public int MonthBackups { get; init; }
    [JsonPropertyName("year_backups")] public int YearBackups { get; init; }
    [JsonPropertyName("timezone"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Timezone { get; init; }
    [JsonPropertyName("full_backup_interval"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? FullBackupInterval { get; init; }
    [JsonPropertyName("destination_region"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? DestinationRegion { get; init; }
    [JsonPropertyName("destination_project_id"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? DestinationProjectId { get; init; }
    [JsonPropertyName("enable_acceleration"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public bool? EnableAcceleration { get; init; }
    /// <summary>CSBS: backups are kept forever (quantity and duration are then -1).</summary>
    [JsonPropertyName("permanent"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public bool? Permanent { get; init; }

    public RetentionRules Rules => new()
    {
        MaxBackups = MaxBackups,
        RetentionDurationDays = RetentionDurationDays,
        DayBackups = DayBackups,
        WeekBackups = WeekBackups,
        MonthBackups = MonthBackups,
        YearBackups = YearBackups,
        Offset = Retention.ParseTimezone(Timezone) ?? TimeSpan.Zero,
    };
}

/// <summary>A vault a CBR policy is applied to.</summary>
public sealed record PolicyVaultRow(string PolicyId, string VaultId, string? DestinationVaultId);

/// <summary>A server a CSBS policy protects.</summary>
public sealed record PolicyResourceRow(string PolicyId, string ResourceId, string ResourceType, string Name);

/// <summary>
/// Backup policies (<c>backup_policies</c>), what they apply to (<c>policy_vaults</c> for CBR, <c>policy_resources</c>
/// for CSBS) and their scheduled runs (<c>policy_runs</c>, whose primary key is the claim of a slot).
/// </summary>
public sealed class PolicyStore(Database db)
{
    private const string Columns =
        "id, project_id AS ProjectId, service, name, description, operation_type AS OperationType, enabled, definition, " +
        "patterns, trigger_id AS TriggerId, operation_id AS OperationId, operation_name AS OperationName, " +
        "operation_description AS OperationDescription, tags, created_at AS CreatedAt, updated_at AS UpdatedAt";

    private const string SelectOne = $"SELECT {Columns} FROM backup_policies WHERE id = @policyId AND project_id = @projectId AND service = @service";

    public Task<PolicyRow?> GetAsync(string projectId, string service, string policyId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<PolicyRow>(SelectOne, new { projectId, service, policyId }, ct);

    public Task<PolicyRow?> GetAsync(WriteScope tx, string projectId, string service, string policyId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<PolicyRow>(SelectOne, new { projectId, service, policyId }, ct);

    /// <summary>A policy by id alone, for its own jobs.</summary>
    public Task<PolicyRow?> GetAsync(WriteScope tx, string policyId, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<PolicyRow>($"SELECT {Columns} FROM backup_policies WHERE id = @policyId", new { policyId }, ct);

    /// <summary>The project's policies of a service, oldest first, optionally of one type or applied to one vault.</summary>
    public async Task<IReadOnlyList<PolicyRow>> ListAsync(string projectId, string service, string? operationType, string? vaultId,
        CancellationToken ct)
    {
        var where = new SqlConditions("project_id = @projectId AND service = @service", new { projectId, service });
        where.Equal("operation_type", operationType);
        if (!string.IsNullOrEmpty(vaultId))
            where.Add("id IN (SELECT policy_id FROM policy_vaults WHERE vault_id = @vaultId)", "vaultId", vaultId);
        return await db.QueryAsync<PolicyRow>(
            $"SELECT {Columns} FROM backup_policies WHERE {where} ORDER BY created_at, id", where.Args, ct);
    }

    /// <summary>Takes the policy's lock until the transaction ends: its runs are scheduled and withdrawn under it.</summary>
    public Task LockAsync(WriteScope tx, string policyId, CancellationToken ct) => tx.LockAsync($"policy:{policyId}", ct);

    /// <summary>
    /// Writes the policy unless its project already has <paramref name="limit"/> policies of its service and operation
    /// type (then false, nothing written). The count and the insert run under the (project, service, type) lock, so
    /// concurrent creations on PostgreSQL cannot pass the limit together.
    /// </summary>
    public async Task<bool> TryInsertAsync(WriteScope tx, PolicyRow policy, int limit, CancellationToken ct)
    {
        await tx.LockAsync($"policy-count:{policy.ProjectId}:{policy.Service}:{policy.OperationType}", ct);
        var count = await tx.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM backup_policies WHERE project_id = @ProjectId AND service = @Service AND operation_type = @OperationType",
            policy, ct);
        if (count >= limit) return false;
        await InsertAsync(tx, policy, ct);
        return true;
    }

    private Task InsertAsync(WriteScope tx, PolicyRow policy, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            INSERT INTO backup_policies (id, project_id, service, name, description, operation_type, enabled, definition, patterns,
                                         trigger_id, operation_id, operation_name, operation_description, tags, created_at, updated_at)
            VALUES (@Id, @ProjectId, @Service, @Name, @Description, @OperationType, @Enabled, @Definition, @Patterns,
                    @TriggerId, @OperationId, @OperationName, @OperationDescription, @Tags, @CreatedAt, @UpdatedAt)
            """, policy, ct);

    /// <summary>Writes the policy's changeable attributes as <paramref name="policy"/> has them.</summary>
    public Task UpdateAsync(WriteScope tx, PolicyRow policy, CancellationToken ct) =>
        tx.ExecuteAsync(
            """
            UPDATE backup_policies SET name = @Name, description = @Description, enabled = @Enabled, definition = @Definition,
                patterns = @Patterns, operation_name = @OperationName, operation_description = @OperationDescription,
                tags = @Tags, updated_at = @UpdatedAt
            WHERE id = @Id
            """, policy, ct);

    /// <summary>Deletes the policy, what it is applied to, and its runs not yet started.</summary>
    public async Task DeleteAsync(WriteScope tx, string policyId, CancellationToken ct)
    {
        await tx.ExecuteAsync("DELETE FROM policy_vaults WHERE policy_id = @policyId", new { policyId }, ct);
        await tx.ExecuteAsync("DELETE FROM policy_resources WHERE policy_id = @policyId", new { policyId }, ct);
        await WithdrawPendingRunsAsync(tx, policyId, ct);
        await tx.ExecuteAsync("DELETE FROM backup_policies WHERE id = @policyId", new { policyId }, ct);
    }

    // ----- CBR: vaults ----------------------------------------------------------------------------------------------

    public async Task<IReadOnlyList<PolicyVaultRow>> GetVaultsAsync(IReadOnlyCollection<string> policyIds, CancellationToken ct) =>
        policyIds.Count == 0 ? [] : await db.QueryAsync<PolicyVaultRow>(SelectVaults, new { policyIds }, ct);

    public async Task<IReadOnlyList<PolicyVaultRow>> GetVaultsAsync(WriteScope tx, IReadOnlyCollection<string> policyIds, CancellationToken ct) =>
        policyIds.Count == 0 ? [] : await tx.QueryAsync<PolicyVaultRow>(SelectVaults, new { policyIds }, ct);

    private const string SelectVaults =
        """
        SELECT policy_id AS PolicyId, vault_id AS VaultId, destination_vault_id AS DestinationVaultId
        FROM policy_vaults WHERE policy_id IN @policyIds ORDER BY added_at, vault_id
        """;

    /// <summary>The policy of <paramref name="operationType"/> applied to the vault, or null.</summary>
    public Task<string?> GetPolicyOfVaultAsync(WriteScope tx, string vaultId, string operationType, CancellationToken ct) =>
        tx.QuerySingleOrDefaultAsync<string>(
            "SELECT policy_id FROM policy_vaults WHERE vault_id = @vaultId AND operation_type = @operationType",
            new { vaultId, operationType }, ct);

    /// <summary>Applies the policy to the vault, replacing the vault's policy of the same type.</summary>
    public async Task ApplyToVaultAsync(WriteScope tx, string vaultId, string operationType, string policyId, string? destinationVaultId,
        long now, CancellationToken ct)
    {
        await tx.ExecuteAsync("DELETE FROM policy_vaults WHERE vault_id = @vaultId AND operation_type = @operationType",
            new { vaultId, operationType }, ct);
        await tx.ExecuteAsync(
            """
            INSERT INTO policy_vaults (vault_id, operation_type, policy_id, destination_vault_id, added_at)
            VALUES (@vaultId, @operationType, @policyId, @destinationVaultId, @now)
            """, new { vaultId, operationType, policyId, destinationVaultId, now }, ct);
    }

    /// <summary>Removes the policy from the vault; false when it was not applied to it.</summary>
    public async Task<bool> RemoveFromVaultAsync(WriteScope tx, string vaultId, string policyId, CancellationToken ct) =>
        await tx.ExecuteAsync("DELETE FROM policy_vaults WHERE vault_id = @vaultId AND policy_id = @policyId", new { vaultId, policyId }, ct) > 0;

    /// <summary>Forgets every policy of a vault being deleted.</summary>
    public Task ForgetVaultAsync(WriteScope tx, string vaultId, CancellationToken ct) =>
        tx.ExecuteAsync("DELETE FROM policy_vaults WHERE vault_id = @vaultId", new { vaultId }, ct);

    // ----- CSBS: resources ------------------------------------------------------------------------------------------

    public async Task<IReadOnlyList<PolicyResourceRow>> GetResourcesAsync(IReadOnlyCollection<string> policyIds, CancellationToken ct) =>
        policyIds.Count == 0 ? [] : await db.QueryAsync<PolicyResourceRow>(SelectResources, new { policyIds }, ct);

    public async Task<IReadOnlyList<PolicyResourceRow>> GetResourcesAsync(WriteScope tx, IReadOnlyCollection<string> policyIds, CancellationToken ct) =>
        policyIds.Count == 0 ? [] : await tx.QueryAsync<PolicyResourceRow>(SelectResources, new { policyIds }, ct);

    private const string SelectResources =
        """
        SELECT policy_id AS PolicyId, resource_id AS ResourceId, resource_type AS ResourceType, name AS Name
        FROM policy_resources WHERE policy_id IN @policyIds ORDER BY added_at, resource_id
        """;

    /// <summary>Replaces the servers a CSBS policy protects.</summary>
    public async Task SetResourcesAsync(WriteScope tx, string policyId, IReadOnlyList<PolicyResourceRow> resources, long now, CancellationToken ct)
    {
        await tx.ExecuteAsync("DELETE FROM policy_resources WHERE policy_id = @policyId", new { policyId }, ct);
        foreach (var resource in resources)
            await tx.ExecuteAsync(
                """
                INSERT INTO policy_resources (policy_id, resource_id, resource_type, name, added_at)
                VALUES (@policyId, @ResourceId, @ResourceType, @Name, @now)
                """, new { policyId, resource.ResourceId, resource.ResourceType, resource.Name, now }, ct);
    }

    // ----- runs -----------------------------------------------------------------------------------------------------

    /// <summary>Whether a run of the policy is already scheduled at the instant (started or not).</summary>
    public async Task<bool> HasRunAsync(WriteScope tx, string policyId, long scheduledAt, CancellationToken ct) =>
        await tx.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM policy_runs WHERE policy_id = @policyId AND scheduled_at = @scheduledAt",
            new { policyId, scheduledAt }, ct) > 0;

    /// <summary>Claims the slot for the job (the primary key refuses a second claim: call under <see cref="LockAsync"/>).</summary>
    public Task AddRunAsync(WriteScope tx, string policyId, long scheduledAt, string jobId, CancellationToken ct) =>
        tx.ExecuteAsync("INSERT INTO policy_runs (policy_id, scheduled_at, job_id) VALUES (@policyId, @scheduledAt, @jobId)",
            new { policyId, scheduledAt, jobId }, ct);

    /// <summary>Marks the job's run started; false when the run was withdrawn (the policy changed or went) since it was scheduled.</summary>
    public async Task<bool> StartRunAsync(WriteScope tx, string policyId, long scheduledAt, string jobId, CancellationToken ct) =>
        await tx.ExecuteAsync(
            "UPDATE policy_runs SET started = 1 WHERE policy_id = @policyId AND scheduled_at = @scheduledAt AND job_id = @jobId",
            new { policyId, scheduledAt, jobId }, ct) == 1;

    /// <summary>Withdraws the runs not yet started; their jobs then find no run and do nothing.</summary>
    public Task WithdrawPendingRunsAsync(WriteScope tx, string policyId, CancellationToken ct) =>
        tx.ExecuteAsync("DELETE FROM policy_runs WHERE policy_id = @policyId AND started = 0", new { policyId }, ct);

    /// <summary>Enabled backup policies with no run waiting: a schedule lost with a run job that was abandoned.</summary>
    public async Task<IReadOnlyList<PolicyRow>> GetUnscheduledAsync(CancellationToken ct) =>
        await db.QueryAsync<PolicyRow>(
            $"""
            SELECT {Columns} FROM backup_policies p
            WHERE enabled = 1 AND operation_type = '{PolicyOperation.Backup}'
              AND NOT EXISTS (SELECT 1 FROM policy_runs r WHERE r.policy_id = p.id AND r.started = 0)
            """, null, ct);

    /// <summary>The scheduled instants of the policy's runs not yet started (what the next run is).</summary>
    public async Task<IReadOnlyList<long>> GetPendingRunsAsync(string policyId, CancellationToken ct) =>
        await db.QueryAsync<long>("SELECT scheduled_at FROM policy_runs WHERE policy_id = @policyId AND started = 0 ORDER BY scheduled_at",
            new { policyId }, ct);
}
