using Ims.Tests.Backups;
using Ims.Tests.DataPlane;
using Ims.Tests.Infrastructure;
using Ims.Tests.Ims;

namespace Ims.Tests.Changes;

/// <summary>The calls terraform's huaweicloud_evs_volume update makes: expand (os-extend) and tags.</summary>
public sealed class VolumeChangeTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;
    private ApiClient Alice => Service.Client(TestAccounts.Alice);

    [Fact]
    public async Task Expand_keeps_the_bytes_grows_the_disk_and_the_next_backup_captures_the_larger_disk()
    {
        var server = await TestServers.CreateAsync(Service, Alice, 10);
        var (diskId, _) = server.DataVolumes[0];
        var pid = Alice.ProjectId;
        var head = DiskBytes.Pattern(7, 512 * 1024);
        var tail = DiskBytes.Pattern(8, 65536);
        await DiskBytes.WriteAsync(Alice, diskId, 0, head);
        await DiskBytes.WriteAsync(Alice, diskId, 10 * DiskBytes.Gib - tail.Length, tail);
        // A first backup, so that the next one is incremental against it.
        var (vaultId, _) = await WholeImages.CbrBackupAsync(Alice, server.Id);

        var accepted = (await Alice.PostAsync($"/v2.1/{pid}/cloudvolumes/{diskId}/action", Extend(12))).Expect(200);
        var job = await Alice.WaitForJobSuccessAsync((string)accepted["job_id"]!);
        Assert.Equal("extendVolume", (string?)job["job_type"]);
        Assert.Equal(diskId, (string?)job["entities"]!["volume_id"]);

        var volume = (await Alice.GetAsync($"/v2/{pid}/cloudvolumes/{diskId}")).Expect(200)["volume"];
        Assert.Equal(12, (int)volume["size"]!);
        Assert.Equal("in-use", (string?)volume["status"]);
        var device = (await Alice.GetAsync($"/v1/{pid}/cloudservers/{server.Id}/block_device/{diskId}")).Expect(200)["volumeAttachment"];
        Assert.Equal(12, (int)device["size"]!);
        Assert.Equal(head, await DiskBytes.ReadAsync(Alice, diskId, 0, head.Length));
        Assert.Equal(tail, await DiskBytes.ReadAsync(Alice, diskId, 10 * DiskBytes.Gib - tail.Length, tail.Length));
        Assert.Equal(new byte[4096], await DiskBytes.ReadAsync(Alice, diskId, 12 * DiskBytes.Gib - 4096, 4096));
        var grownTail = DiskBytes.Pattern(9, 4096);
        await DiskBytes.WriteAsync(Alice, diskId, 12 * DiskBytes.Gib - 4096, grownTail);

        var checkpointId = (string)(await Cbr.CreateCheckpointAsync(Alice, vaultId, server.Id))["id"]!;
        await Cbr.WaitAvailableAsync(Alice, checkpointId);
        var backupId = (string)(await Alice.GetAsync($"/v3/{pid}/backups?checkpoint_id={checkpointId}")).Expect(200)["backups"][0]!["id"]!;
        var backup = (await Alice.GetAsync($"/v3/{pid}/backups/{backupId}")).Expect(200)["backup"];
        Assert.Equal(TestServers.SystemDiskGb + 12, (int)backup["resource_size"]!);
        var restored = await DiskBytes.RestoredServerAsync(Alice, await DiskBytes.ImageOfBackupAsync(Alice, backupId));
        var restoredDisk = (await Alice.GetAsync($"/v1/{pid}/cloudservers/{restored}/block_device")).Expect(200)["volumeAttachments"]
            .AsArray().Single(d => (int)d!["bootIndex"]! != 0)!;
        Assert.Equal(12, (int)restoredDisk["size"]!);
        var restoredId = (string)restoredDisk["volumeId"]!;
        Assert.Equal(await DiskBytes.ChunksAsync(Alice, diskId), await DiskBytes.ChunksAsync(Alice, restoredId));
        Assert.Equal(grownTail, await DiskBytes.ReadAsync(Alice, restoredId, 12 * DiskBytes.Gib - 4096, 4096));
        Assert.Equal(tail, await DiskBytes.ReadAsync(Alice, restoredId, 10 * DiskBytes.Gib - tail.Length, tail.Length));
    }

    [Fact]
    public async Task Expand_refusals_have_EVS_codes_and_change_nothing()
    {
        var diskId = await Servers.CreateVolumeAsync(Alice, size: 20);
        var path = $"/v2.1/{Alice.ProjectId}/cloudvolumes/{diskId}/action";
        (await Alice.PostAsync(path, Extend(20))).ExpectError(400, "EVS.2024");
        (await Alice.PostAsync(path, Extend(10))).ExpectError(400, "EVS.2024");
        (await Alice.PostAsync(path, Extend(40000))).ExpectError(400, "EVS.2024");
        (await Alice.PostAsync(path, """{"os-extend":{}}""")).ExpectError(400, "EVS.2024");
        (await Alice.PostAsync($"/v2.1/{Alice.ProjectId}/cloudvolumes/{Guid.NewGuid()}/action", Extend(30))).ExpectError(404, "EVS.5404");
        Assert.Equal(20, (int)(await Alice.GetAsync($"/v2/{Alice.ProjectId}/cloudvolumes/{diskId}")).Expect(200)["volume"]["size"]!);

        // While one expansion runs (held by a slow step), the disk is extending and another is refused.
        await new Faults(Service.BaseAddress).CreateAsync(new { job_type = "extendVolume", step = "extend", delay_ms = 1500, count = 1 });
        var running = (await Alice.PostAsync(path, Extend(30))).Expect(200);
        await Poll.UntilAsync(async () => (string?)(await Alice.GetAsync($"/v2/{Alice.ProjectId}/cloudvolumes/{diskId}")).Expect(200)["volume"]["status"] == "extending",
            TimeSpan.FromSeconds(10), "the disk to be extending");
        (await Alice.PostAsync(path, Extend(40))).ExpectError(400, "EVS.2002");
        await Alice.WaitForJobSuccessAsync((string)running["job_id"]!);
        Assert.Equal(30, (int)(await Alice.GetAsync($"/v2/{Alice.ProjectId}/cloudvolumes/{diskId}")).Expect(200)["volume"]["size"]!);
    }

    [Fact]
    public async Task Expand_of_an_available_disk_through_v2_grows_it()
    {
        var diskId = await Servers.CreateVolumeAsync(Alice, size: 10);
        var accepted = (await Alice.PostAsync($"/v2/{Alice.ProjectId}/cloudvolumes/{diskId}/action", Extend(11))).Expect(200);
        await Alice.WaitForJobSuccessAsync((string)accepted["job_id"]!);
        var volume = (await Alice.GetAsync($"/v2/{Alice.ProjectId}/cloudvolumes/{diskId}")).Expect(200)["volume"];
        Assert.Equal(11, (int)volume["size"]!);
        Assert.Equal("available", (string?)volume["status"]);
        Assert.Equal(11 * DiskBytes.Gib, (long)(await DiskBytes.Sha256Async(Alice, diskId))["size"]!);
    }

    [Fact]
    public async Task Tags_are_replaced_as_terraform_does_and_refusals_have_EVS_codes()
    {
        var diskId = await Servers.CreateVolumeAsync(Alice);
        var pid = Alice.ProjectId;
        var path = $"/v2/{pid}/cloudvolumes/{diskId}/tags";
        (await Alice.PostAsync($"{path}/action", new { action = "create", tags = new[] { new { key = "env", value = "dev" } } })).Expect(204);
        Assert.Equal("dev", (string?)(await Alice.GetAsync($"/v2/{pid}/cloudvolumes/{diskId}")).Expect(200)["volume"]["tags"]!["env"]);
        (await Alice.PostAsync($"{path}/action", new { action = "delete", tags = new[] { new { key = "env", value = "dev" } } })).Expect(204);
        (await Alice.PostAsync($"{path}/action", new { action = "create", tags = new[] { new { key = "team", value = "ims" } } })).Expect(204);

        var tags = (await Alice.GetAsync(path)).Expect(200)["tags"].AsArray();
        var only = Assert.Single(tags);
        Assert.Equal("team", (string?)only!["key"]);
        Assert.Equal("ims", (string?)only["value"]);
        var shown = (await Alice.GetAsync($"/v2/{pid}/cloudvolumes/{diskId}")).Expect(200)["volume"]["tags"]!.AsObject();
        Assert.Equal(["team"], shown.Select(t => t.Key).ToArray());

        (await Alice.PostAsync($"{path}/action", new { action = "merge", tags = new[] { new { key = "a", value = "b" } } })).ExpectError(400, "EVS.2024");
        (await Alice.PostAsync($"{path}/action", new { action = "create", tags = new[] { new { key = "", value = "b" } } })).ExpectError(400, "EVS.2024");
        (await Alice.PostAsync($"{path}/action", new { action = "create", tags = Enumerable.Range(0, 21).Select(i => new { key = $"k{i}", value = "v" }) }))
            .ExpectError(400, "EVS.2024");
        (await Alice.GetAsync($"/v2/{pid}/cloudvolumes/{Guid.NewGuid()}/tags")).ExpectError(404, "EVS.5404");
        Assert.Single((await Alice.GetAsync(path)).Expect(200)["tags"].AsArray());
    }

    private static string Extend(int size) => "{\"os-extend\":{\"new_size\":" + size + "}}";
}
