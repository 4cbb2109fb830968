using System.Text.RegularExpressions;
using Dapper;
using Ims.Service.Jobs;
using Ims.Service.Storage;
using Ims.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Ims.Tests.Jobs;

/// <summary>
/// Step names are the jobs' persisted progress: every job type runs the steps docs/architecture.md lists, names are
/// unique within a handler, and the upgrade from counts to names resumes jobs in flight where they were.
/// </summary>
public sealed partial class JobStepNameTests
{
    [Fact]
    public async Task Every_job_type_runs_the_steps_the_architecture_document_lists_in_that_order()
    {
        // A reordered, renamed, added or removed step fails here: such a change must consider the jobs in flight
        // (docs/architecture.md, "Jobs") and update the table.
        await using var service = await TestService.StartAsync(extra: ["--Ims:Jobs:Workers=0"]);
        var running = service.App.Services.GetServices<JobHandler>()
            .ToDictionary(h => h.JobType, h => h.Steps.Select(s => s.Name).ToList(), StringComparer.Ordinal);

        var documented = DocumentedSteps();

        Assert.Equal(documented.Keys.Order(StringComparer.Ordinal), running.Keys.Order(StringComparer.Ordinal));
        foreach (var (jobType, steps) in documented) Assert.True(steps.SequenceEqual(running[jobType]),
            $"{jobType} runs [{string.Join(", ", running[jobType])}], the document lists [{string.Join(", ", steps)}]");
    }

