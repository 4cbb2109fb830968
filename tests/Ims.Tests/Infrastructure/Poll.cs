using System.Diagnostics;

namespace Ims.Tests.Infrastructure;

/// <summary>Waits for a condition with a deadline; the loop re-checks at once and only yields briefly between checks.</summary>
public static class Poll
{
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await condition()) return;
            if (clock.Elapsed > timeout) Assert.Fail($"Timed out after {timeout.TotalSeconds:0}s waiting for {what}.");
            await Task.Delay(TimeSpan.FromMilliseconds(20));
        }
    }
}
