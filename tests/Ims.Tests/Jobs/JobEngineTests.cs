using System.Collections.Concurrent;
using Dapper;
using Ims.Service.Jobs;
using Ims.Service.Storage;
using Ims.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Ims.Tests.Jobs;

/// <summary>
/// The durable job engine against a real SQLite file, with time driven by a fake clock: a worker that dies
/// mid-job loses its lease, and another worker resumes the job from its last finished step.
/// </summary>
public sealed class JobEngineTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private TestService _service = null!;

    public async Task InitializeAsync() =>
        // No hosted workers: each test plays the workers itself.
        _service = await TestService.StartAsync(configure: b =>
        {
            b.Services.AddSingleton<TimeProvider>(_clock);
            b.Services.AddSingleton<JobHandler, CountingHandler>();
            b.Services.AddSingleton<JobHandler, FailingHandler>();
            b.Services.AddSingleton<JobHandler, SlowWorkHandler>();
            b.Services.AddSingleton<JobHandler, UpgradedHandler>();
            b.Services.AddSingleton<JobHandler, HeldWorkHandler>();
        }, extra: ["--Ims:Jobs:Workers=0", "--Ims:Jobs:Lease=00:00:30"]);

    public async Task DisposeAsync() => await _service.DisposeAsync();

    private Database Db => _service.App.Services.GetRequiredService<Database>();
    private JobQueue Queue => _service.App.Services.GetRequiredService<JobQueue>();

    [Fact]
    public async Task A_job_bound_to_another_node_is_left_to_it_and_one_bound_to_this_node_is_claimed()
    {
        var here = _service.App.Services.GetRequiredService<IOptions<Service.Nodes.NodeOptions>>().Value.Name;
        await EnqueueAsync(CountingHandler.Type, node: "some-other-node");
        Assert.Null(await Queue.ClaimAsync("worker", CancellationToken.None));

        var mine = await EnqueueAsync(CountingHandler.Type, node: here);
        Assert.Equal(mine, (await Queue.ClaimAsync("worker", CancellationToken.None))?.Id);
        var unbound = await EnqueueAsync(CountingHandler.Type);
        Assert.Equal(unbound, (await Queue.ClaimAsync("worker", CancellationToken.None))?.Id);
        Assert.Null(await Queue.ClaimAsync("worker", CancellationToken.None));
    }

    [Fact]
    public async Task A_job_whose_worker_died_is_resumed_from_its_last_finished_step()
    {
        var jobId = await EnqueueAsync(CountingHandler.Type);

        // A worker claims the job, finishes step 1, and dies without a word.
        var claimed = await Queue.ClaimAsync("doomed-worker", CancellationToken.None);
        Assert.Equal(jobId, claimed!.Id);
        var handler = new CountingHandler();
        var context = new JobContext(claimed, _clock, _service.App.Services);
        await using (var write = await Db.BeginWriteAsync(CancellationToken.None))
        {
            await handler.Steps[0].CommitAsync(context, null, write, CancellationToken.None);
            Assert.True(await Queue.RecordStepAsync(write, jobId, "doomed-worker", "step-1", context.Entities, false, CancellationToken.None));
            await write.CommitAsync(CancellationToken.None);
        }

        // While its lease holds, nobody else may take the job.
        Assert.Null(await Queue.ClaimAsync("rescuer", CancellationToken.None));

        await using var runner = await StartRunnerAsync();
        _clock.Advance(TimeSpan.FromSeconds(31));
        var job = await WaitForEndAsync(jobId);

        Assert.Equal(JobStatus.Success, job.Status);
        Assert.Equal("step-3", job.LastStep);
        Assert.Equal(["step-1", "step-2", "step-3"], await StepsDoneAsync(jobId));
    }

    [Fact]
    public async Task A_job_that_fails_records_its_code_and_compensates_in_the_same_transaction()
    {
        var jobId = await EnqueueAsync(FailingHandler.Type);
        await using var runner = await StartRunnerAsync();
        var job = await WaitForEndAsync(jobId);

        Assert.Equal(JobStatus.Fail, job.Status);
        Assert.Equal("IMG.0182", job.ErrorCode);
        Assert.Equal("Insufficient vault capacity.", job.FailReason);
        Assert.NotNull(job.EndTime);
        Assert.Equal(["compensated", "step-1"], await StepsDoneAsync(jobId)); // sorted by key
    }

    [Fact]
    public async Task A_lost_lease_rolls_back_the_step_of_the_old_owner()
    {
        var jobId = await EnqueueAsync(CountingHandler.Type);
        var claimed = await Queue.ClaimAsync("slow-worker", CancellationToken.None);
        _clock.Advance(TimeSpan.FromSeconds(31));
        Assert.NotNull(await Queue.ClaimAsync("fast-worker", CancellationToken.None));

        // The slow worker wakes up and tries to record step 1: it no longer owns the job.
        var context = new JobContext(claimed!, _clock, _service.App.Services);
        await using (var write = await Db.BeginWriteAsync(CancellationToken.None))
        {
            await new CountingHandler().Steps[0].CommitAsync(context, null, write, CancellationToken.None);
            Assert.False(await Queue.RecordStepAsync(write, jobId, "slow-worker", "step-1", context.Entities, false, CancellationToken.None));
        }
        Assert.Empty(await StepsDoneAsync(jobId));
    }

    [Fact]
    public async Task A_step_working_longer_than_the_lease_keeps_its_job()
    {
        var jobId = await EnqueueAsync(SlowWorkHandler.Type);
        var release = SlowWorkHandler.Releases.GetOrAdd(jobId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        await using var runner = await StartRunnerAsync();
        await Poll.UntilAsync(() => Task.FromResult(SlowWorkHandler.Working.ContainsKey(jobId)), TimeSpan.FromSeconds(20), "the work to start");

        // Forty seconds of a thirty-second lease pass while the step works: the worker must keep renewing it.
        for (var round = 0; round < 4; round++)
        {
            var before = await LeaseUntilAsync(jobId);
            _clock.Advance(TimeSpan.FromSeconds(10));
            await Poll.UntilAsync(async () => await LeaseUntilAsync(jobId) > before, TimeSpan.FromSeconds(20), "a lease renewal");
        }
        Assert.Null(await Queue.ClaimAsync("rescuer", CancellationToken.None));

        release.SetResult();
        var job = await WaitForEndAsync(jobId);
        Assert.Equal(JobStatus.Success, job.Status);
        await using var connection = await Db.OpenAsync(CancellationToken.None);
        Assert.Equal(1, await connection.ExecuteScalarAsync<long>("SELECT attempts FROM jobs WHERE id = @jobId", new { jobId }));
    }

    [Fact]
    public async Task A_job_in_flight_resumes_after_the_step_it_recorded_by_name_wherever_that_step_now_is()
    {
        // The job finished step-1 under a release whose handler ran [step-1, step-2]; this release put "audit" first.
        // Resuming by position would run step-1 again (its marker row would collide) and never reach step-2.
        var jobId = await EnqueueAsync(UpgradedHandler.Type);
        await FinishStepAndDieAsync(jobId, CountingHandler.Mark("step-1"));

        await using var runner = await StartRunnerAsync();
        _clock.Advance(TimeSpan.FromSeconds(31));
        var job = await WaitForEndAsync(jobId);

        Assert.Equal(JobStatus.Success, job.Status);
        Assert.Equal("step-2", job.LastStep);
        Assert.Equal(["step-1", "step-2"], await StepsDoneAsync(jobId));
    }

    [Fact]
    public async Task A_job_whose_recorded_step_its_handler_no_longer_has_fails_with_an_internal_error_after_its_compensation()
    {
        // A step the job finished was renamed or removed since: running whatever now sits at its position could harm
        // the job's resources, so the job ends with the handler's internal code, its compensation, and a reason to read.
        var jobId = await EnqueueAsync(FailingHandler.Type);
        await FinishStepAndDieAsync(jobId, CountingHandler.Mark("retired-step"));

        await using var runner = await StartRunnerAsync();
        _clock.Advance(TimeSpan.FromSeconds(31));
        var job = await WaitForEndAsync(jobId);

        Assert.Equal(JobStatus.Fail, job.Status);
        Assert.Equal("IMG.0014", job.ErrorCode);
        Assert.Equal("The job cannot resume: its last finished step [retired-step] is not a step of testFailing in this version of the service.",
            job.FailReason);
        Assert.Equal(["compensated", "retired-step"], await StepsDoneAsync(jobId)); // step-1 and step-2 never ran
    }

    [Fact]
    public async Task What_a_step_work_holds_is_released_once_when_its_commit_is_recorded_and_when_the_step_fails()
    {
        var succeeding = await EnqueueAsync(HeldWorkHandler.Type, new HeldWorkPayload(Fail: false));
        var failing = await EnqueueAsync(HeldWorkHandler.Type, new HeldWorkPayload(Fail: true));
        await using var runner = await StartRunnerAsync();

        var done = await WaitForEndAsync(succeeding);
        var failed = await WaitForEndAsync(failing);

        Assert.Equal(JobStatus.Success, done.Status);
        Assert.Equal(JobStatus.Fail, failed.Status);
        Assert.Equal("IMG.0182", failed.ErrorCode);
        // The commit saw the work's result still held; the engine released it exactly once, after the transaction.
        Assert.Equal((true, 1), HeldWorkHandler.Seen[succeeding]);
        Assert.Equal((true, 1), HeldWorkHandler.Seen[failing]);
        Assert.Equal(["held"], await StepsDoneAsync(succeeding));
        Assert.Equal(["compensated"], await StepsDoneAsync(failing)); // the failing commit's marker was rolled back
    }

    [Fact]
    public async Task What_a_step_work_holds_is_released_when_another_worker_took_the_job_before_the_commit()
    {
        var jobId = await EnqueueAsync(HeldWorkHandler.Type, new HeldWorkPayload(Fail: false, Gated: true));
        await using var runner = await StartRunnerAsync();
        await Poll.UntilAsync(() => Task.FromResult(HeldWorkHandler.Working.ContainsKey(jobId)), TimeSpan.FromSeconds(20), "the work to start");

        // Another worker owns the job now, as after a lapsed lease; then the old owner's work returns.
        await SetLeaseOwnerAsync(jobId, "rescuer");
        HeldWorkHandler.Gate(jobId).SetResult();

        await Poll.UntilAsync(() => Task.FromResult(HeldWorkHandler.Seen.TryGetValue(jobId, out var seen) && seen.Releases > 0),
            TimeSpan.FromSeconds(20), "the work's result to be released");
        Assert.Equal((true, 1), HeldWorkHandler.Seen[jobId]);
        Assert.Empty(await StepsDoneAsync(jobId)); // the old owner's commit was rolled back
        Assert.Equal(("rescuer", (string?)null), await LeaseOwnerAndLastStepAsync(jobId));
    }

    [Fact]
    public async Task What_a_step_work_holds_is_released_when_the_node_shuts_down_before_the_commit()
    {
        var jobId = await EnqueueAsync(HeldWorkHandler.Type, new HeldWorkPayload(Fail: false, Gated: true));
        var runner = await StartRunnerAsync();
        await using (runner)
        {
            await Poll.UntilAsync(() => Task.FromResult(HeldWorkHandler.Working.ContainsKey(jobId)), TimeSpan.FromSeconds(20), "the work to start");

            var stopping = runner.StopAsync();
            HeldWorkHandler.Gate(jobId).SetResult();
            await stopping;
        }

        Assert.Equal(1, HeldWorkHandler.Seen[jobId].Releases);
        Assert.Empty(await StepsDoneAsync(jobId));
        // Handed back for the next start, with no step recorded.
        Assert.Equal(((string?)null, (string?)null), await LeaseOwnerAndLastStepAsync(jobId));
    }

    private async Task SetLeaseOwnerAsync(string jobId, string owner)
    {
        await using var write = await Db.BeginWriteAsync(CancellationToken.None);
        await write.Connection.ExecuteAsync("UPDATE jobs SET lease_owner = @owner WHERE id = @jobId", new { jobId, owner }, write.Transaction);
        await write.CommitAsync(CancellationToken.None);
    }

    private async Task<(string? Owner, string? LastStep)> LeaseOwnerAndLastStepAsync(string jobId)
    {
        await using var connection = await Db.OpenAsync(CancellationToken.None);
        return await connection.QuerySingleAsync<(string?, string?)>("SELECT lease_owner, last_step FROM jobs WHERE id = @jobId", new { jobId });
    }

    /// <summary>A worker claims the job, commits <paramref name="step"/> and records it by its name, then dies.</summary>
    private async Task FinishStepAndDieAsync(string jobId, JobStep step)
    {
        var claimed = await Queue.ClaimAsync("doomed-worker", CancellationToken.None);
        Assert.Equal(jobId, claimed!.Id);
        var context = new JobContext(claimed, _clock, _service.App.Services);
        await using var write = await Db.BeginWriteAsync(CancellationToken.None);
        await step.CommitAsync(context, null, write, CancellationToken.None);
        Assert.True(await Queue.RecordStepAsync(write, jobId, "doomed-worker", step.Name, context.Entities, false, CancellationToken.None));
        await write.CommitAsync(CancellationToken.None);
    }

    private async Task<long> LeaseUntilAsync(string jobId)
    {
        await using var connection = await Db.OpenAsync(CancellationToken.None);
        return await connection.ExecuteScalarAsync<long>("SELECT lease_until FROM jobs WHERE id = @jobId", new { jobId });
    }

    private async Task<string> EnqueueAsync(string jobType, object? payload = null, string? node = null)
    {
        await using var write = await Db.BeginWriteAsync(CancellationToken.None);
        var id = await Queue.EnqueueAsync(write, "test", jobType, TestAccounts.Alice.ProjectId, payload ?? new { }, null, null, node,
            CancellationToken.None);
        await write.CommitAsync(CancellationToken.None);
        return id;
    }

    private async Task<RunnerHandle> StartRunnerAsync()
    {
        var services = _service.App.Services;
        var options = services.GetRequiredService<IOptions<JobOptions>>().Value;
        options.Workers = 1;
        var runner = new JobRunner(Queue, Db, services.GetServices<JobHandler>(), _clock, services,
            Options.Create(options), NullLogger<JobRunner>.Instance);
        await runner.StartAsync(CancellationToken.None);
        return new RunnerHandle(runner);
    }

    private async Task<JobRow> WaitForEndAsync(string jobId)
    {
        JobRow? job = null;
        await Poll.UntilAsync(async () =>
        {
            job = await Queue.FindAsync(TestAccounts.Alice.ProjectId, jobId, CancellationToken.None);
            return job!.Status is JobStatus.Success or JobStatus.Fail;
        }, TimeSpan.FromSeconds(20), $"job {jobId}");
        return job!;
    }

    private async Task<List<string>> StepsDoneAsync(string jobId)
    {
        await using var connection = await Db.OpenAsync(CancellationToken.None);
        var keys = await connection.QueryAsync<string>("SELECT key FROM settings WHERE key LIKE @prefix ORDER BY key", new { prefix = $"{jobId}:%" });
        return [.. keys.Select(k => k[(jobId.Length + 1)..])];
    }

    /// <summary>Each step writes a marker row; a step run twice would violate the primary key and fail the test.</summary>
    private sealed class CountingHandler : JobHandler
    {
        public const string Type = "testCounting";
        public override string JobType => Type;
        public override IReadOnlyList<JobStep> Steps { get; } = [Mark("step-1"), Mark("step-2"), Mark("step-3")];

        internal static JobStep Mark(string name) => new(name, (job, write, ct) =>
            write.Connection.ExecuteAsync(new CommandDefinition("INSERT INTO settings (key, value) VALUES (@key, 'done')",
                new { key = $"{job.JobId}:{name}" }, write.Transaction, cancellationToken: ct)));
    }

    private sealed class FailingHandler : JobHandler
    {
        public const string Type = "testFailing";
        public override string JobType => Type;
        public override IReadOnlyList<JobStep> Steps { get; } =
        [
            CountingHandler.Mark("step-1"),
            new("step-2", (_, _, _) => throw JobContext.Fail("IMG.0182", "Insufficient vault capacity.")),
        ];

        public override Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct) =>
            CountingHandler.Mark("compensated").CommitAsync(job, null, write, ct);
    }

    /// <summary>One step whose work waits until the test releases it, as a capture of a large disk takes its time.</summary>
    private sealed class SlowWorkHandler : JobHandler
    {
        public const string Type = "testSlowWork";
        public static readonly ConcurrentDictionary<string, TaskCompletionSource> Releases = new();
        public static readonly ConcurrentDictionary<string, bool> Working = new();
        public override string JobType => Type;

        public override IReadOnlyList<JobStep> Steps { get; } =
        [
            JobStep.WithWork("slow",
                async (job, ct) =>
                {
                    Working[job.JobId] = true;
                    await Releases.GetOrAdd(job.JobId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))
                        .Task.WaitAsync(ct);
                },
                (job, write, ct) => CountingHandler.Mark("slow").CommitAsync(job, null, write, ct)),
        ];
    }

    /// <summary>The steps of a handler whose release inserted "audit" before the steps jobs in flight recorded.</summary>
    private sealed class UpgradedHandler : JobHandler
    {
        public const string Type = "testUpgraded";
        public override string JobType => Type;
        public override IReadOnlyList<JobStep> Steps { get; } =
            [CountingHandler.Mark("audit"), CountingHandler.Mark("step-1"), CountingHandler.Mark("step-2")];
    }

    /// <param name="Fail">The commit fails the job.</param>
    /// <param name="Gated">The work returns only once the test opens the job's gate (<see cref="HeldWorkHandler.Gate"/>).</param>
    private sealed record HeldWorkPayload(bool Fail, bool Gated = false);

    /// <summary>A step whose work returns something held (as a capture returns its lease on new manifests).</summary>
    private sealed class HeldWorkHandler : JobHandler
    {
        public const string Type = "testHeldWork";
        /// <summary>Per job: whether the commit found the result unreleased, and how often it was released.</summary>
        public static readonly ConcurrentDictionary<string, (bool HeldAtCommit, int Releases)> Seen = new();
        public static readonly ConcurrentDictionary<string, bool> Working = new();
        private static readonly ConcurrentDictionary<string, TaskCompletionSource> Gates = new();
        public override string JobType => Type;

        public static TaskCompletionSource Gate(string jobId) =>
            Gates.GetOrAdd(jobId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

        public override IReadOnlyList<JobStep> Steps { get; } =
        [
            JobStep.WithWork("held",
                async (job, _) =>
                {
                    Working[job.JobId] = true;
                    // A gated work ignores cancellation, as a capture that finishes what it started before it returns.
                    if (job.Payload<HeldWorkPayload>().Gated) await Gate(job.JobId).Task;
                    return new Held(job.JobId);
                },
                async (job, held, write, ct) =>
                {
                    Seen[job.JobId] = (held.Releases == 0, 0);
                    await CountingHandler.Mark("held").CommitAsync(job, null, write, ct);
                    if (job.Payload<HeldWorkPayload>().Fail) throw JobContext.Fail("IMG.0182", "Insufficient vault capacity.");
                }),
        ];

        public override Task OnFailedAsync(JobContext job, WriteScope write, CancellationToken ct) =>
            CountingHandler.Mark("compensated").CommitAsync(job, null, write, ct);

        private sealed class Held(string jobId) : IDisposable
        {
            public int Releases { get; private set; }

            public void Dispose()
            {
                Releases++;
                Seen.AddOrUpdate(jobId, _ => (false, Releases), (_, seen) => (seen.HeldAtCommit, Releases));
            }
        }
    }

    private sealed class RunnerHandle(JobRunner runner) : IAsyncDisposable
    {
        public Task StopAsync() => runner.StopAsync(CancellationToken.None);

        public async ValueTask DisposeAsync()
        {
            await runner.StopAsync(CancellationToken.None);
            runner.Dispose();
        }
    }
}