    [Fact]
    public async Task A_handler_with_two_steps_of_one_name_stops_the_start()
    {
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            TestService.StartAsync(configure: b => b.Services.AddSingleton<JobHandler, TwiceNamedHandler>()));
        Assert.Equal("The job handlers are inconsistent: job type [testTwiceNamed] has 2 steps named [settle].", refused.Message);
    }

    [Fact]
    public async Task The_upgrade_to_step_names_maps_each_recorded_count_to_the_step_it_ended_with()
    {
        var dataDir = TestService.NewDataDir();
        var db = new SqliteDatabase(Path.Combine(dataDir, "ims.db"));
        await MigrateUpToAsync(db, 13);
        (string Id, string JobType, string Status, long Step)[] rows =
        [
            ("server-disks-made", "createServer", "RUNNING", 1),
            ("mode-a-bytes-captured", "imsCreateWholeImageByInstanceJob", "RUNNING", 2),
            ("mode-a-backup-finished", "imsCreateWholeImageByInstanceJob", "RUNNING", 3),
            ("checkpoint-captured", "cbrCreateCheckpoint", "RUNNING", 1),
            ("csbs-bytes-captured", "csbsCreateBackup", "RUNNING", 2),
            ("copy-replicated", "imsCrossRegionCopyImageJob", "RUNNING", 1),
            ("volume-not-started", "createVolume", "INIT", 0),
            ("volume-deleted", "deleteVolume", "SUCCESS", 1),
            ("unknown-kind", "retiredJobType", "RUNNING", 1),
        ];
        await using (var write = await db.BeginWriteAsync(CancellationToken.None))
        {
            foreach (var row in rows)
                await write.Connection.ExecuteAsync(
                    """
                    INSERT INTO jobs (id, project_id, service, job_type, status, payload, entities, step, run_after, begin_time)
                    VALUES (@Id, 'p', 'test', @JobType, @Status, '{}', '{}', @Step, 0, 0)
                    """, new { row.Id, row.JobType, row.Status, row.Step }, write.Transaction);
            await write.CommitAsync(CancellationToken.None);
        }

        // The service upgrades the database when it starts.
        await using var service = await TestService.StartAsync(dataDir, extra: ["--Ims:Jobs:Workers=0"]);
        Dictionary<string, string?> lastSteps;
        List<string> columns;
        await using (var connection = await db.OpenAsync(CancellationToken.None))
        {
            lastSteps = (await connection.QueryAsync<(string Id, string? LastStep)>("SELECT id, last_step FROM jobs"))
                .ToDictionary(r => r.Id, r => r.LastStep, StringComparer.Ordinal);
            await using var reader = await connection.ExecuteReaderAsync("SELECT * FROM jobs");
            columns = [.. Enumerable.Range(0, reader.FieldCount).Select(reader.GetName)];
        }
        Assert.DoesNotContain("step", columns);

        Assert.Equal("create disks", lastSteps["server-disks-made"]);
        Assert.Equal("capture bytes", lastSteps["mode-a-bytes-captured"]);
        Assert.Equal("complete", lastSteps["mode-a-backup-finished"]);
        Assert.Equal("capture", lastSteps["checkpoint-captured"]);
        Assert.Equal("capture bytes", lastSteps["csbs-bytes-captured"]);
        Assert.Equal("ReplicateBackup", lastSteps["copy-replicated"]);
        Assert.Null(lastSteps["volume-not-started"]);
        Assert.Equal("delete", lastSteps["volume-deleted"]);

        // Each job in flight resumes at the step that came next before the upgrade: mode A after its old CaptureDisks
        // runs what FinishBackup did (complete), after FinishBackup it registers the image.
        var handlers = service.App.Services.GetServices<JobHandler>().ToDictionary(h => h.JobType, StringComparer.Ordinal);
        string NextStep(string id, string jobType) => handlers[jobType].Steps[handlers[jobType].ResumeIndex(lastSteps[id])].Name;
        Assert.Equal("boot servers", NextStep("server-disks-made", "createServer"));
        Assert.Equal("complete", NextStep("mode-a-bytes-captured", "imsCreateWholeImageByInstanceJob"));
        Assert.Equal("RegisterImage", NextStep("mode-a-backup-finished", "imsCreateWholeImageByInstanceJob"));
        Assert.Equal("capture bytes", NextStep("checkpoint-captured", "cbrCreateCheckpoint"));
        Assert.Equal("complete", NextStep("csbs-bytes-captured", "csbsCreateBackup"));
        Assert.Equal("RegisterImage", NextStep("copy-replicated", "imsCrossRegionCopyImageJob"));
        Assert.Equal("create", NextStep("volume-not-started", "createVolume"));
        // A count the upgrade did not know is a name no handler has: that job fails rather than start over.
        Assert.Equal("step 1 of an earlier release", lastSteps["unknown-kind"]);
        Assert.All(handlers.Values, h => Assert.Equal(-1, h.ResumeIndex(lastSteps["unknown-kind"])));
    }

    /// <summary>Applies the service's own migration scripts up to <paramref name="version"/>, as an older release did.</summary>
    private static async Task MigrateUpToAsync(Database db, int version)
    {
        var assembly = typeof(Migrator).Assembly;
        var prefix = $"{assembly.GetName().Name}.Storage.Migrations.";
        var scripts = assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Select(n => (Name: n, File: n[prefix.Length..]))
            .Where(s => s.File.Split('.') is var parts && (parts.Length == 2 || parts[1] == db.Dialect))
            .Select(s => (Version: int.Parse(s.File[..4], System.Globalization.CultureInfo.InvariantCulture), s.Name))
            .Where(s => s.Version <= version)
            .OrderBy(s => s.Version)
            .ToList();
        Assert.Equal(version, scripts[^1].Version);
        await using var write = await db.BeginWriteAsync(CancellationToken.None);
        await write.Connection.ExecuteAsync(
            "CREATE TABLE schema_version (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL)", transaction: write.Transaction);
        foreach (var (number, name) in scripts)
        {
            using var reader = new StreamReader(assembly.GetManifestResourceStream(name)!);
            await write.Connection.ExecuteAsync(await reader.ReadToEndAsync(), transaction: write.Transaction);
            await write.Connection.ExecuteAsync("INSERT INTO schema_version (version, applied_at) VALUES (@number, 0)",
                new { number }, write.Transaction);
        }
        await write.CommitAsync(CancellationToken.None);
    }

    /// <summary>The job types and their steps from the table in docs/architecture.md, section "Jobs".</summary>
    private static Dictionary<string, List<string>> DocumentedSteps()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "docs", "architecture.md"))) dir = dir.Parent;
        Assert.NotNull(dir);
        var text = File.ReadAllText(Path.Combine(dir.FullName, "docs", "architecture.md"));
        var jobs = text[text.IndexOf("\n## Jobs\n", StringComparison.Ordinal)..];
        jobs = jobs[..jobs.IndexOf("\n## ", 1, StringComparison.Ordinal)];
        var table = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (Match row in TableRow().Matches(jobs))
            table.Add(row.Groups[1].Value, [.. Quoted().Matches(row.Groups[2].Value).Select(m => m.Groups[1].Value)]);
        Assert.NotEmpty(table);
        return table;
    }

    [GeneratedRegex(@"^\| `([A-Za-z]+)` \| (.+) \|$", RegexOptions.Multiline)]
    private static partial Regex TableRow();

    [GeneratedRegex("`([^`]+)`")]
    private static partial Regex Quoted();

    private sealed class TwiceNamedHandler : JobHandler
    {
        public override string JobType => "testTwiceNamed";
        public override IReadOnlyList<JobStep> Steps { get; } =
            [new("settle", (_, _, _) => Task.CompletedTask), new("settle", (_, _, _) => Task.CompletedTask)];
    }
}
