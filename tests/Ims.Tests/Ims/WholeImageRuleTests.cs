using Dapper;
using Ims.Service.Storage;
using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Ims.Tests.Ims;

/// <summary>Every request-time rule of spec §1.4 the service can observe, sent over HTTP with the exact answer.</summary>
public sealed class WholeImageRuleTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;
    private ApiClient Alice => Service.Client(TestAccounts.Alice);

    private Task<ApiResponse> CreateAsync(object body) => Alice.PostAsync(WholeImages.CreatePath, body);

    [Theory]
    [InlineData("", "IMG.0007")]
    [InlineData("{", "IMG.0001")]
    [InlineData("[]", "IMG.0001")]
    [InlineData("""{"name":42,"instance_id":"x"}""", "IMG.0001")]
    [InlineData("""{"name":"n","instance_id":"x","min_ram":"2048"}""", "IMG.0001")]
    [InlineData("""{"name":"n","instance_id":"x","max_ram":1.5}""", "IMG.0001")]
    [InlineData("""{"name":"n","instance_id":"x","tags":"a.b"}""", "IMG.0001")]
    [InlineData("""{"name":"n","instance_id":"x","image_tags":[{"key":1,"value":"v"}]}""", "IMG.0001")]
    [InlineData("""{"name":"n"}""", "IMG.0012")]
    [InlineData("""{"instance_id":"x"}""", "IMG.0013")]
    public async Task Malformed_bodies_get_400_in_the_ims_shape(string body, string code) =>
        (await Alice.SendAsync(HttpMethod.Post, WholeImages.CreatePath, body)).ExpectImsError(400, code);

    [Fact]
    public async Task An_unknown_server_is_IMG_0005() =>
        (await CreateAsync(new { name = "x", instance_id = Guid.NewGuid().ToString(), vault_id = Guid.NewGuid().ToString() }))
            .ExpectImsError(400, "IMG.0005");

    [Theory]
    [InlineData("ERROR", null, "IMG.0126")]
    [InlineData("BUILD", null, "IMG.0126")]
    [InlineData(null, "powering-on", "IMG.0010")]
    [InlineData(null, "backing_up", "IMG.0136")]
    public async Task A_server_that_is_not_running_or_stopped_or_is_busy_is_refused(string? status, string? taskState, string code)
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var vaultId = await Cbr.CreateVaultAsync(Alice);
        await TestServers.ForceAsync(Service, server.Id, status, taskState);
        (await CreateAsync(new { name = "x", instance_id = server.Id, vault_id = vaultId })).ExpectImsError(400, code);
    }

    [Fact]
    public async Task A_stopped_server_is_imaged()
    {
        var server = await TestServers.CreateAsync(Service, Alice, 10);
        await Servers.PowerAsync(Alice, "os-stop", server.Id);
        var vaultId = await Cbr.CreateVaultAsync(Alice);
        await WholeImages.WaitForImageAsync(Alice, await WholeImages.CreateAsync(Alice, new { name = "stopped", instance_id = server.Id, vault_id = vaultId }));
        Assert.Equal("SHUTOFF", (string?)(await Servers.GetServerAsync(Alice, server.Id))["status"]);
    }

    [Fact]
    public async Task A_server_without_its_system_disk_is_IMG_0119()
    {
        var server = await TestServers.CreateAsync(Service, Alice, 10);
        await Servers.PowerAsync(Alice, "os-stop", server.Id);
        await Servers.DetachAsync(Alice, server.Id, server.SystemVolumeId);
        var vaultId = await Cbr.CreateVaultAsync(Alice);
        (await CreateAsync(new { name = "x", instance_id = server.Id, vault_id = vaultId })).ExpectImsError(400, "IMG.0119");
    }

    [Fact]
    public async Task A_server_with_a_DSS_disk_is_IMG_0153_in_the_huawei_profile()
    {
        var network = await Servers.CreateNetworkAsync(Alice, "10.30.0.0/16", "10.30.1.0/24", "10.30.1.1");
        var serverId = await Servers.CreateServerAsync(Alice, network, [(10, "DSS")]);
        var vaultId = await Cbr.CreateVaultAsync(Alice);
        (await CreateAsync(new { name = "x", instance_id = serverId, vault_id = vaultId })).ExpectImsError(400, "IMG.0153");
    }

    [Fact]
    public async Task Vault_problems_get_their_codes()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        (await CreateAsync(new { name = "x", instance_id = server.Id, vault_id = Guid.NewGuid().ToString() })).ExpectImsError(400, "IMG.0184");

        var diskVault = (await Alice.PostAsync($"/v3/{Alice.ProjectId}/vaults", Cbr.VaultBody(Cbr.NewName(), objectType: "disk"))).Expect(200);
        (await CreateAsync(new { name = "x", instance_id = server.Id, vault_id = (string)diskVault["vault"]["id"]! })).ExpectImsError(400, "IMG.0193");

        var home = await Cbr.CreateVaultAsync(Alice, 200, server.Id);
        var other = await Cbr.CreateVaultAsync(Alice);
        (await CreateAsync(new { name = "x", instance_id = server.Id, vault_id = other })).ExpectImsError(400, "IMG.0183");

        // Bob's vault is as unknown to Alice as a vault that does not exist.
        var bobsVault = await Cbr.CreateVaultAsync(Service.Client(TestAccounts.Bob));
        (await CreateAsync(new { name = "x", instance_id = server.Id, vault_id = bobsVault })).ExpectImsError(400, "IMG.0184");

        // Its own vault works.
        await WholeImages.WaitForImageAsync(Alice, await WholeImages.CreateAsync(Alice, new { name = "x", instance_id = server.Id, vault_id = home }));
    }

    [Fact]
    public async Task Backup_problems_get_their_codes()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var (_, cbrBackup) = await WholeImages.CbrBackupAsync(Alice, server.Id);
        var (_, csbsBackup) = await CsbsTests.BackUpAsync(Alice, server.Id);
        var unknown = Guid.NewGuid().ToString();

        (await CreateAsync(new { name = "x", backup_id = unknown, whole_image_type = "CBR" })).ExpectImsError(400, "IMG.0020");
        (await CreateAsync(new { name = "x", backup_id = unknown })).ExpectImsError(400, "IMG.0127");
        (await CreateAsync(new { name = "x", backup_id = cbrBackup })).ExpectImsError(400, "IMG.0198");
        (await CreateAsync(new { name = "x", backup_id = csbsBackup, whole_image_type = "CBR" })).ExpectImsError(400, "IMG.0198");
        (await CreateAsync(new { name = "x", backup_id = cbrBackup, whole_image_type = "EVS" })).ExpectImsError(400, "IMG.0021");
        (await CreateAsync(new { name = "x", backup_id = cbrBackup, instance_id = server.Id })).ExpectImsError(400, "IMG.0001");
    }

    [Fact]
    public async Task Only_an_available_backup_can_be_used()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var (_, cbrBackup) = await WholeImages.CbrBackupAsync(Alice, server.Id);
        var (_, csbsBackup) = await CsbsTests.BackUpAsync(Alice, server.Id);
        await ExecuteAsync("UPDATE backups SET status = 'error' WHERE id IN (@cbrBackup, @csbsBackup)", new { cbrBackup, csbsBackup });

        (await CreateAsync(WholeImages.FromCbr(cbrBackup))).ExpectImsError(400, "IMG.0032");
        (await CreateAsync(new { name = "x", backup_id = csbsBackup })).ExpectImsError(400, "IMG.0132");
    }

    [Fact]
    public async Task A_CSBS_backup_with_a_shared_disk_is_IMG_0033()
    {
        var server = await TestServers.CreateAsync(Service, Alice, 10);
        var (_, csbsBackup) = await CsbsTests.BackUpAsync(Alice, server.Id);
        // CSBS itself refuses to back up shared disks, so only an old backup could hold one: make it so.
        await ExecuteAsync("UPDATE backup_volumes SET multiattach = 1 WHERE backup_id = @csbsBackup AND (boot_index IS NULL OR boot_index <> 0)", new { csbsBackup });
        (await CreateAsync(new { name = "x", backup_id = csbsBackup })).ExpectImsError(400, "IMG.0033");
    }

    private async Task ExecuteAsync(string sql, object args)
    {
        await using var write = await Service.App.Services.GetRequiredService<Database>().BeginWriteAsync(CancellationToken.None);
        await write.Connection.ExecuteAsync(sql, args, write.Transaction);
        await write.CommitAsync(CancellationToken.None);
    }
}

