using Dapper;
using Ims.Service.Policies;
using Ims.Service.Storage;
using Ims.Tests.Backups;
using Ims.Tests.DataPlane;
using Ims.Tests.Ims;
using Ims.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Ims.Tests.Policies;

/// <summary>
/// Backup policies running on a fake clock: a week of schedule passes in seconds, and the checkpoints each slot made and
/// the backups retention pruned are exactly the expected ones. Nothing sleeps: the clock advances an hour at a time and
/// the test waits (with a deadline) until no job due at that instant is left.
/// </summary>
public sealed class PolicyScheduleTests : IAsyncLifetime
{
    /// <summary>Monday 5 January 2026, midnight UTC.</summary>
    private static readonly DateTimeOffset Monday = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _clock = new(Monday);
    private readonly string _dataDir = TestService.NewDataDir();
    private TestService _service = null!;

    public async Task InitializeAsync() => _service = await StartAsync();

    public async Task DisposeAsync()
    {
        await _service.DisposeAsync();
        TestDatabases.Drop(_dataDir);
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
            // Only temporary space: a file still held open just stays behind.
        }
    }

    private Task<TestService> StartAsync() =>
        TestService.StartAsync(_dataDir, b => b.Services.AddSingleton<TimeProvider>(_clock));

    // A new client per use: its token is issued at the fake now, so it never outlives the clock.
    private ApiClient Alice => _service.Client(TestAccounts.Alice);

    private static string Wire(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task A_week_of_a_weekly_policy_backs_up_the_vault_on_its_days_and_keeps_the_newest_two()
    {
        var server = await TestServers.CreateAsync(_service, Alice, 10);
        var vaultId = await Cbr.CreateVaultAsync(Alice, 200, server.Id);
        var policyId = await PolicyCalls.CreateAsync(Alice, ["FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=14;BYMINUTE=00"], new { max_backups = 2 });
        await PolicyCalls.AssociateAsync(Alice, vaultId, policyId);

        var seen = new List<List<string>>();
        for (var hour = 1; hour <= 7 * 24; hour++)
        {
            await AdvanceToAsync(Monday.AddHours(hour));
            var now = (await PolicyCalls.BackupsAsync(Alice, vaultId)).Select(b => b.CreatedAt).ToList();
            if (seen.Count == 0 || !seen[^1].SequenceEqual(now)) seen.Add(now);
        }

        var mon = Wire(Monday.AddHours(14));
        var wed = Wire(Monday.AddDays(2).AddHours(14));
        var fri = Wire(Monday.AddDays(4).AddHours(14));
        // Nothing before the first slot, then exactly one backup per slot, at the slot; Friday's run pruned Monday's.
        Assert.Equal([[], [mon], [mon, wed], [wed, fri]], seen);
        var backups = await PolicyCalls.BackupsAsync(Alice, vaultId);
        Assert.All(backups, b => Assert.True(b.Auto, "a policy's backup shows auto_trigger"));
        Assert.All((await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?vault_id={vaultId}")).Expect(200)["backups"].AsArray(),
            b => Assert.Equal("available", (string?)b!["status"]));

        // The next run waits for Monday 14:00 of the next week, and it is the only one waiting.
        Assert.Equal([Monday.AddDays(7).AddHours(14).ToUnixTimeMilliseconds()], await PendingRunsAsync(policyId));
    }

    [Fact]
    public async Task A_week_of_a_daily_policy_on_a_disk_vault_backs_up_the_disk_each_day_keeps_three_and_each_holds_that_day_s_bytes()
    {
        var diskId = await Servers.CreateVolumeAsync(Alice, size: 10);
        var vaultId = (string)(await Alice.PostAsync($"/v3/{Alice.ProjectId}/vaults", Cbr.VaultBody(Cbr.NewName(), 40, "disk",
            [new { type = "OS::Cinder::Volume", id = diskId, extra_info = new { } }]))).Expect(200)["vault"]["id"]!;
        var policyId = await PolicyCalls.CreateAsync(Alice, ["FREQ=DAILY;INTERVAL=1;BYHOUR=03;BYMINUTE=00"], new { max_backups = 3 });
        await PolicyCalls.AssociateAsync(Alice, vaultId, policyId);

        // Each day at 01:00 the disk gets that day's bytes; the 03:00 run must capture exactly those.
        static byte[] DayBytes(int day) => DiskBytes.Pattern(700 + day, 8192);
        var seen = new List<List<string>>();
        for (var hour = 1; hour <= 7 * 24; hour++)
        {
            await AdvanceToAsync(Monday.AddHours(hour));
            if (hour % 24 == 1) await DiskBytes.WriteAsync(Alice, diskId, 0, DayBytes(hour / 24));
            var now = (await PolicyCalls.BackupsAsync(Alice, vaultId)).Select(b => b.CreatedAt).ToList();
            if (seen.Count == 0 || !seen[^1].SequenceEqual(now)) seen.Add(now);
        }

        var day = Enumerable.Range(0, 7).Select(d => Wire(Monday.AddDays(d).AddHours(3))).ToArray();
        // One backup per day at 03:00; from Thursday on, each run pruned the oldest, keeping three.
        Assert.Equal([[], [day[0]], [day[0], day[1]], [day[0], day[1], day[2]], [day[1], day[2], day[3]], [day[2], day[3], day[4]],
            [day[3], day[4], day[5]], [day[4], day[5], day[6]]], seen);
        var backups = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?vault_id={vaultId}")).Expect(200)["backups"].AsArray()
            .OrderBy(b => (string)b!["created_at"]!, StringComparer.Ordinal).ToList();
        Assert.All(backups, b =>
        {
            Assert.Equal("OS::Cinder::Volume", (string?)b!["resource_type"]);
            Assert.Equal(diskId, (string?)b["resource_id"]);
            Assert.Equal("available", (string?)b["status"]);
            Assert.True((bool)b["extend_info"]!["auto_trigger"]!);
        });
        Assert.Equal("available", (string?)(await Alice.GetAsync($"/v2/{Alice.ProjectId}/cloudvolumes/{diskId}")).Expect(200)["volume"]["status"]);

        // Each kept backup holds the bytes the disk had at its run: a disk made from it reads them back.
        foreach (var (backup, n) in backups.Select((b, n) => (b!, n + 4)))
        {
            var created = (await Alice.PostAsync($"/v2.1/{Alice.ProjectId}/cloudvolumes", new
            {
                volume = new { availability_zone = Servers.Zone, volume_type = "SAS", backup_id = (string)backup["id"]!, name = Servers.UniqueName("frombk") },
            })).Expect(200);
            var copyId = (string)(await Alice.WaitForJobSuccessAsync((string)created["job_id"]!))["entities"]!["volume_id"]!;
            Assert.Equal(DayBytes(n), await DiskBytes.ReadAsync(Alice, copyId, 0, 8192));
        }
        Assert.NotEqual(DayBytes(4), DayBytes(5));
    }

    [Fact]
    public async Task A_run_that_finds_its_vault_full_records_a_failed_backup_log_and_the_schedule_goes_on_until_the_vault_is_expanded()
    {
        var server = await TestServers.CreateAsync(_service, Alice); // 40 GB
        var vaultId = await Cbr.CreateVaultAsync(Alice, 60, server.Id);
        var policyId = await PolicyCalls.CreateAsync(Alice, ["FREQ=DAILY;INTERVAL=1;BYHOUR=02;BYMINUTE=00"], new { max_backups = 10 });
        await PolicyCalls.AssociateAsync(Alice, vaultId, policyId);

        // Monday's run fits (40 of 60 GB); Tuesday's would need 80.
        await AdvanceToAsync(Monday.AddDays(1).AddHours(3));
        Assert.Equal([Wire(Monday.AddHours(2))], (await PolicyCalls.BackupsAsync(Alice, vaultId)).Select(b => b.CreatedAt));
        var logs = $"/v3/{Alice.ProjectId}/operation-logs";
        var failed = (await Alice.GetAsync($"{logs}?vault_id={vaultId}&status=failed")).Expect(200);
        Assert.Equal(1, (int)failed["count"]!);
        var log = failed["operation_logs"]![0]!;
        Assert.Equal("backup", (string?)log["operation_type"]);
        Assert.Equal(policyId, (string?)log["policy_id"]);
        Assert.Equal(vaultId, (string?)log["vault_id"]);
        Assert.Equal("BackupService.6114", (string?)log["error_info"]!["code"]);
        Assert.Equal(Wire(Monday.AddDays(1).AddHours(2)), (string?)log["started_at"]);
        Assert.Equal("failed", (string?)(await Alice.GetAsync($"{logs}/{(string)log["id"]!}")).Expect(200)["operation_log"]["status"]);
        // Monday's own backup shows as a successful backup log of the policy.
        var succeeded = (await Alice.GetAsync($"{logs}?vault_id={vaultId}&status=success&operation_type=backup")).Expect(200)["operation_logs"]!.AsArray();
        Assert.Equal(policyId, (string?)Assert.Single(succeeded)!["policy_id"]);
        // The scheduler did not stop: Wednesday's run is waiting, and the server is free.
        Assert.Equal([Monday.AddDays(2).AddHours(2).ToUnixTimeMilliseconds()], await PendingRunsAsync(policyId));
        Assert.Null(await TestServers.TaskStateAsync(Alice, server.Id));

        // Expanded, the vault takes Wednesday's backup.
        (await Alice.PutAsync($"/v3/{Alice.ProjectId}/vaults/{vaultId}", new { vault = new { billing = new { size = 80 } } })).Expect(200);
        await AdvanceToAsync(Monday.AddDays(2).AddHours(3));
        Assert.Equal([Wire(Monday.AddHours(2)), Wire(Monday.AddDays(2).AddHours(2))],
            (await PolicyCalls.BackupsAsync(Alice, vaultId)).Select(b => b.CreatedAt));
        Assert.Equal(1, (int)(await Alice.GetAsync($"{logs}?vault_id={vaultId}&status=failed")).Expect(200)["count"]!);
    }

    [Fact]
    public async Task Retention_never_deletes_a_backup_that_a_whole_image_uses()
    {
        var server = await TestServers.CreateAsync(_service, Alice);
        var vaultId = await Cbr.CreateVaultAsync(Alice, 200, server.Id);
        var policyId = await PolicyCalls.CreateAsync(Alice, ["FREQ=DAILY;INTERVAL=1;BYHOUR=06;BYMINUTE=00"], new { max_backups = 1 });
        await PolicyCalls.AssociateAsync(Alice, vaultId, policyId);

        await AdvanceToAsync(Monday.AddHours(7));
        var first = Assert.Single(await PolicyCalls.BackupsAsync(Alice, vaultId));
        var (_, image) = await WholeImages.WaitForImageAsync(Alice, await WholeImages.CreateAsync(Alice, WholeImages.FromCbr(first.Id)));

        await AdvanceToAsync(Monday.AddDays(3).AddHours(7));
        // Tuesday's and Wednesday's went as the next came; Monday's stays under its image, beside Thursday's.
        Assert.Equal([first.Id, (await PolicyCalls.BackupsAsync(Alice, vaultId))[^1].Id],
            (await PolicyCalls.BackupsAsync(Alice, vaultId)).Select(b => b.Id));
        Assert.Equal(Wire(Monday.AddDays(3).AddHours(6)), (await PolicyCalls.BackupsAsync(Alice, vaultId))[^1].CreatedAt);

        // Once the image is gone, the next run prunes it.
        (await Alice.DeleteAsync($"/v2/images/{(string)image["id"]!}")).Expect(204);
        await AdvanceToAsync(Monday.AddDays(4).AddHours(7));
        Assert.Equal([Wire(Monday.AddDays(4).AddHours(6))], (await PolicyCalls.BackupsAsync(Alice, vaultId)).Select(b => b.CreatedAt));
    }

    [Fact]
    public async Task Slots_missed_while_the_service_was_down_make_one_run_at_start_up_and_the_schedule_goes_on_from_there()
    {
        var server = await TestServers.CreateAsync(_service, Alice);
        var vaultId = await Cbr.CreateVaultAsync(Alice, 200, server.Id);
        var policyId = await PolicyCalls.CreateAsync(Alice, ["FREQ=DAILY;INTERVAL=1;BYHOUR=02;BYMINUTE=00"], new { max_backups = 10 });
        await PolicyCalls.AssociateAsync(Alice, vaultId, policyId);
        await AdvanceToAsync(Monday.AddHours(3));
        Assert.Single(await PolicyCalls.BackupsAsync(Alice, vaultId));

        // Down from Monday 03:00 to Thursday 10:00: the slots of Tuesday, Wednesday and Thursday pass unseen.
        await _service.DisposeAsync();
        _clock.SetUtcNow(Monday.AddDays(3).AddHours(10));
        _service = await StartAsync();
        await SettleAsync();

        Assert.Equal([Wire(Monday.AddHours(2)), Wire(Monday.AddDays(3).AddHours(10))],
            (await PolicyCalls.BackupsAsync(Alice, vaultId)).Select(b => b.CreatedAt));
        Assert.Equal([Monday.AddDays(4).AddHours(2).ToUnixTimeMilliseconds()], await PendingRunsAsync(policyId));
        await AdvanceToAsync(Monday.AddDays(4).AddHours(3));
        Assert.Equal(3, (await PolicyCalls.BackupsAsync(Alice, vaultId)).Count);
    }

    [Fact]
    public async Task A_schedule_lost_with_an_abandoned_run_is_restored_at_start_up()
    {
        var server = await TestServers.CreateAsync(_service, Alice);
        var vaultId = await Cbr.CreateVaultAsync(Alice, 200, server.Id);
        var policyId = await PolicyCalls.CreateAsync(Alice, ["FREQ=DAILY;INTERVAL=1;BYHOUR=02;BYMINUTE=00"], new { max_backups = 10 });
        await PolicyCalls.AssociateAsync(Alice, vaultId, policyId);

        // The waiting run's job was abandoned (it failed repeatedly) before it could schedule the next one.
        await using (var write = await Db.BeginWriteAsync(CancellationToken.None))
        {
            await write.Connection.ExecuteAsync("UPDATE jobs SET status = 'FAIL' WHERE job_type = 'backupPolicyRun'", transaction: write.Transaction);
            await write.Connection.ExecuteAsync("DELETE FROM policy_runs WHERE policy_id = @policyId", new { policyId }, write.Transaction);
            await write.CommitAsync(CancellationToken.None);
        }
        await _service.DisposeAsync();
        _clock.SetUtcNow(Monday.AddHours(5));
        _service = await StartAsync();

        Assert.Equal([Monday.AddDays(1).AddHours(2).ToUnixTimeMilliseconds()], await PendingRunsAsync(policyId));
        await AdvanceToAsync(Monday.AddDays(1).AddHours(3));
        Assert.Equal([Wire(Monday.AddDays(1).AddHours(2))], (await PolicyCalls.BackupsAsync(Alice, vaultId)).Select(b => b.CreatedAt));
    }

    [Fact]
    public async Task Changing_disabling_and_deleting_a_policy_leaves_at_most_one_run_waiting_and_only_the_current_schedule_runs()
    {
        var server = await TestServers.CreateAsync(_service, Alice);
        var vaultId = await Cbr.CreateVaultAsync(Alice, 200, server.Id);
        var policyId = await PolicyCalls.CreateAsync(Alice, ["FREQ=DAILY;INTERVAL=1;BYHOUR=04;BYMINUTE=00"], new { max_backups = 10 });
        await PolicyCalls.AssociateAsync(Alice, vaultId, policyId);
        var path = $"/v3/{Alice.ProjectId}/policies/{policyId}";

        // Each change withdraws the waiting run and schedules from the new rule.
        (await Alice.PutAsync(path, new { policy = new { trigger = new { properties = new { pattern = new[] { "FREQ=DAILY;INTERVAL=1;BYHOUR=08;BYMINUTE=00" } } } } })).Expect(200);
        (await Alice.PutAsync(path, new { policy = new { name = Cbr.NewName("renamed") } })).Expect(200);
        Assert.Equal([Monday.AddHours(8).ToUnixTimeMilliseconds()], await PendingRunsAsync(policyId));
        (await Alice.PutAsync(path, new { policy = new { enabled = false } })).Expect(200);
        Assert.Empty(await PendingRunsAsync(policyId));
        await AdvanceToAsync(Monday.AddHours(9));
        Assert.Empty(await PolicyCalls.BackupsAsync(Alice, vaultId));

        (await Alice.PutAsync(path, new { policy = new { enabled = true } })).Expect(200);
        await AdvanceToAsync(Monday.AddDays(1).AddHours(9));
        // Only 08:00 on Tuesday ran: the withdrawn 04:00 and Monday 08:00 runs did nothing.
        Assert.Equal([Wire(Monday.AddDays(1).AddHours(8))], (await PolicyCalls.BackupsAsync(Alice, vaultId)).Select(b => b.CreatedAt));
        Assert.Equal(1, await UnfinishedRunJobsAsync());

        (await Alice.DeleteAsync(path)).Expect(204);
        await AdvanceToAsync(Monday.AddDays(2).AddHours(9));
        Assert.Single(await PolicyCalls.BackupsAsync(Alice, vaultId));
        Assert.Equal(0, await UnfinishedRunJobsAsync());
        Assert.Empty((await Alice.GetAsync($"/v3/{Alice.ProjectId}/policies?vault_id={vaultId}")).Expect(200)["policies"].AsArray());
    }

    [Fact]
    public async Task A_csbs_policy_backs_up_its_servers_on_schedule_and_keeps_the_newest_two()
    {
        var server = await TestServers.CreateAsync(_service, Alice);
        var body = CsbsPolicyApiTests.Body(Cbr.NewName("csbs"),
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nRRULE:FREQ=WEEKLY;BYDAY=TU,TH,SA;BYHOUR=12;BYMINUTE=27\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            new { max_backups = 2, permanent = false }, (server.Id, server.Name));
        (await Alice.PostAsync($"/v1/{Alice.ProjectId}/policies", body)).Expect(200);

        await AdvanceToAsync(Monday.AddDays(7));

        var items = (await Alice.GetAsync($"/v1/{Alice.ProjectId}/checkpoint_items?resource_id={server.Id}")).Expect(200)["checkpoint_items"].AsArray();
        // Tuesday's went when Saturday's came; each item is an automatic, available backup taken at its slot.
        Assert.Equal([Wire(Monday.AddDays(3).AddHours(12).AddMinutes(27)), Wire(Monday.AddDays(5).AddHours(12).AddMinutes(27))],
            items.Select(i => (string)i!["created_at"]!).Order(StringComparer.Ordinal));
        Assert.All(items, i =>
        {
            Assert.Equal("available", (string?)i!["status"]);
            Assert.True((bool)i["extend_info"]!["auto_trigger"]!);
        });
    }

    [Fact]
    public async Task Full_backup_interval_makes_every_third_backup_after_the_first_a_full_one()
    {
        var server = await TestServers.CreateAsync(_service, Alice);
        var vaultId = await Cbr.CreateVaultAsync(Alice, 200, server.Id);
        var policyId = await PolicyCalls.CreateAsync(Alice, ["FREQ=DAILY;INTERVAL=1;BYHOUR=01;BYMINUTE=00"],
            new { max_backups = 10, week_backups = 1, timezone = "UTC+01:00", full_backup_interval = 2 });
        await PolicyCalls.AssociateAsync(Alice, vaultId, policyId);

        await AdvanceToAsync(Monday.AddDays(5));

        var backups = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?vault_id={vaultId}")).Expect(200)["backups"].AsArray()
            .OrderBy(b => (string)b!["created_at"]!, StringComparer.Ordinal).Select(b => (bool)b!["extend_info"]!["incremental"]!);
        // The first is full, then two incremental ones, then a full one again.
        Assert.Equal([false, true, true, false, true], backups);
    }

    [Fact]
    public async Task Two_nodes_scheduling_the_same_slot_at_once_make_one_run()
    {
        var policyId = await PolicyCalls.CreateAsync(Alice, ["FREQ=DAILY;INTERVAL=1;BYHOUR=05;BYMINUTE=00"], new { max_backups = 3 });
        var scheduler = _service.App.Services.GetRequiredService<PolicyScheduler>();
        var policies = _service.App.Services.GetRequiredService<PolicyStore>();

        // What two nodes' "schedule next" steps do for the same policy at the same instant, each in its own transaction.
        var slots = await Task.WhenAll(Enumerable.Range(0, 2).Select(async _ =>
        {
            await using var write = await Db.BeginWriteAsync(CancellationToken.None);
            await policies.LockAsync(write, policyId, CancellationToken.None);
            var policy = await policies.GetAsync(write, policyId, CancellationToken.None);
            var slot = await scheduler.ScheduleNextAsync(write, policy!, Monday.AddDays(1), CancellationToken.None);
            await write.CommitAsync(CancellationToken.None);
            return slot;
        }));

        Assert.All(slots, slot => Assert.Equal(Monday.AddDays(1).AddHours(5), slot));
        Assert.Equal([Monday.AddHours(5).ToUnixTimeMilliseconds(), Monday.AddDays(1).AddHours(5).ToUnixTimeMilliseconds()],
            await PendingRunsAsync(policyId));
        Assert.Equal(2, await UnfinishedRunJobsAsync());
    }

    // ----- driving the clock ----------------------------------------------------------------------------------------

    /// <summary>
    /// Moves the clock to <paramref name="until"/> an hour at a time, stopping at every instant a job is due, and lets
    /// every job due on the way finish: a run happens exactly at its slot, as on a real clock.
    /// </summary>
    private async Task AdvanceToAsync(DateTimeOffset until)
    {
        while (_clock.GetUtcNow() < until)
        {
            var now = _clock.GetUtcNow();
            var next = new[] { now.AddHours(1), until, await NextDueAsync(now) ?? until }.Min();
            _clock.Advance(next - now);
            await SettleAsync();
        }
    }

    private async Task<DateTimeOffset?> NextDueAsync(DateTimeOffset now)
    {
        await using var connection = await Db.OpenAsync(CancellationToken.None);
        var due = await connection.ExecuteScalarAsync<long?>("SELECT MIN(run_after) FROM jobs WHERE status = 'INIT' AND run_after > @now",
            new { now = now.ToUnixTimeMilliseconds() });
        return due is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
    }

    /// <summary>Waits (with a deadline) until no job due at the fake now is waiting or running.</summary>
    private Task SettleAsync() => Poll.UntilAsync(async () =>
    {
        await using var connection = await Db.OpenAsync(CancellationToken.None);
        return await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM jobs WHERE status IN ('INIT', 'RUNNING') AND run_after <= @now",
            new { now = _clock.GetUtcNow().ToUnixTimeMilliseconds() }) == 0;
    }, TimeSpan.FromSeconds(60), "the jobs due now to finish");

    private Database Db => _service.App.Services.GetRequiredService<Database>();

    private async Task<List<long>> PendingRunsAsync(string policyId)
    {
        await using var connection = await Db.OpenAsync(CancellationToken.None);
        return [.. await connection.QueryAsync<long>(
            "SELECT scheduled_at FROM policy_runs WHERE policy_id = @policyId AND started = 0 ORDER BY scheduled_at", new { policyId })];
    }

    private async Task<long> UnfinishedRunJobsAsync()
    {
        await using var connection = await Db.OpenAsync(CancellationToken.None);
        return await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM jobs WHERE job_type = 'backupPolicyRun' AND status IN ('INIT', 'RUNNING')");
    }
}
