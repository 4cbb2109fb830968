using System.Text.Json;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Backups;

public sealed class VaultTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;
    private ApiClient Alice => Service.Client(TestAccounts.Alice);

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task A_vault_is_created_read_with_client_json_types_updated_and_deleted(AuthMode mode)
    {
        var client = Service.Client(TestAccounts.Alice, mode);
        var name = Cbr.NewName();
        var created = await client.PostAsync($"/v3/{client.ProjectId}/vaults", Cbr.VaultBody(name, 100));
        created.Expect(200);
        var id = (string)created["vault"]["id"]!;
        Assert.Equal(name, (string?)created["vault"]["name"]);

        var vault = (await client.GetAsync($"/v3/{client.ProjectId}/vaults/{id}")).Expect(200)["vault"];
        var billing = vault["billing"]!;
        Assert.Equal(JsonValueKind.Number, billing["size"]!.GetValueKind());
        Assert.Equal(100, (int)billing["size"]!);
        Assert.Equal(JsonValueKind.Number, billing["allocated"]!.GetValueKind());
        Assert.Equal(JsonValueKind.Number, billing["used"]!.GetValueKind());
        Assert.Equal(JsonValueKind.False, billing["is_multi_az"]!.GetValueKind());
        Assert.Equal("server", (string?)billing["object_type"]);
        Assert.Equal("backup", (string?)billing["protect_type"]);
        Assert.Equal("crash_consistent", (string?)billing["consistent_level"]);
        Assert.Equal("available", (string?)billing["status"]);
        Assert.Equal("vault.backup.server.normal", (string?)billing["spec_code"]);
        Assert.Equal(JsonValueKind.False, vault["auto_expand"]!.GetValueKind());
        Assert.Equal(JsonValueKind.False, vault["auto_bind"]!.GetValueKind());
        Assert.Equal(JsonValueKind.False, vault["locked"]!.GetValueKind());
        Assert.Equal("0", (string?)vault["enterprise_project_id"]);
        Assert.Empty(vault["resources"]!.AsArray());
        Assert.Empty(vault["tags"]!.AsArray());
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$", (string?)vault["created_at"]);

        var updated = await client.PutAsync($"/v3/{client.ProjectId}/vaults/{id}",
            new { vault = new { name = name + "x", billing = new { size = 300 }, auto_expand = true } });
        updated.Expect(200);
        Assert.Equal(name + "x", (string?)updated["vault"]["name"]);
        Assert.Equal(300, (int)updated["vault"]["billing"]!["size"]!);
        Assert.True((bool)updated["vault"]["auto_expand"]!);

        var list = (await client.GetAsync($"/v3/{client.ProjectId}/vaults?name={name}x")).Expect(200);
        Assert.Equal(id, (string?)list["vaults"].AsArray().Single()!["id"]);
        Assert.Equal(1, (int)list["count"]);

        Assert.Empty((await client.GetAsync($"/v3/{client.ProjectId}/policies?vault_id={id}")).Expect(200)["policies"].AsArray());

        (await client.DeleteAsync($"/v3/{client.ProjectId}/vaults/{id}")).Expect(204);
        (await client.GetAsync($"/v3/{client.ProjectId}/vaults/{id}")).ExpectBackupError(404, "BackupService.6105");
        (await client.DeleteAsync($"/v3/{client.ProjectId}/vaults/{id}")).ExpectBackupError(404, "BackupService.6105");
    }

    [Fact]
    public async Task A_server_is_added_shown_and_removed()
    {
        var server = await TestServers.CreateAsync(Service, Alice, 10, 20);
        var vaultId = await Cbr.CreateVaultAsync(Alice);
        var added = await Alice.PostAsync($"/v3/{Alice.ProjectId}/vaults/{vaultId}/addresources",
            new { resources = new[] { Cbr.ServerResource(server.Id, server.DataVolumes[0].Id) } });
        added.Expect(200);
        Assert.Equal(server.Id, (string?)added["add_resource_ids"].AsArray().Single());

        var vault = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/vaults/{vaultId}")).Expect(200)["vault"];
        var resource = vault["resources"]!.AsArray().Single()!;
        Assert.Equal(server.Id, (string?)resource["id"]);
        Assert.Equal("OS::Nova::Server", (string?)resource["type"]);
        Assert.Equal(server.Name, (string?)resource["name"]);
        Assert.Equal("available", (string?)resource["protect_status"]);
        Assert.Equal(server.TotalGb, (int)resource["size"]!);
        Assert.Equal(JsonValueKind.Number, resource["backup_size"]!.GetValueKind());
        Assert.Equal(JsonValueKind.Number, resource["backup_count"]!.GetValueKind());
        Assert.Equal(server.DataVolumes[0].Id, (string?)resource["extra_info"]!["exclude_volumes"]!.AsArray().Single());
        Assert.Empty(resource["extra_info"]!["include_volumes"]!.AsArray());
        Assert.Equal(server.TotalGb * 1024, (long)vault["billing"]!["allocated"]!);

        var listed = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/vaults?resource_ids={server.Id}")).Expect(200);
        Assert.Equal(vaultId, (string?)listed["vaults"].AsArray().Single()!["id"]);

        var removed = await Alice.PostAsync($"/v3/{Alice.ProjectId}/vaults/{vaultId}/removeresources", new { resource_ids = new[] { server.Id } });
        removed.Expect(200);
        Assert.Equal(server.Id, (string?)removed["remove_resource_ids"].AsArray().Single());
        Assert.Empty((await Alice.GetAsync($"/v3/{Alice.ProjectId}/vaults/{vaultId}")).Expect(200)["vault"]["resources"]!.AsArray());
    }

    [Fact]
    public async Task A_vault_can_be_created_with_its_servers()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var vaultId = await Cbr.CreateVaultAsync(Alice, 100, server.Id);
        var vault = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/vaults/{vaultId}")).Expect(200)["vault"];
        Assert.Equal(server.Id, (string?)vault["resources"]!.AsArray().Single()!["id"]);
    }

    [Fact]
    public async Task A_server_can_be_in_only_one_vault()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var first = await Cbr.CreateVaultAsync(Alice, 100, server.Id);
        var second = await Cbr.CreateVaultAsync(Alice);
        var body = new { resources = new[] { Cbr.ServerResource(server.Id) } };
        (await Alice.PostAsync($"/v3/{Alice.ProjectId}/vaults/{second}/addresources", body)).ExpectBackupError(400, "BackupService.6103");
        (await Alice.PostAsync($"/v3/{Alice.ProjectId}/vaults/{first}/addresources", body)).ExpectBackupError(400, "BackupService.6104");
        (await Alice.PostAsync($"/v3/{Alice.ProjectId}/vaults", Cbr.VaultBody(Cbr.NewName(), resources: [Cbr.ServerResource(server.Id)])))
            .ExpectBackupError(400, "BackupService.6103");
    }

    [Fact]
    public async Task Only_existing_servers_matching_the_vault_type_can_be_added()
    {
        var server = await TestServers.CreateAsync(Service, Alice);
        var vaultId = await Cbr.CreateVaultAsync(Alice);
        var path = $"/v3/{Alice.ProjectId}/vaults/{vaultId}/addresources";
        (await Alice.PostAsync(path, new { resources = new[] { Cbr.ServerResource(Guid.NewGuid().ToString()) } }))
            .ExpectBackupError(404, "BackupService.6302");
        (await Alice.PostAsync(path, new { resources = new[] { new { id = server.Id, type = "OS::Cinder::Volume" } } }))
            .ExpectBackupError(400, "BackupService.6102");
        (await Alice.PostAsync(path, new { resources = new[] { Cbr.ServerResource(server.Id), Cbr.ServerResource(server.Id) } }))
            .ExpectBackupError(400, "BackupService.6104");
        (await Alice.PostAsync(path, new { resources = new[] { Cbr.ServerResource(server.Id, Guid.NewGuid().ToString()) } }))
            .ExpectBackupError(400, "BackupService.6301");

        await Servers.DeleteServerAsync(Alice, server.Id, deleteVolumes: true);
        (await Alice.PostAsync(path, new { resources = new[] { Cbr.ServerResource(server.Id) } })).ExpectBackupError(404, "BackupService.6302");
    }

    [Fact]
    public async Task Disk_vaults_take_volumes()
    {
        var server = await TestServers.CreateAsync(Service, Alice, 10);
        var created = await Alice.PostAsync($"/v3/{Alice.ProjectId}/vaults", Cbr.VaultBody(Cbr.NewName(), 50, "disk",
            [new { id = server.DataVolumes[0].Id, type = "OS::Cinder::Volume" }]));
        created.Expect(200);
        var resource = created["vault"]["resources"]!.AsArray().Single()!;
        Assert.Equal(10, (int)resource["size"]!);
        Assert.Equal("vault.backup.volume.normal", (string?)created["vault"]["billing"]!["spec_code"]);
        // A disk vault's checkpoint backs its disks up (RestoreTests covers the bytes); a server in it is the wrong type.
        var checkpoint = (await Alice.PostAsync($"/v3/{Alice.ProjectId}/checkpoints", new { checkpoint = new { vault_id = (string)created["vault"]["id"]! } }))
            .Expect(200)["checkpoint"];
        Assert.Equal("OS::Cinder::Volume", (string?)checkpoint["vault"]!["resources"]![0]!["type"]);
        await Cbr.WaitAvailableAsync(Alice, (string)checkpoint["id"]!);
        (await Alice.PostAsync($"/v3/{Alice.ProjectId}/checkpoints", new
        {
            checkpoint = new
            {
                vault_id = (string)created["vault"]["id"]!,
                parameters = new { resource_details = new[] { new { id = server.Id, type = "OS::Nova::Server" } } },
            },
        })).ExpectBackupError(400, "BackupService.6102");
    }

    [Fact]
    public async Task Vault_tags_are_created_listed_and_deleted()
    {
        var vaultId = await Cbr.CreateVaultAsync(Alice);
        var action = $"/v3/{Alice.ProjectId}/vault/{vaultId}/tags/action";
        (await Alice.PostAsync(action, new { action = "create", tags = new[] { new { key = "env", value = "test" }, new { key = "k2", value = "" } } })).Expect(204);
        (await Alice.PostAsync(action, new { action = "create", tags = new[] { new { key = "env", value = "prod" } } })).Expect(204);
        var tags = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/vaults/{vaultId}")).Expect(200)["vault"]["tags"]!.AsArray();
        Assert.Equal(2, tags.Count);
        Assert.Equal("prod", (string?)tags.Single(t => (string?)t!["key"] == "env")!["value"]);

        (await Alice.PostAsync(action, new { action = "delete", tags = new[] { new { key = "env" } } })).Expect(204);
        (await Alice.PostAsync($"/v3/{Alice.ProjectId}/vault/{vaultId}/tags", new { tag = new { key = "k3", value = "v" } })).Expect(204);
        (await Alice.DeleteAsync($"/v3/{Alice.ProjectId}/vault/{vaultId}/tags/k2")).Expect(204);
        (await Alice.DeleteAsync($"/v3/{Alice.ProjectId}/vault/{vaultId}/tags/k2")).ExpectBackupError(404, "BackupService.6302");
        var listed = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/vault/{vaultId}/tags")).Expect(200)["tags"].AsArray();
        Assert.Equal("k3", (string?)listed.Single()!["key"]);
    }

    [Fact]
    public async Task Vault_lists_page_with_offset_and_limit()
    {
        var prefix = Cbr.NewName("pg");
        for (var i = 0; i < 3; i++)
            (await Alice.PostAsync($"/v3/{Alice.ProjectId}/vaults", Cbr.VaultBody(prefix))).Expect(200);
        var first = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/vaults?name={prefix}&limit=2")).Expect(200);
        Assert.Equal(2, first["vaults"].AsArray().Count);
        Assert.Equal(3, (int)first["count"]);
        var rest = (await Alice.GetAsync($"/v3/{Alice.ProjectId}/vaults?name={prefix}&limit=2&offset=2")).Expect(200);
        Assert.Single(rest["vaults"].AsArray());
        Assert.Empty((await Alice.GetAsync($"/v3/{Alice.ProjectId}/vaults?name={prefix}&offset=3")).Expect(200)["vaults"].AsArray());
    }

    public static TheoryData<string> BadCreateBodies => new()
    {
        "",
        "{",
        "[]",
        "{}",
        """{"vault":{"billing":{"object_type":"server","consistent_level":"crash_consistent","protect_type":"backup","size":10}}}""",
        """{"vault":{"name":"","billing":{"object_type":"server","consistent_level":"crash_consistent","protect_type":"backup","size":10}}}""",
        """{"vault":{"name":"x","resources":[]}}""",
        """{"vault":{"name":"x","billing":{"object_type":"server","consistent_level":"crash_consistent","protect_type":"backup","size":"10"}}}""",
        """{"vault":{"name":"x","billing":{"object_type":"server","consistent_level":"crash_consistent","protect_type":"backup"}}}""",
        """{"vault":{"name":"x","billing":{"object_type":"tape","consistent_level":"crash_consistent","protect_type":"backup","size":10}}}""",
        """{"vault":{"name":"x","billing":{"object_type":"server","consistent_level":"eventually","protect_type":"backup","size":10}}}""",
        """{"vault":{"name":"x","billing":{"object_type":"server","consistent_level":"crash_consistent","protect_type":"archive","size":10}}}""",
        """{"vault":{"name":"x","billing":{"object_type":"server","consistent_level":"crash_consistent","protect_type":"backup","size":10,"charging_mode":"pre_paid"}}}""",
        """{"vault":{"name":"x","billing":{"object_type":"server","consistent_level":"crash_consistent","protect_type":"backup","size":10,"is_multi_az":"no"}}}""",
        """{"vault":{"name":"x","billing":{"object_type":"server","consistent_level":"crash_consistent","protect_type":"backup","size":10},"resources":{}}}""",
        """{"vault":{"name":"x","billing":{"object_type":"server","consistent_level":"crash_consistent","protect_type":"backup","size":10},"resources":[{"type":"OS::Nova::Server"}]}}""",
        """{"vault":{"name":"x","billing":{"object_type":"server","consistent_level":"crash_consistent","protect_type":"backup","size":10},"tags":[{"value":"v"}]}}""",
        """{"vault":{"name":"x","billing":{"object_type":"server","consistent_level":"crash_consistent","protect_type":"backup","size":10},"auto_bind":"true"}}""",
    };

    [Theory]
    [MemberData(nameof(BadCreateBodies))]
    public async Task Malformed_vault_bodies_get_400_in_cbr_shape(string body)
    {
        (await Alice.PostAsync($"/v3/{Alice.ProjectId}/vaults", body)).ExpectBackupError(400, "BackupService.6301");
    }

    [Theory]
    [InlineData("""{"vault":{"name":"x","billing":{"object_type":"server","consistent_level":"crash_consistent","protect_type":"backup","size":0}}}""")]
    [InlineData("""{"vault":{"name":"x","billing":{"object_type":"server","consistent_level":"crash_consistent","protect_type":"backup","size":10485761}}}""")]
    public async Task Out_of_range_sizes_get_6101(string body)
    {
        (await Alice.PostAsync($"/v3/{Alice.ProjectId}/vaults", body)).ExpectBackupError(400, "BackupService.6101");
    }

    [Fact]
    public async Task Bad_input_on_every_other_vault_endpoint_gets_cbr_errors()
    {
        var vaultId = await Cbr.CreateVaultAsync(Alice);
        var missing = Guid.NewGuid().ToString();
        var p = Alice.ProjectId;
        (await Alice.GetAsync($"/v3/{p}/vaults/{missing}")).ExpectBackupError(404, "BackupService.6105");
        (await Alice.GetAsync($"/v3/{p}/vaults?limit=0")).ExpectBackupError(400, "BackupService.6301");
        (await Alice.GetAsync($"/v3/{p}/vaults?offset=-1")).ExpectBackupError(400, "BackupService.6301");
        (await Alice.PutAsync($"/v3/{p}/vaults/{vaultId}", "{")).ExpectBackupError(400, "BackupService.6301");
        (await Alice.PutAsync($"/v3/{p}/vaults/{vaultId}", new { })).ExpectBackupError(400, "BackupService.6301");
        (await Alice.PutAsync($"/v3/{p}/vaults/{vaultId}", new { vault = new { name = "" } })).ExpectBackupError(400, "BackupService.6301");
        (await Alice.PutAsync($"/v3/{p}/vaults/{vaultId}", new { vault = new { billing = new { size = 0 } } })).ExpectBackupError(400, "BackupService.6101");
        (await Alice.PutAsync($"/v3/{p}/vaults/{missing}", new { vault = new { name = "n" } })).ExpectBackupError(404, "BackupService.6105");
        (await Alice.PostAsync($"/v3/{p}/vaults/{vaultId}/addresources", new { resources = Array.Empty<object>() })).ExpectBackupError(400, "BackupService.6301");
        (await Alice.PostAsync($"/v3/{p}/vaults/{vaultId}/addresources", "{\"resources\":\"x\"}")).ExpectBackupError(400, "BackupService.6301");
        (await Alice.PostAsync($"/v3/{p}/vaults/{missing}/addresources", new { resources = new[] { Cbr.ServerResource(missing) } }))
            .ExpectBackupError(404, "BackupService.6105");
        (await Alice.PostAsync($"/v3/{p}/vaults/{vaultId}/removeresources", new { resource_ids = Array.Empty<string>() })).ExpectBackupError(400, "BackupService.6301");
        (await Alice.PostAsync($"/v3/{p}/vaults/{vaultId}/removeresources", new { resource_ids = new[] { missing } })).ExpectBackupError(404, "BackupService.6302");
        (await Alice.PostAsync($"/v3/{p}/vault/{vaultId}/tags/action", new { action = "update", tags = new[] { new { key = "k" } } }))
            .ExpectBackupError(400, "BackupService.6301");
        (await Alice.PostAsync($"/v3/{p}/vault/{vaultId}/tags/action", new { action = "create" })).ExpectBackupError(400, "BackupService.6301");
        (await Alice.PostAsync($"/v3/{p}/vault/{vaultId}/tags/action",
            new { action = "create", tags = Enumerable.Range(0, 11).Select(i => new { key = $"k{i}", value = "v" }) })).ExpectBackupError(400, "BackupService.6301");
        (await Alice.PostAsync($"/v3/{p}/vault/{missing}/tags/action", new { action = "create", tags = new[] { new { key = "k" } } }))
            .ExpectBackupError(404, "BackupService.6105");
        (await Alice.PostAsync($"/v3/{p}/vault/{vaultId}/tags", new { tag = new { value = "v" } })).ExpectBackupError(400, "BackupService.6301");
        (await Alice.GetAsync($"/v3/{p}/vault/{missing}/tags")).ExpectBackupError(404, "BackupService.6105");
    }
}