/// <summary>The OTC profile: CSBS is offered, so mode A without a vault takes a CSBS backup; DSS is not a rule there.</summary>
public sealed class OtcWholeImageTests : IAsyncLifetime
{
    private TestService _service = null!;

    public async Task InitializeAsync() => _service = await TestService.StartAsync(extra: ["--Ims:Profile=Otc"]);

    public async Task DisposeAsync() => await _service.DisposeAsync();

    [Fact]
    public async Task Mode_A_without_a_vault_takes_a_CSBS_backup()
    {
        var client = _service.Client(TestAccounts.Alice);
        var network = await Servers.CreateNetworkAsync(client);
        var body = Servers.ServerBody(network, dataDisks: [(10, "SAS")]);
        body["server"]!["availability_zone"] = "eu-de-01";
        var created = (await client.PostAsync($"/v1.1/{client.ProjectId}/cloudservers", body.ToJsonString())).Expect(200);
        var job = await client.WaitForJobSuccessAsync((string)created["job_id"]!);
        var serverId = (string)job["entities"]!["sub_jobs"]![0]!["entities"]!["server_id"]!;
        var (_, image) = await WholeImages.WaitForImageAsync(client,
            await WholeImages.CreateAsync(client, new { name = "otc-full", instance_id = serverId }));

        var backupId = (string)image["__backup_id"]!;
        var item = (await client.GetAsync($"/v1/{client.ProjectId}/checkpoint_items/{backupId}")).Expect(200)["checkpoint_item"];
        Assert.Equal(serverId, (string?)item["resource_id"]);
        Assert.Equal("available", (string?)item["status"]);
    }

    [Fact]
    public async Task Chinese_names_are_refused_outside_the_huawei_profile() =>
        (await _service.Client(TestAccounts.Alice).PostAsync(WholeImages.CreatePath,
            new { name = "整机镜像", instance_id = Guid.NewGuid().ToString() })).ExpectImsError(400, "IMG.0003");
}
