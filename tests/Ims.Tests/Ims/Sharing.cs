using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Ims.Service.Storage;
using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Ims.Tests.Ims;

/// <summary>
/// The tenants of the sharing and replication tests: Alice and Bob (two accounts in cn-north-4, as in
/// <see cref="TestAccounts"/>), each with a second region project in cn-east-3, Alice with a sub-project there too, and a
/// crowd of eleven projects of a third account in cn-north-4 (more than a whole image may be shared with).
/// </summary>
public static class SharingAccounts
{
    public const string East = "cn-east-3";

    public static readonly TestTenant Alice = TestAccounts.Alice;
    public static readonly TestTenant Bob = TestAccounts.Bob;

    public static readonly TestTenant AliceEast = Alice with { ProjectId = "a11ce0000000000000000000000000e3", ProjectName = East };
    public static readonly TestTenant AliceEastDev = Alice with { ProjectId = "a11ce0000000000000000000000de0e3", ProjectName = $"{East}_dev" };
    public static readonly TestTenant BobEast = Bob with { ProjectId = "b0b000000000000000000000000000e3", ProjectName = East };

    public static readonly IReadOnlyList<TestTenant> Crowd = [.. Enumerable.Range(1, 11).Select(i => new TestTenant(
        "crowd-domain", "crowd", "crowd-password", $"c0000000000000000000000000000{i:D3}", $"cn-north-4_m{i:D2}",
        "CROWDACCESSKEY000003", "crowd-secret-key"))];

    public static string WriteFile(string folder)
    {
        var path = Path.Combine(folder, "sharing-accounts.json");
        object Account(int index, TestTenant user, IEnumerable<TestTenant> projects) => new
        {
            DomainId = $"d0000000000000000000000000000{index:D3}",
            DomainName = user.DomainName,
            Users = new[] { new { Id = $"u0000000000000000000000000000{index:D3}", Name = user.UserName, user.Password } },
            Projects = projects.Select(p => new { Id = p.ProjectId, Name = p.ProjectName }).ToArray(),
            AccessKeys = new[] { new { Access = user.AccessKey, Secret = user.SecretKey, User = user.UserName } },
        };
        var accounts = new[]
        {
            Account(0, Alice, [Alice, AliceEast, AliceEastDev]),
            Account(1, Bob, [Bob, BobEast]),
            Account(2, Crowd[0], Crowd),
        };
        File.WriteAllText(path, JsonSerializer.Serialize(new { Accounts = accounts }));
        return path;
    }

    public static Task<TestService> StartAsync(params string[] extra)
    {
        // The accounts file sits in a folder of its own: the host's data folder is fresh, so its database goes with it.
        var accountsDir = TestService.NewDataDir();
        return TestService.StartAsync(extra: [.. extra, $"--Ims:AccountsFile={WriteFile(accountsDir)}"]);
    }
}

/// <summary>One service per test class with the sharing tenants.</summary>
public sealed class SharingFixture : IAsyncLifetime
{
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _once = new(StringComparer.Ordinal);

    public TestService Service { get; private set; } = null!;

    /// <summary>Makes something (an image, say) once for all the tests of a class that share it.</summary>
    public Task<string> OnceAsync(string key, Func<Task<string>> make) => _once.GetOrAdd(key, _ => new Lazy<Task<string>>(make)).Value;

    public async Task InitializeAsync() => Service = await SharingAccounts.StartAsync();

    public async Task DisposeAsync() => await Service.DisposeAsync();
}

/// <summary>Calls of the sharing APIs as clients make them, and whole images to share.</summary>
public static class Sharing
{
    public const string BatchPath = "/v1/cloudimages/members";

    public static string MembersPath(string imageId) => $"/v2/images/{imageId}/members";

