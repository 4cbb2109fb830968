namespace Ims.DataPlane.Maintenance;

/// <summary>
/// Keeps a bucket's collection apart from the captures and imports that store chunks or look them up: any number of
/// writers at once, or one collection. A collection waiting for the running writers holds new ones back, so it is not
/// starved; writers held back go on as soon as it ends.
/// </summary>
internal sealed class WriterGate
{
    private readonly SemaphoreSlim turnstile = new(1, 1);
    private readonly Lock sync = new();
    private int writers;
    private TaskCompletionSource? drained;

    public async Task<IDisposable> EnterWriterAsync(CancellationToken ct)
    {
        await turnstile.WaitAsync(ct).ConfigureAwait(false);
        lock (sync) writers++;
        turnstile.Release();
        return new Exit(ExitWriter);
    }

    public async Task<IDisposable> EnterCollectionAsync(CancellationToken ct)
    {
        await turnstile.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            Task wait;
            lock (sync)
            {
                if (writers == 0) return new Exit(() => turnstile.Release());
                drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = drained.Task;
            }
            await wait.WaitAsync(ct).ConfigureAwait(false);
            return new Exit(() => turnstile.Release());
        }
        catch
        {
            lock (sync) drained = null;
            turnstile.Release();
            throw;
        }
    }

    private void ExitWriter()
    {
        TaskCompletionSource? done = null;
        lock (sync)
        {
            if (--writers == 0)
            {
                done = drained;
                drained = null;
            }
        }
        done?.TrySetResult();
    }

    private sealed class Exit(Action exit) : IDisposable
    {
        private int done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref done, 1) == 0) exit();
        }
    }
}
