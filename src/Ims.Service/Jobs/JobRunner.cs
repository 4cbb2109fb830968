using Ims.Service.Http;
using Ims.Service.Storage;
using Microsoft.Extensions.Options;

namespace Ims.Service.Jobs;

/// <summary>
/// Workers that claim due jobs from the database and run their steps. Nothing about a job lives only in
/// memory: a worker that dies simply stops renewing its lease, and any worker resumes the job later.
/// </summary>
public sealed partial class JobRunner(
    JobQueue queue,
    Database db,
    IEnumerable<JobHandler> handlers,
    TimeProvider time,
    IServiceProvider services,
    IOptions<JobOptions> options,
    ILogger<JobRunner> logger) : BackgroundService
{
    private readonly Dictionary<string, JobHandler> _handlers = Checked(handlers).ToDictionary(h => h.JobType, StringComparer.Ordinal);
    // Resolved here rather than injected so that tests which build a runner by hand need not know about faults.
    private readonly JobFaults _faults = services.GetRequiredService<JobFaults>();
    private readonly SpaceReserve? _reserve = services.GetService<SpaceReserve>();
    /// <summary>The reason of a job that failed because the storage ran out of space (no paths: clients read it).</summary>
    public const string StorageFullReason =
        "Insufficient storage capacity: the service's storage ran out of space while the job ran. Free space and try again.";

    private readonly string _owner = $"{Environment.MachineName}/{Environment.ProcessId}/{Ids.NewHex32()[..8]}";

    private static List<JobHandler> Checked(IEnumerable<JobHandler> handlers)
    {
        var list = handlers.ToList();
        JobHandler.CheckAll(list);
        return list;
    }

    /// <summary>Zero workers makes a node that only serves the API (jobs then wait for another node).</summary>
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, Math.Max(0, options.Value.Workers)).Select(_ => WorkLoopAsync(stoppingToken)));

    private async Task WorkLoopAsync(CancellationToken stop)
    {
        await Task.Yield();
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var job = await queue.ClaimAsync(_owner, stop);
                if (job is null)
                {
                    await queue.WaitForWorkAsync(stop);
                    continue;
                }
                await RunAsync(job, stop);
                _reserve?.TryRestore();
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.LoopFailed(logger, ex);
                await Task.Delay(options.Value.PollInterval, time, stop).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    private async Task RunAsync(JobRow row, CancellationToken stop)
    {
        var context = new JobContext(row, time, services);
        if (!_handlers.TryGetValue(row.JobType, out var handler))
        {
            await FailAsync(context, null, "IMG.0014", $"No handler for job type {row.JobType}.", stop);
            return;
        }
        if (row.Attempts > options.Value.MaxAttempts)
        {
            await FailAsync(context, handler, handler.InternalErrorCode, "The job failed repeatedly and was abandoned.", stop);
            return;
        }
        var start = handler.ResumeIndex(row.LastStep);
        if (start < 0)
        {
            // Running the step that now sits at some index could do the wrong thing to this job's resources: stop it,
            // with the handler's compensation, and say why.
            await FailAsync(context, handler, handler.InternalErrorCode,
                $"The job cannot resume: its last finished step [{row.LastStep}] is not a step of {row.JobType} in this version of the service.",
                stop);
            return;
        }
        Log.Claimed(logger, row.Id, row.JobType, row.LastStep ?? "(none)");
        try
        {
            var fault = await _faults.BindRuleAsync(row, _owner, handler, stop);
            var steps = handler.Steps;
            if (start == steps.Count)
            {
                // Recording the last step ends the job in the same transaction, so this is not expected; finish it anyway
                // rather than hand it from worker to worker forever.
                await using var write = await db.BeginWriteAsync(stop);
                if (await queue.RecordStepAsync(write, row.Id, _owner, row.LastStep!, context.Entities, true, stop)) await write.CommitAsync(stop);
                return;
            }
            for (var index = start; index < steps.Count; index++)
            {
                var step = steps[index];
                if (options.Value.StepDelay > TimeSpan.Zero)
                    await Task.Delay(options.Value.StepDelay, time, stop);
                await _faults.BeforeStepAsync(fault, row, _owner, step, index, stop);
                var work = step.HasWork ? await WorkKeepingLeaseAsync(row.Id, () => step.WorkAsync(context, stop), stop) : null;
                try
                {
                    await using var write = await db.BeginWriteAsync(stop);
                    await step.CommitAsync(context, work, write, stop);
                    var finished = index == steps.Count - 1;
                    if (!await queue.RecordStepAsync(write, row.Id, _owner, step.Name, context.Entities, finished, stop))
                    {
                        Log.LostLease(logger, row.Id);
                        return; // disposing the scope rolls the step back; the new owner redoes it
                    }
                    await write.CommitAsync(stop);
                }
                finally
                {
                    // After the transaction ended, committed or not: what the work holds (a lease on new manifests)
                    // protects it only until the records that name it are committed or abandoned.
                    await JobStep.ReleaseAsync(work);
                }
            }
            Log.Finished(logger, row.Id, row.JobType);
        }
        catch (JobFailedException failure)
        {
            await FailAsync(context, handler, failure.Code, failure.Message, stop);
        }
        catch (Exception ex) when (db.StorageFull(ex) is { } full && !stop.IsCancellationRequested)
        {
            // A retry cannot succeed until someone frees space: fail now, saying why. The reserve makes room for the
            // failure's own transaction (the compensation and the FAIL) on a file system the job just filled.
            _reserve?.Release();
            Log.StorageFull(logger, row.Id, full.Message);
            await FailAsync(context, handler, handler.StorageFullCode, StorageFullReason, stop);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Shutting down: hand the job back at once so that the next start resumes it without waiting for the lease.
            await queue.ReleaseAsync(row.Id, _owner, TimeSpan.Zero, CancellationToken.None);
        }
        catch (Exception ex)
        {
            Log.StepFailed(logger, ex, row.Id);
            var backoff = TimeSpan.FromMilliseconds(Math.Min(30_000, 200 * Math.Pow(2, row.Attempts)));
            await queue.ReleaseAsync(row.Id, _owner, backoff, CancellationToken.None);
        }
    }

    /// <summary>
    /// Runs a step's work while renewing the job's lease: a capture or restore of a large disk can outlast the lease,
    /// and a lapsed lease would let another worker run the same step at the same time.
    /// </summary>
    private async Task<object?> WorkKeepingLeaseAsync(string jobId, Func<Task<object?>> work, CancellationToken stop)
    {
        using var workDone = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var keeper = KeepLeaseAsync(jobId, workDone.Token);
        try
        {
            return await work();
        }
        finally
        {
            await workDone.CancelAsync();
            await keeper;
        }
    }

    private async Task KeepLeaseAsync(string jobId, CancellationToken workDone)
    {
        try
        {
            while (true)
            {
                await Task.Delay(options.Value.Lease / 3, time, workDone);
                // A lost lease is noticed when the step is recorded; renewing further would be pointless.
                if (!await queue.RenewLeaseAsync(jobId, _owner, workDone)) return;
            }
        }
        catch (OperationCanceledException) when (workDone.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // The database refused a renewal: the lease may lapse, which the step's record detects; the work goes on.
            Log.LeaseRenewalFailed(logger, ex, jobId);
        }
    }

    private async Task FailAsync(JobContext context, JobHandler? handler, string code, string reason, CancellationToken stop)
    {
        await using var write = await db.BeginWriteAsync(stop);
        if (handler is not null) await handler.OnFailedAsync(context, write, stop);
        if (await queue.RecordFailureAsync(write, context.JobId, _owner, code, reason, context.Entities, stop))
        {
            await write.CommitAsync(stop);
            Log.Failed(logger, context.JobId, code, reason);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1001, LogLevel.Debug, "Claimed job {JobId} ({JobType}) after step {LastStep}")]
        public static partial void Claimed(ILogger logger, string jobId, string jobType, string lastStep);

        [LoggerMessage(1002, LogLevel.Information, "Job {JobId} ({JobType}) succeeded")]
        public static partial void Finished(ILogger logger, string jobId, string jobType);

        [LoggerMessage(1003, LogLevel.Information, "Job {JobId} failed with {Code}: {Reason}")]
        public static partial void Failed(ILogger logger, string jobId, string code, string reason);

        [LoggerMessage(1008, LogLevel.Warning, "Renewing the lease of job {JobId} failed")]
        public static partial void LeaseRenewalFailed(ILogger logger, Exception ex, string jobId);

        [LoggerMessage(1004, LogLevel.Warning, "Job {JobId} lost its lease; another worker resumes it")]
        public static partial void LostLease(ILogger logger, string jobId);

        [LoggerMessage(1005, LogLevel.Error, "A step of job {JobId} threw; the job is retried")]
        public static partial void StepFailed(ILogger logger, Exception ex, string jobId);

        [LoggerMessage(1009, LogLevel.Warning, "Job {JobId} ran out of space and fails: {Detail}")]
        public static partial void StorageFull(ILogger logger, string jobId, string detail);

        [LoggerMessage(1006, LogLevel.Error, "The job worker loop failed")]
        public static partial void LoopFailed(ILogger logger, Exception ex);
    }
}
