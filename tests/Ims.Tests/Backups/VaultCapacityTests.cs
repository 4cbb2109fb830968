using Ims.Tests.Infrastructure;

namespace Ims.Tests.Backups;

/// <summary>
/// A vault's size holds for every backup put into it: a checkpoint whose backups would not fit is refused with CBR's
/// <c>BackupService.6114</c> and writes nothing, and the same checkpoint is accepted once the vault is expanded.
/// </summary>
public sealed class VaultCapacityTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;
    private ApiClient Alice => Service.Client(TestAccounts.Alice);

    private Task<ApiResponse> CheckpointAsync(string vaultId, string type, string resourceId) =>
        Alice.PostAsync($"/v3/{Alice.ProjectId}/checkpoints", new
        {
            checkpoint = new
            {
                vault_id = vaultId,
                parameters = new { name = Cbr.NewName("cp"), resource_details = new[] { new { id = resourceId, type, extra_info = new { } } } },
            },
        });

    private async Task<(long Size, long Used)> BillingAsync(string vaultId)
    {
        var billing = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/vaults/{vaultId}")).Expect(200)["vault"]["billing"]!;
        return ((long)billing["size"]!, (long)billing["used"]!);
    }

    [Fact]
    public async Task A_server_checkpoint_that_would_exceed_the_vault_is_refused_until_the_vault_is_expanded()
    {
        var server = await TestServers.CreateAsync(Service, Alice, 10); // 40 GB system disk + 10 GB data disk
        var vaultId = await Cbr.CreateVaultAsync(Alice, 60, server.Id);
        await Cbr.WaitAvailableAsync(Alice, (string)(await CheckpointAsync(vaultId, "OS::Nova::Server", server.Id)).Expect(200)["checkpoint"]["id"]!);
        Assert.Equal((60, 50 * 1024), await BillingAsync(vaultId));

        // 50 GB used + 50 GB more > 60 GB: refused with CBR's code, nothing written, the server left free.
        var refused = await CheckpointAsync(vaultId, "OS::Nova::Server", server.Id);
        refused.ExpectBackupError(400, "BackupService.6114");
        Assert.Contains("60 GB", (string?)refused.Json["error_msg"]);
        Assert.Single((await Alice.GetAsync($"/v3/{Alice.ProjectId}/backups?vault_id={vaultId}")).Expect(200)["backups"].AsArray());
        Assert.Null(await TestServers.TaskStateAsync(Alice, server.Id));
        Assert.Equal((60, 50 * 1024), await BillingAsync(vaultId));

        // Expanded to exactly what two backups take, the same checkpoint is accepted.
        (await Alice.PutAsync($"/v3/{Alice.ProjectId}/vaults/{vaultId}", new { vault = new { billing = new { size = 100 } } })).Expect(200);
        await Cbr.WaitAvailableAsync(Alice, (string)(await CheckpointAsync(vaultId, "OS::Nova::Server", server.Id)).Expect(200)["checkpoint"]["id"]!);
        Assert.Equal((100, 100 * 1024), await BillingAsync(vaultId));
        // And now it is full: one more is refused again.
        (await CheckpointAsync(vaultId, "OS::Nova::Server", server.Id)).ExpectBackupError(400, "BackupService.6114");
    }

    [Fact]
    public async Task Two_checkpoints_racing_for_the_last_free_space_of_a_vault_take_it_once()
    {
        var first = await TestServers.CreateAsync(Service, Alice);  // 40 GB each
        var second = await TestServers.CreateAsync(Service, Alice);
        var vaultId = await Cbr.CreateVaultAsync(Alice, 60, first.Id, second.Id);

        // Each alone would fit; together they would not. The vault's capacity lock lets exactly one start.
        var answers = await Task.WhenAll(
            CheckpointAsync(vaultId, "OS::Nova::Server", first.Id), CheckpointAsync(vaultId, "OS::Nova::Server", second.Id));

        var accepted = Assert.Single(answers, a => (int)a.Status == 200);
        Assert.Single(answers, a => (int)a.Status == 400).ExpectBackupError(400, "BackupService.6114");
        await Cbr.WaitAvailableAsync(Alice, (string)accepted["checkpoint"]["id"]!);
        Assert.Equal((60, 40 * 1024), await BillingAsync(vaultId));
    }

    [Fact]
    public async Task A_disk_checkpoint_that_would_exceed_the_vault_is_refused_until_the_vault_is_expanded()
    {
        var diskId = await Servers.CreateVolumeAsync(Alice, size: 10);
        var vaultId = (string)(await Alice.PostAsync($"/v3/{Alice.ProjectId}/vaults", Cbr.VaultBody(Cbr.NewName(), 15, "disk",
            [new { type = "OS::Cinder::Volume", id = diskId, extra_info = new { } }]))).Expect(200)["vault"]["id"]!;
        await Cbr.WaitAvailableAsync(Alice, (string)(await CheckpointAsync(vaultId, "OS::Cinder::Volume", diskId)).Expect(200)["checkpoint"]["id"]!);

        (await CheckpointAsync(vaultId, "OS::Cinder::Volume", diskId)).ExpectBackupError(400, "BackupService.6114");
        Assert.Equal("available", (string?)(await Alice.GetAsync($"/v2/{Alice.ProjectId}/cloudvolumes/{diskId}")).Expect(200)["volume"]["status"]);

        (await Alice.PutAsync($"/v3/{Alice.ProjectId}/vaults/{vaultId}", new { vault = new { billing = new { size = 20 } } })).Expect(200);
        await Cbr.WaitAvailableAsync(Alice, (string)(await CheckpointAsync(vaultId, "OS::Cinder::Volume", diskId)).Expect(200)["checkpoint"]["id"]!);
        Assert.Equal((20, 20 * 1024), await BillingAsync(vaultId));
    }
}
