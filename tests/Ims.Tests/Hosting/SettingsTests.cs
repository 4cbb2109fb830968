using Ims.Service.Hosting;
using Ims.Service.Jobs;
using Ims.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using DataPlaneStore = Ims.DataPlane.DataPlane;

namespace Ims.Tests.Hosting;

/// <summary>
/// Each feature's settings are bound from its configuration section and checked at start-up: a bad value stops the
/// start with a message naming the setting, before the database is touched; good values reach the feature.
/// </summary>
public sealed class SettingsTests
{
    public static TheoryData<string, string> BadSettings() => new()
    {
        { "--Ims:DataPlane:Parallelism=0", "Ims:DataPlane:Parallelism must be between 1 and 1024 (it is 0)." },
        { "--Ims:DataPlane:IoDepth=100000", "Ims:DataPlane:IoDepth must be between 1 and 4096 (it is 100000)." },
        { "--Ims:DataPlane:IoDepth=deep", "Failed to convert configuration value 'deep' at 'Ims:DataPlane:IoDepth'" },
        { "--Ims:Jobs:Workers=-1", "Ims:Jobs:Workers must be between 0 (a node that only serves the API) and 1024 (it is -1)." },
        { "--Ims:Jobs:Workers=four", "Failed to convert configuration value 'four' at 'Ims:Jobs:Workers'" },
        { "--Ims:Jobs:Lease=00:00:00.200", "Ims:Jobs:Lease must be at least one second (it is 00:00:00.2000000)." },
        { "--Ims:Jobs:PollInterval=00:00:00", "Ims:Jobs:PollInterval must be above zero (it is 00:00:00)." },
        { "--Ims:Jobs:StepDelay=-00:00:01", "Ims:Jobs:StepDelay must not be negative (it is -00:00:01)." },
        { "--Ims:Jobs:MaxAttempts=0", "Ims:Jobs:MaxAttempts must be at least 1 (it is 0)." },
        { "--Ims:AccountsFile=no-such-accounts.json", "Ims:AccountsFile (no-such-accounts.json) is unusable: The accounts file no-such-accounts.json does not exist." },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public void A_bad_setting_stops_the_start_with_a_message_naming_it_before_the_database_is_touched(string setting, string message)
    {
        var dataDir = TestService.NewDataDir();

        var refused = Assert.Throws<OptionsValidationException>(() => ServiceHost.Build(TestService.Arguments(dataDir, setting)));

        Assert.Contains(message, refused.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dataDir, "ims.db")));
        Assert.False(Directory.Exists(Path.Combine(dataDir, "data")));
    }

    [Fact]
    public void Every_bad_setting_is_named_at_once()
    {
        var refused = Assert.Throws<OptionsValidationException>(() => ServiceHost.Build(TestService.Arguments(TestService.NewDataDir(),
            "--Ims:DataPlane:Parallelism=0", "--Ims:Jobs:MaxAttempts=0")));

        Assert.Contains("Ims:DataPlane:Parallelism must be between 1 and 1024 (it is 0).", refused.Failures);
        Assert.Contains("Ims:Jobs:MaxAttempts must be at least 1 (it is 0).", refused.Failures);
    }

    [Fact]
    public async Task The_service_process_says_which_setting_is_bad_and_exits_without_a_stack_trace()
    {
        var (exitCode, output) = await ServiceProcess.RunUntilExitAsync(TestService.NewDataDir(), "--Ims:DataPlane:Parallelism=0");

        Assert.Equal(2, exitCode);
        Assert.Contains("The service cannot start: Ims:DataPlane:Parallelism must be between 1 and 1024 (it is 0).", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Now listening", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Parallelism_IoDepth_and_the_job_settings_come_from_configuration()
    {
        await using var service = await TestService.StartAsync(extra:
            ["--Ims:DataPlane:Parallelism=3", "--Ims:DataPlane:IoDepth=7", "--Ims:Jobs:MaxAttempts=9"]);

        var store = service.App.Services.GetRequiredService<DataPlaneStore>();
        Assert.Equal(3, store.Options.Parallelism);
        Assert.Equal(7, store.Options.IoDepth);
        Assert.Equal(Path.Combine(service.DataDir, "data"), store.Options.Root);
        Assert.Equal(9, service.App.Services.GetRequiredService<IOptions<JobOptions>>().Value.MaxAttempts);

        // The store works with them: a disk is made and captured by a job.
        var client = service.Client(TestAccounts.Alice);
        await Servers.CreateVolumeAsync(client);
    }
}
