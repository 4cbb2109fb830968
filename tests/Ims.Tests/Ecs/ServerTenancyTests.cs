using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ecs;

/// <summary>
/// Another tenant's servers, disks, networks and jobs answer exactly as if they did not exist, and can never be
/// used as references.
/// </summary>
public sealed class ServerTenancyTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task Bob_cannot_see_or_touch_alices_servers_and_disks(AuthMode mode)
    {
        var alice = Service.Client(TestAccounts.Alice, mode);
        var bob = Service.Client(TestAccounts.Bob, mode);
        var network = await Servers.CreateNetworkAsync(alice);
        var name = Servers.UniqueName("alice");
        var serverId = await Servers.CreateServerAsync(alice, network, [(10, "SAS")], name: name);
        var aliceDisk = await Servers.CreateVolumeAsync(alice);
        var bobPid = bob.ProjectId;

        (await bob.GetAsync($"/v1/{bobPid}/cloudservers/{serverId}")).ExpectError(404, "Ecs.0114");
        Assert.Equal(0, (int)(await bob.GetAsync($"/v1/{bobPid}/cloudservers/detail?name={name}")).Expect(200)["count"]);
        Assert.DoesNotContain((await bob.GetAsync($"/v1/{bobPid}/cloudservers/detail")).Expect(200)["servers"].AsArray(),
            s => (string?)s!["id"] == serverId);
        (await bob.GetAsync($"/v1/{bobPid}/cloudservers/{serverId}/block_device")).ExpectError(404, "Ecs.0114");
        (await bob.PostAsync($"/v1/{bobPid}/cloudservers/action", $$$"""{"os-stop":{"servers":[{"id":"{{{serverId}}}"}]}}"""))
            .ExpectError(404, "Ecs.0114");
        (await bob.PostAsync($"/v1/{bobPid}/cloudservers/delete", new { servers = new[] { new { id = serverId } } })).ExpectError(404, "Ecs.0114");
        (await bob.PostAsync($"/v1/{bobPid}/cloudservers/{serverId}/metadata", new { metadata = new { a = "b" } })).ExpectError(404, "Ecs.0114");
        var bobDisk = await Servers.CreateVolumeAsync(bob);
        (await bob.PostAsync($"/v1/{bobPid}/cloudservers/{serverId}/attachvolume", new { volumeAttachment = new { volumeId = bobDisk } }))
            .ExpectError(404, "Ecs.0114");
        (await bob.DeleteAsync($"/v1/{bobPid}/cloudservers/{serverId}/detachvolume/{aliceDisk}")).ExpectError(404, "Ecs.0114");

        // Alice's disk, through EVS.
        (await bob.GetAsync($"/v2/{bobPid}/cloudvolumes/{aliceDisk}")).ExpectError(404, "EVS.5404");
        Assert.Equal(0, (int)(await bob.GetAsync($"/v2/{bobPid}/cloudvolumes/detail?id={aliceDisk}")).Expect(200)["count"]);
        (await bob.PutAsync($"/v2/{bobPid}/cloudvolumes/{aliceDisk}", new { volume = new { name = "mine" } })).ExpectError(404, "EVS.5404");
        (await bob.DeleteAsync($"/v2/{bobPid}/cloudvolumes/{aliceDisk}")).ExpectError(404, "EVS.5404");

        // Alice's paths with Bob's credentials are refused outright.
        (await bob.GetAsync($"/v1/{alice.ProjectId}/cloudservers/{serverId}")).ExpectError(403, "Ecs.0003");
        (await bob.GetAsync($"/v2/{alice.ProjectId}/cloudvolumes/{aliceDisk}")).ExpectError(403, "EVS.2003");

        // Nothing changed for Alice.
        var server = await Servers.GetServerAsync(alice, serverId);
        Assert.Equal("ACTIVE", (string?)server["status"]);
        Assert.Equal(2, server["os-extended-volumes:volumes_attached"]!.AsArray().Count);
        Assert.Equal("available", (string?)(await alice.GetAsync($"/v2/{alice.ProjectId}/cloudvolumes/{aliceDisk}")).Expect(200)["volume"]["status"]);
    }

    [Fact]
    public async Task Bob_cannot_use_alices_network_security_group_or_disk()
    {
        var alice = Service.Client(TestAccounts.Alice);
        var bob = Service.Client(TestAccounts.Bob);
        var aliceNetwork = await Servers.CreateNetworkAsync(alice);
        var bobNetwork = await Servers.CreateNetworkAsync(bob);
        var bobPid = bob.ProjectId;

        var withAlicesVpc = Servers.ServerBody(aliceNetwork);
        (await bob.PostAsync($"/v1.1/{bobPid}/cloudservers", withAlicesVpc.ToJsonString())).ExpectError(400, "Ecs.0005");
        var withAlicesSubnet = Servers.ServerBody(bobNetwork);
        withAlicesSubnet["server"]!["nics"]![0]!["subnet_id"] = aliceNetwork.SubnetId;
        (await bob.PostAsync($"/v1.1/{bobPid}/cloudservers", withAlicesSubnet.ToJsonString())).ExpectError(400, "Ecs.0005");
        var withAlicesGroup = Servers.ServerBody(bobNetwork);
        withAlicesGroup["server"]!["security_groups"]![0]!["id"] = aliceNetwork.SecurityGroupId;
        (await bob.PostAsync($"/v1.1/{bobPid}/cloudservers", withAlicesGroup.ToJsonString())).ExpectError(400, "Ecs.0005");

        var bobServer = await Servers.CreateServerAsync(bob, bobNetwork);
        var aliceDisk = await Servers.CreateVolumeAsync(alice);
        (await bob.PostAsync($"/v1/{bobPid}/cloudservers/{bobServer}/attachvolume", new { volumeAttachment = new { volumeId = aliceDisk } }))
            .ExpectError(400, "Ecs.0005");
        Assert.Equal("available", (string?)(await alice.GetAsync($"/v2/{alice.ProjectId}/cloudvolumes/{aliceDisk}")).Expect(200)["volume"]["status"]);
    }

    [Fact]
    public async Task Bob_cannot_read_alices_server_jobs()
    {
        var alice = Service.Client(TestAccounts.Alice);
        var network = await Servers.CreateNetworkAsync(alice);
        var created = (await alice.PostAsync($"/v1.1/{alice.ProjectId}/cloudservers", Servers.ServerBody(network).ToJsonString())).Expect(200);
        var jobId = (string)created["job_id"]!;
        await alice.WaitForJobSuccessAsync(jobId);
        var bob = Service.Client(TestAccounts.Bob);
        (await bob.GetAsync($"/v1/{bob.ProjectId}/jobs/{jobId}")).Expect(404);
    }
}
