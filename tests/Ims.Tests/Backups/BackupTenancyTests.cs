using Ims.Tests.Infrastructure;

namespace Ims.Tests.Backups;

/// <summary>Another tenant's vaults, servers and backups behave exactly as if they did not exist.</summary>
public sealed class BackupTenancyTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;
    private ApiClient Alice => Service.Client(TestAccounts.Alice);
    private ApiClient Bob => Service.Client(TestAccounts.Bob, AuthMode.AkSk);

    [Fact]
    public async Task Bob_cannot_see_use_or_delete_Alices_vault()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var vaultId = await Cbr.CreateVaultAsync(Alice, 100, server.Id);
        var bobsServer = await TestServers.CreateAsync(Service, Bob);
        var b = Bob.ProjectId;

        (await Bob.GetAsync($"/v3/{b}/vaults/{vaultId}")).ExpectBackupError(404, "BackupService.6105");
        Assert.DoesNotContain((await Bob.GetAsync($"/v3/{b}/vaults?limit=1000")).Expect(200)["vaults"].AsArray(), v => (string?)v!["id"] == vaultId);
        Assert.Empty((await Bob.GetAsync($"/v3/{b}/vaults?resource_ids={server.Id}")).Expect(200)["vaults"].AsArray());
        (await Bob.PutAsync($"/v3/{b}/vaults/{vaultId}", new { vault = new { name = "mine" } })).ExpectBackupError(404, "BackupService.6105");
        (await Bob.PostAsync($"/v3/{b}/vaults/{vaultId}/addresources", new { resources = new[] { Cbr.ServerResource(bobsServer.Id) } }))
            .ExpectBackupError(404, "BackupService.6105");
        (await Bob.PostAsync($"/v3/{b}/vaults/{vaultId}/removeresources", new { resource_ids = new[] { server.Id } }))
            .ExpectBackupError(404, "BackupService.6105");
        (await Bob.PostAsync($"/v3/{b}/vault/{vaultId}/tags/action", new { action = "create", tags = new[] { new { key = "k", value = "v" } } }))
            .ExpectBackupError(404, "BackupService.6105");
        (await Bob.PostAsync($"/v3/{b}/checkpoints", new { checkpoint = new { vault_id = vaultId } })).ExpectBackupError(404, "BackupService.6105");
        (await Bob.DeleteAsync($"/v3/{b}/vaults/{vaultId}")).ExpectBackupError(404, "BackupService.6105");

        var vault = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/vaults/{vaultId}")).Expect(200)["vault"];
        Assert.Equal(server.Id, (string?)vault["resources"]!.AsArray().Single()!["id"]);
        Assert.Empty(vault["tags"]!.AsArray());
    }

    [Fact]
    public async Task Bob_cannot_add_Alices_server_to_his_vault()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var bobsVault = await Cbr.CreateVaultAsync(Bob);
        (await Bob.PostAsync($"/v3/{Bob.ProjectId}/vaults/{bobsVault}/addresources", new { resources = new[] { Cbr.ServerResource(server.Id) } }))
            .ExpectBackupError(404, "BackupService.6302");
        (await Bob.PostAsync($"/v3/{Bob.ProjectId}/vaults", Cbr.VaultBody(Cbr.NewName(), resources: [Cbr.ServerResource(server.Id)])))
            .ExpectBackupError(404, "BackupService.6302");
        // Alice can still put it in a vault of her own.
        await Cbr.CreateVaultAsync(Alice, 100, server.Id);
    }

    [Fact]
    public async Task Bob_cannot_see_or_delete_Alices_cbr_backups()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var (vaultId, checkpointId) = await Cbr.BackUpAsync(Alice, server.Id);
        var backupId = (string)(await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?checkpoint_id={checkpointId}")).Expect(200)["backups"][0]!["id"]!;
        var b = Bob.ProjectId;

        (await Bob.GetAsync($"/v3/{b}/checkpoints/{checkpointId}")).ExpectBackupError(404, "BackupService.6302");
        (await Bob.GetAsync($"/v3/{b}/backups/{backupId}")).ExpectBackupError(404, "BackupService.6302");
        (await Bob.DeleteAsync($"/v3/{b}/backups/{backupId}")).ExpectBackupError(404, "BackupService.6302");
        Assert.Empty((await Bob.GetAsync($"/v3/{b}/backups?checkpoint_id={checkpointId}")).Expect(200)["backups"].AsArray());
        Assert.Empty((await Bob.GetAsync($"/v3/{b}/backups?vault_id={vaultId}")).Expect(200)["backups"].AsArray());
        Assert.Empty((await Bob.GetAsync($"/v3/{b}/backups?resource_id={server.Id}")).Expect(200)["backups"].AsArray());

        (await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups/{backupId}")).Expect(200);
    }

    [Fact]
    public async Task Bob_cannot_protect_see_or_delete_Alices_csbs_backups()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var (checkpointId, itemId) = await CsbsTests.BackUpAsync(Alice, server.Id);
        var b = Bob.ProjectId;
        var provider = CsbsTests.Provider;

        var check = await Bob.PostAsync($"/v1/{b}/providers/{provider}/resources/action",
            new { check_protectable = new[] { new { resource_id = server.Id, resource_type = "OS::Nova::Server" } } });
        Assert.False((bool)check.Expect(200)["protectable"][0]!["result"]!);
        (await Bob.PostAsync($"/v1/{b}/providers/{provider}/resources/{server.Id}/action", new { protect = new { } }))
            .ExpectBackupError(400, "CSBS.6000");
        (await Bob.GetAsync($"/v1/{b}/checkpoint_items/{itemId}")).ExpectBackupError(404, "CSBS.9002");
        Assert.Empty((await Bob.GetAsync($"/v1/{b}/checkpoint_items?checkpoint_id={checkpointId}")).Expect(200)["checkpoint_items"].AsArray());
        (await Bob.GetAsync($"/v1/{b}/checkpoint_items?marker={itemId}")).ExpectBackupError(400, "CSBS.9001");
        (await Bob.DeleteAsync($"/v1/{b}/providers/{provider}/checkpoints/{checkpointId}")).ExpectBackupError(404, "CSBS.9002");

        (await Alice.GetAsync($"/v1/{Alice.ProjectId}/checkpoint_items/{itemId}")).Expect(200);
    }

    [Theory]
    [InlineData("/v3/{0}/vaults")]
    [InlineData("/v3/{0}/backups")]
    [InlineData("/v1/{0}/checkpoint_items")]
    public async Task Another_projects_path_gets_403(string path)
    {
        var response = await Alice.GetAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, path, Bob.ProjectId));
        response.Expect(403);
        Assert.False(string.IsNullOrEmpty((string?)response.Json["error_code"]));
    }
}
