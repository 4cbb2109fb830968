using Ims.Service.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Ims.Tests.Infrastructure;

/// <summary>
/// The real service, in-process, listening on a loopback port with its own data folder and database (a SQLite file in
/// the folder, or a PostgreSQL database of its own when <c>IMS_TEST_POSTGRES</c> is set: see <see cref="TestDatabases"/>).
/// Jobs run without pacing delays.
/// </summary>
public sealed class TestService : IAsyncDisposable
{
    private readonly bool _ownsData;

    private TestService(WebApplication app, string dataDir, Uri baseAddress, bool ownsData)
    {
        App = app;
        DataDir = dataDir;
        BaseAddress = baseAddress;
        _ownsData = ownsData;
    }

    public WebApplication App { get; }
    public string DataDir { get; }
    public Uri BaseAddress { get; }

    public static string NewDataDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "ims-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>The command-line settings every test host gets; <paramref name="extra"/> may override them.</summary>
    public static string[] Arguments(string dataDir, params string[] extra) =>
    [
        "--urls", "http://127.0.0.1:0",
        $"--Ims:DataDir={dataDir}",
        $"--Ims:AccountsFile={TestAccounts.WriteFile(dataDir)}",
        "--Ims:Jobs:StepDelay=00:00:00",
        "--Ims:Jobs:PollInterval=00:00:00.050",
        "--Logging:LogLevel:Default=Warning",
        // No bucket API listener unless a test asks for one (on a free port: see ObsHost).
        "--Ims:Obs:Urls=",
        .. TestDatabases.Arguments(dataDir),
        .. extra,
    ];

    /// <summary>
    /// Starts a host on <paramref name="dataDir"/>, or on a fresh folder whose database is dropped with the host (a test
    /// that restarts a host on the same data makes the folder with <see cref="NewDataDir"/> and passes it).
    /// </summary>
    public static async Task<TestService> StartAsync(string? dataDir = null, Action<WebApplicationBuilder>? configure = null, params string[] extra)
    {
        var ownsData = dataDir is null;
        dataDir ??= NewDataDir();
        var app = ServiceHost.Build(Arguments(dataDir, extra), configure);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new TestService(app, dataDir, new Uri(address), ownsData);
    }

    public ApiClient Client(TestTenant tenant, AuthMode mode = AuthMode.Token) => new(BaseAddress, tenant, mode);

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        if (!_ownsData) return;
        TestDatabases.Drop(DataDir);
        // A suite run makes hundreds of hosts; their disks and chunks would otherwise pile up to tens of GB in /tmp.
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
            // A file still open by a job being torn down: the folder is only temporary space.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>One service per test class; tests share the host, never the data (every test uses fresh names).</summary>
public sealed class ServiceFixture : IAsyncLifetime
{
    public TestService Service { get; private set; } = null!;

    public async Task InitializeAsync() => Service = await TestService.StartAsync();

    public async Task DisposeAsync() => await Service.DisposeAsync();
}