    /// <summary>A whole image made from a CBR backup (mode C): the kind that can be shared. Returns (image, backup).</summary>
    public static async Task<(string ImageId, string BackupId)> CbrImageAsync(TestService service, ApiClient owner)
    {
        var server = await TestServers.CreateAsync(service, owner, 10);
        var (_, backupId) = await WholeImages.CbrBackupAsync(owner, server.Id);
        var (_, image) = await WholeImages.WaitForImageAsync(owner, await WholeImages.CreateAsync(owner, WholeImages.FromCbr(backupId)));
        return ((string)image["id"]!, backupId);
    }

    /// <summary>The same in a host of the OTC profile, whose zones are named eu-de-01 and so on.</summary>
    public static async Task<string> OtcCbrImageAsync(ApiClient owner)
    {
        var network = await Servers.CreateNetworkAsync(owner);
        var body = Servers.ServerBody(network, dataDisks: [(10, "SAS")]);
        body["server"]!["availability_zone"] = "eu-de-01";
        var created = (await owner.PostAsync($"/v1.1/{owner.ProjectId}/cloudservers", body.ToJsonString())).Expect(200);
        var job = await owner.WaitForJobSuccessAsync((string)created["job_id"]!);
        var serverId = (string)job["entities"]!["sub_jobs"]![0]!["entities"]!["server_id"]!;
        var (_, backupId) = await WholeImages.CbrBackupAsync(owner, serverId);
        var (_, image) = await WholeImages.WaitForImageAsync(owner, await WholeImages.CreateAsync(owner, WholeImages.FromCbr(backupId)));
        return (string)image["id"]!;
    }

    /// <summary>A whole image made from a CSBS backup (mode B): the kind that cannot be shared.</summary>
    public static async Task<string> CsbsImageAsync(TestService service, ApiClient owner)
    {
        var server = await TestServers.CreateAsync(service, owner);
        var (_, backupId) = await CsbsTests.BackUpAsync(owner, server.Id);
        var (_, image) = await WholeImages.WaitForImageAsync(owner,
            await WholeImages.CreateAsync(owner, new { name = Servers.UniqueName("img"), backup_id = backupId }));
        return (string)image["id"]!;
    }

    public static async Task<string> ServerVaultAsync(ApiClient client, int sizeGb = 200) => await Cbr.CreateVaultAsync(client, sizeGb);

    /// <summary>Runs a batch member request and waits for its job; returns the finished job.</summary>
    public static async Task<JsonNode> BatchAsync(ApiClient client, HttpMethod method, object body)
    {
        var response = (await client.SendAsync(method, BatchPath, body)).Expect(200);
        var jobId = (string?)response["job_id"];
        Assert.Matches("^[0-9a-f]{32}$", jobId);
        return await client.WaitForJobAsync(jobId!);
    }

    public static async Task ShareAsync(ApiClient owner, string imageId, string projectId) =>
        (await owner.PostAsync(MembersPath(imageId), new { member = projectId })).Expect(200);

    public static async Task AcceptAsync(ApiClient member, string imageId, string vaultId) =>
        (await member.PutAsync($"{MembersPath(imageId)}/{member.ProjectId}", new { status = "accepted", vault_id = vaultId })).Expect(200);

    /// <summary>The ids <c>GET /v2/cloudimages</c> lists for the client (with extra query arguments).</summary>
    public static async Task<IReadOnlyList<string>> ListedAsync(ApiClient client, string query = "") =>
        [.. (await client.GetAsync($"/v2/cloudimages?limit=1000{query}")).Expect(200)["images"].AsArray().Select(i => (string)i!["id"]!)];

    public static async Task<IReadOnlyList<string>> NativeListedAsync(ApiClient client, string query = "") =>
        [.. (await client.GetAsync($"/v2/images?limit=1000{query}")).Expect(200)["images"].AsArray().Select(i => (string)i!["id"]!)];

    /// <summary>Writes straight to the database what no public API provokes on demand.</summary>
    public static async Task ExecuteAsync(TestService service, string sql, object args)
    {
        await using var write = await service.App.Services.GetRequiredService<Database>().BeginWriteAsync(CancellationToken.None);
        await write.Connection.ExecuteAsync(sql, args, write.Transaction);
        await write.CommitAsync(CancellationToken.None);
    }
}
