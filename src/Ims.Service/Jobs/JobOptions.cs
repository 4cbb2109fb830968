namespace Ims.Service.Jobs;

/// <summary>The <c>Ims:Jobs</c> configuration section, checked at start-up (<see cref="Problems"/>).</summary>
public sealed class JobOptions
{
    public const string Section = "Ims:Jobs";

    /// <summary>Pause before each job step: 0 for tests, about a second for realistic demos.</summary>
    public TimeSpan StepDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Jobs run at once on this node; 0 makes an API-only node.</summary>
    public int Workers { get; set; } = 4;

    /// <summary>How long a claimed job stays with its worker without a renewal before another may resume it.</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often idle workers look for due jobs (they are also woken when a job is queued).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Claims of a job that keeps failing unexpectedly before it is abandoned (FAIL with the internal code).</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>What is wrong with these settings, each naming its key; empty when they are usable.</summary>
    public IEnumerable<string> Problems()
    {
        if (StepDelay < TimeSpan.Zero) yield return $"{Section}:StepDelay must not be negative (it is {StepDelay}).";
        if (Workers is < 0 or > 1024) yield return $"{Section}:Workers must be between 0 (a node that only serves the API) and 1024 (it is {Workers}).";
        // The lease is renewed every third of it: below a second, a busy machine lets it lapse between renewals.
        if (Lease < TimeSpan.FromSeconds(1)) yield return $"{Section}:Lease must be at least one second (it is {Lease}).";
        if (PollInterval <= TimeSpan.Zero) yield return $"{Section}:PollInterval must be above zero (it is {PollInterval}).";
        if (MaxAttempts < 1) yield return $"{Section}:MaxAttempts must be at least 1 (it is {MaxAttempts}).";
    }
}
