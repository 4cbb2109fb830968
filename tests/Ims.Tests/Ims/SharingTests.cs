using System.Text.Json;
using System.Text.Json.Nodes;
using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ims;

/// <summary>Sharing whole images between projects: the Glance member API, the IMS batch API and its jobs, and every rule.</summary>
public sealed class SharingTests(SharingFixture fixture) : IClassFixture<SharingFixture>
{
    private const string Seconds = @"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$";

    private TestService Service => fixture.Service;
    private ApiClient Alice => Service.Client(SharingAccounts.Alice);
    private ApiClient Bob => Service.Client(SharingAccounts.Bob);

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task A_member_sees_the_image_only_once_it_accepts_and_the_owner_sees_it_shared_until_the_last_member_goes(AuthMode mode)
    {
        var alice = Service.Client(SharingAccounts.Alice, mode);
        var bob = Service.Client(SharingAccounts.Bob, mode);
        var (imageId, _) = await Sharing.CbrImageAsync(Service, alice);

        var added = (await alice.PostAsync(Sharing.MembersPath(imageId), new { member = bob.ProjectId })).Expect(200).Json;
        Assert.Equal("pending", (string?)added["status"]);
        Assert.Equal(imageId, (string?)added["image_id"]);
        Assert.Equal(bob.ProjectId, (string?)added["member_id"]);
        Assert.Equal("/v2/schemas/member", (string?)added["schema"]);
        Assert.Matches(Seconds, (string?)added["created_at"]);
        Assert.Matches(Seconds, (string?)added["updated_at"]);

        // Shared from the first member on, whatever the member answered.
        var owned = (await alice.GetAsync($"/v2/images/{imageId}")).Expect(200).Json;
        Assert.Equal("shared", (string?)owned["visibility"]);
        Assert.Equal("shared", (string?)owned["__imagetype"]);

        // Pending: not listed, but the member may look at it (and list it when it asks for pending ones).
        Assert.DoesNotContain(imageId, await Sharing.ListedAsync(bob));
        Assert.DoesNotContain(imageId, await Sharing.NativeListedAsync(bob));
        Assert.Contains(imageId, await Sharing.ListedAsync(bob, "&visibility=shared&member_status=pending"));
        Assert.Contains(imageId, await Sharing.NativeListedAsync(bob, "&member_status=all"));
        Assert.DoesNotContain(imageId, await Sharing.ListedAsync(bob, "&member_status=rejected"));
        (await bob.GetAsync($"/v2/images/{imageId}")).Expect(200);

        var vaultId = await Sharing.ServerVaultAsync(bob);
        var accepted = (await bob.PutAsync($"{Sharing.MembersPath(imageId)}/{bob.ProjectId}", new { status = "accepted", vault_id = vaultId }))
            .Expect(200).Json;
        Assert.Equal("accepted", (string?)accepted["status"]);
        Assert.Equal(bob.ProjectId, (string?)accepted["member_id"]);

        var seen = Assert.Single((await bob.GetAsync($"/v2/cloudimages?id={imageId}")).Expect(200)["images"].AsArray())!;
        Assert.Equal("shared", (string?)seen["__imagetype"]);
        Assert.Equal("shared", (string?)seen["visibility"]);
        Assert.Equal(alice.ProjectId, (string?)seen["owner"]);
        Assert.Equal("true", (string?)seen["__whole_image"]);
        Assert.Contains(imageId, await Sharing.NativeListedAsync(bob));
        Assert.Contains(imageId, await Sharing.ListedAsync(bob, "&__imagetype=shared"));
        Assert.DoesNotContain(imageId, await Sharing.ListedAsync(bob, "&__imagetype=private"));
        Assert.Equal("shared", (string?)(await bob.GetAsync($"/v2/images/{imageId}")).Expect(200)["__imagetype"]);

        // The owner lists every member; a member only itself.
        var members = (await alice.GetAsync(Sharing.MembersPath(imageId))).Expect(200);
        Assert.Equal("/v2/schemas/members", (string?)members["schema"]);
        var member = Assert.Single(members["members"].AsArray())!;
        Assert.Equal("accepted", (string?)member["status"]);
        Assert.Single((await bob.GetAsync(Sharing.MembersPath(imageId))).Expect(200)["members"].AsArray());
        Assert.Equal("accepted", (string?)(await alice.GetAsync($"{Sharing.MembersPath(imageId)}/{bob.ProjectId}")).Expect(200)["status"]);
        Assert.Equal("accepted", (string?)(await bob.GetAsync($"{Sharing.MembersPath(imageId)}/{bob.ProjectId}")).Expect(200)["status"]);

        // The owner's own lists: shared images are not private ones.
        Assert.Contains(imageId, await Sharing.ListedAsync(alice, "&visibility=shared"));
        Assert.Contains(imageId, await Sharing.ListedAsync(alice, "&__imagetype=shared"));
        Assert.DoesNotContain(imageId, await Sharing.ListedAsync(alice, "&__imagetype=private"));

        (await alice.DeleteAsync($"{Sharing.MembersPath(imageId)}/{bob.ProjectId}")).Expect(204);
        (await bob.GetAsync($"/v2/images/{imageId}")).ExpectImsError(404, "IMG.0027");
        Assert.Empty((await bob.GetAsync($"/v2/cloudimages?id={imageId}")).Expect(200)["images"].AsArray());
        var back = (await alice.GetAsync($"/v2/images/{imageId}")).Expect(200).Json;
        Assert.Equal("private", (string?)back["visibility"]);
        Assert.Equal("private", (string?)back["__imagetype"]);
        Assert.Empty((await alice.GetAsync(Sharing.MembersPath(imageId))).Expect(200)["members"].AsArray());
    }

    [Fact]
    public async Task The_batch_api_shares_accepts_rejects_and_stops_sharing_through_jobs()
    {
        var (imageId, _) = await Sharing.CbrImageAsync(Service, Alice);
        var (secondId, _) = await Sharing.CbrImageAsync(Service, Alice);
        var crowd = Service.Client(SharingAccounts.Crowd[0]);

        var added = await Sharing.BatchAsync(Alice, HttpMethod.Post,
            new { images = new[] { imageId, secondId }, projects = new[] { Bob.ProjectId, crowd.ProjectId } });
        Assert.Equal("SUCCESS", (string?)added["status"]);
        Assert.Equal("imsAddImageMembersJob", (string?)added["job_type"]);
        var results = added["entities"]!["results"]!.AsArray();
        Assert.Equal(4, results.Count);
        Assert.All(results, r => Assert.Equal("success", (string?)r!["status"]));
        Assert.Contains(results, r => (string?)r!["image_id"] == secondId && (string?)r["project_id"] == crowd.ProjectId);
        Assert.All(results, r => Assert.Equal(3, r!.AsObject().Count));
        Assert.Equal(2, (await Alice.GetAsync(Sharing.MembersPath(imageId))).Expect(200)["members"].AsArray().Count);

        // The member answers in its own project, and polls the job there (as terraform's accepter does).
        var vaultId = await Sharing.ServerVaultAsync(Bob);
        var accepted = await Sharing.BatchAsync(Bob, HttpMethod.Put,
            new { images = new[] { imageId, secondId }, project_id = Bob.ProjectId, status = "accepted", vault_id = vaultId });
        Assert.Equal("SUCCESS", (string?)accepted["status"]);
        Assert.Equal("imsUpdateImageMembersJob", (string?)accepted["job_type"]);
        Assert.Equal(2, accepted["entities"]!["results"]!.AsArray().Count);
        (await Alice.GetAsync($"/v1/{Alice.ProjectId}/jobs/{(string)accepted["job_id"]!}")).ExpectImsError(404, "IMG.0031");
        Assert.Contains(imageId, await Sharing.ListedAsync(Bob));
        Assert.Contains(secondId, await Sharing.ListedAsync(Bob));

        // Rejected: out of the lists (unless asked for), still reachable by id.
        var rejected = await Sharing.BatchAsync(Bob, HttpMethod.Put,
            new { images = new[] { imageId }, project_id = Bob.ProjectId, status = "rejected" });
        Assert.Equal("SUCCESS", (string?)rejected["status"]);
        Assert.DoesNotContain(imageId, await Sharing.ListedAsync(Bob));
        Assert.Contains(imageId, await Sharing.ListedAsync(Bob, "&visibility=shared&member_status=rejected"));
        (await Bob.GetAsync($"/v2/images/{imageId}")).Expect(200);
        Assert.Equal("rejected", (string?)(await Bob.GetAsync($"{Sharing.MembersPath(imageId)}/{Bob.ProjectId}")).Expect(200)["status"]);

        // A project that is no member is nothing to remove; the job still succeeds.
        var removed = await Sharing.BatchAsync(Alice, HttpMethod.Delete,
            new { images = new[] { imageId }, projects = new[] { Bob.ProjectId, crowd.ProjectId, SharingAccounts.Crowd[5].ProjectId } });
        Assert.Equal("SUCCESS", (string?)removed["status"]);
        Assert.Equal("imsDelImageMembersJob", (string?)removed["job_type"]);
        Assert.Equal(3, removed["entities"]!["results"]!.AsArray().Count);
        Assert.Equal("private", (string?)(await Alice.GetAsync($"/v2/images/{imageId}")).Expect(200)["visibility"]);
        Assert.Equal("shared", (string?)(await Alice.GetAsync($"/v2/images/{secondId}")).Expect(200)["visibility"]);
        (await Bob.GetAsync($"/v2/images/{imageId}")).ExpectImsError(404, "IMG.0027");
    }

    [Fact]
    public async Task A_whole_image_from_a_CSBS_backup_cannot_be_shared()
    {
        var imageId = await Sharing.CsbsImageAsync(Service, Alice);
        (await Alice.PostAsync(Sharing.MembersPath(imageId), new { member = Bob.ProjectId })).ExpectImsError(400, "IMG.0135");
        (await Alice.PostAsync(Sharing.BatchPath, new { images = new[] { imageId }, projects = new[] { Bob.ProjectId } }))
            .ExpectImsError(400, "IMG.0135");
        Assert.Equal("private", (string?)(await Alice.GetAsync($"/v2/images/{imageId}")).Expect(200)["visibility"]);
    }

    [Fact]
    public async Task A_whole_image_taken_from_a_server_into_a_vault_is_backed_by_CBR_and_can_be_shared()
    {
        var server = await TestServers.CreateAsync(Service, Alice, 10);
        var vaultId = await Sharing.ServerVaultAsync(Alice);
        var (_, image) = await WholeImages.WaitForImageAsync(Alice, await WholeImages.CreateAsync(Alice,
            new { name = Servers.UniqueName("img"), instance_id = server.Id, vault_id = vaultId }));
        await Sharing.ShareAsync(Alice, (string)image["id"]!, Bob.ProjectId);
    }

    [Fact]
    public async Task Only_the_owner_shares_an_active_private_image_with_another_project_of_its_region()
    {
        var (imageId, _) = await Sharing.CbrImageAsync(Service, Alice);
        var path = Sharing.MembersPath(imageId);

        (await Alice.PostAsync(path, new { member = Alice.ProjectId })).ExpectImsError(400, "IMG.0076");
        (await Alice.PostAsync(path, new { member = "0123456789abcdef0123456789abcdef" })).ExpectImsError(400, "IMG.0108");
        (await Alice.PostAsync(path, new { member = SharingAccounts.BobEast.ProjectId })).ExpectImsError(400, "IMG.0177");
        // Alice's own project in another region is another region too.
        (await Alice.PostAsync(path, new { member = SharingAccounts.AliceEast.ProjectId })).ExpectImsError(400, "IMG.0177");

        // A foreign image is answered like a missing one; public images cannot be shared.
        (await Bob.PostAsync(path, new { member = SharingAccounts.Crowd[0].ProjectId })).ExpectImsError(404, "IMG.0027");
        (await Alice.PostAsync(Sharing.MembersPath(Servers.Ubuntu1804), new { member = Bob.ProjectId })).ExpectImsError(400, "IMG.0089");
        (await Alice.PostAsync(Sharing.BatchPath, new { images = new[] { Servers.Ubuntu1804 }, projects = new[] { Bob.ProjectId } }))
            .ExpectImsError(400, "IMG.0089");

        // A member reaches the image but cannot share it on.
        await Sharing.ShareAsync(Alice, imageId, Bob.ProjectId);
        (await Bob.PostAsync(path, new { member = SharingAccounts.Crowd[0].ProjectId })).ExpectImsError(400, "IMG.0047");
        (await Bob.PostAsync(Sharing.BatchPath, new { images = new[] { imageId }, projects = new[] { SharingAccounts.Crowd[0].ProjectId } }))
            .ExpectImsError(400, "IMG.0047");
        (await Bob.DeleteAsync($"{path}/{Bob.ProjectId}")).ExpectImsError(400, "IMG.0047");
        (await Bob.SendAsync(HttpMethod.Patch, $"/v2/cloudimages/{imageId}", """[{"op":"replace","path":"/name","value":"mine"}]"""))
            .ExpectImsError(400, "IMG.0047");
        (await Bob.GetAsync($"/v2/{Bob.ProjectId}/images/{imageId}/tags")).Expect(404);
        (await Bob.DeleteAsync(Sharing.BatchPath, new { images = new[] { imageId }, projects = new[] { Bob.ProjectId } }))
            .ExpectImsError(400, "IMG.0047");

        // The same project twice is a conflict; the batch API treats it as already done.
        (await Alice.PostAsync(path, new { member = Bob.ProjectId })).ExpectImsError(409, "IMG.0112");
        var again = await Sharing.BatchAsync(Alice, HttpMethod.Post, new { images = new[] { imageId }, projects = new[] { Bob.ProjectId } });
        Assert.Equal("SUCCESS", (string?)again["status"]);
        Assert.Single((await Alice.GetAsync(path)).Expect(200)["members"].AsArray());

        // The owner cannot answer for its member; a stranger does not see memberships.
        (await Alice.PutAsync($"{path}/{Bob.ProjectId}", new { status = "accepted", vault_id = "x" })).ExpectImsError(403, "IMG.0161");
        var crowd = Service.Client(SharingAccounts.Crowd[1]);
        (await crowd.GetAsync($"{path}/{Bob.ProjectId}")).ExpectImsError(404, "IMG.0027");
        (await crowd.GetAsync(path)).ExpectImsError(404, "IMG.0027");

        // Self-share and other-region projects through the batch API.
        (await Alice.PostAsync(Sharing.BatchPath, new { images = new[] { imageId }, projects = new[] { Alice.ProjectId } }))
            .ExpectImsError(400, "IMG.0076");
        (await Alice.PostAsync(Sharing.BatchPath, new { images = new[] { imageId }, projects = new[] { SharingAccounts.BobEast.ProjectId } }))
            .ExpectImsError(400, "IMG.0177");
        (await Alice.PostAsync(Sharing.BatchPath, new { images = new[] { imageId }, projects = new[] { "ffffffffffffffffffffffffffffffff" } }))
            .ExpectImsError(400, "IMG.0108");
    }

    [Fact]
    public async Task An_image_that_is_not_active_cannot_be_shared()
    {
        var (imageId, _) = await Sharing.CbrImageAsync(Service, Alice);
        await Sharing.ExecuteAsync(Service, "UPDATE images SET status = 'saving' WHERE id = @imageId", new { imageId });
        (await Alice.PostAsync(Sharing.MembersPath(imageId), new { member = Bob.ProjectId })).ExpectImsError(400, "IMG.0046");
        (await Alice.PostAsync(Sharing.BatchPath, new { images = new[] { imageId }, projects = new[] { Bob.ProjectId } }))
            .ExpectImsError(400, "IMG.0046");
    }

    [Fact]
    public async Task A_whole_image_has_at_most_ten_member_projects()
    {
        var (imageId, _) = await Sharing.CbrImageAsync(Service, Alice);
        var crowd = SharingAccounts.Crowd.Select(t => t.ProjectId).ToArray();

        // All eleven at once: refused before any job starts.
        (await Alice.PostAsync(Sharing.BatchPath, new { images = new[] { imageId }, projects = crowd })).ExpectImsError(400, "IMG.0088");
        Assert.Empty((await Alice.GetAsync(Sharing.MembersPath(imageId))).Expect(200)["members"].AsArray());

        var job = await Sharing.BatchAsync(Alice, HttpMethod.Post, new { images = new[] { imageId }, projects = crowd[..9] });
        Assert.Equal("SUCCESS", (string?)job["status"]);
        await Sharing.ShareAsync(Alice, imageId, crowd[9]);
        (await Alice.PostAsync(Sharing.MembersPath(imageId), new { member = crowd[10] })).ExpectImsError(400, "IMG.0088");
        (await Alice.PostAsync(Sharing.BatchPath, new { images = new[] { imageId }, projects = new[] { crowd[10] } })).ExpectImsError(400, "IMG.0088");
        // Projects that already are members do not count twice.
        Assert.Equal("SUCCESS", (string?)(await Sharing.BatchAsync(Alice, HttpMethod.Post,
            new { images = new[] { imageId }, projects = crowd[..10] }))["status"]);

        // A place freed is a place to fill.
        (await Alice.DeleteAsync($"{Sharing.MembersPath(imageId)}/{crowd[0]}")).Expect(204);
        await Sharing.ShareAsync(Alice, imageId, crowd[10]);
        Assert.Equal(10, (await Alice.GetAsync(Sharing.MembersPath(imageId))).Expect(200)["members"].AsArray().Count);
    }

    [Fact]
    public async Task The_add_job_fails_its_pairs_when_the_list_filled_up_after_the_request()
    {
        var (imageId, _) = await Sharing.CbrImageAsync(Service, Alice);
        var crowd = SharingAccounts.Crowd.Select(t => t.ProjectId).ToArray();
        // Ten members arrive behind the API's back between the request and the job: the job checks again.
        var faults = new Faults(Service.BaseAddress);
        var rule = await faults.CreateAsync(new { job_type = "imsAddImageMembersJob", resource_id = imageId, delay_ms = 2000 });
        try
        {
            var response = (await Alice.PostAsync(Sharing.BatchPath, new { images = new[] { imageId }, projects = new[] { crowd[10] } })).Expect(200);
            foreach (var project in crowd[..10])
            {
                await Sharing.ExecuteAsync(Service,
                    "INSERT INTO image_members (image_id, member_id, status, created_at, updated_at) VALUES (@imageId, @project, 'pending', 0, 0)",
                    new { imageId, project });
            }
            var job = await Alice.WaitForJobAsync((string)response["job_id"]!);
            Assert.Equal("FAIL", (string?)job["status"]);
            Assert.Equal("IMG.0088", (string?)job["error_code"]);
            var result = Assert.Single(job["entities"]!["results"]!.AsArray())!;
            Assert.Equal("failed", (string?)result["status"]);
            Assert.Equal(crowd[10], (string?)result["project_id"]);
            Assert.DoesNotContain((await Alice.GetAsync(Sharing.MembersPath(imageId))).Expect(200)["members"].AsArray(),
                m => (string?)m!["member_id"] == crowd[10]);
        }
        finally
        {
            await faults.DeleteAsync((string)rule["id"]!);
        }
    }

    [Fact]
    public async Task Accepting_a_whole_image_needs_a_server_backup_vault_of_the_member()
    {
        var (imageId, _) = await Sharing.CbrImageAsync(Service, Alice);
        await Sharing.ShareAsync(Alice, imageId, Bob.ProjectId);
        var path = $"{Sharing.MembersPath(imageId)}/{Bob.ProjectId}";
        var alicesVault = await Sharing.ServerVaultAsync(Alice);
        var diskVault = (string)(await Bob.PostAsync($"/v3/{Bob.ProjectId}/vaults", Cbr.VaultBody(Cbr.NewName(), objectType: "disk")))
            .Expect(200)["vault"]["id"]!;

        (await Bob.PutAsync(path, new { status = "accepted" })).ExpectImsError(400, "IMG.0184");
        (await Bob.PutAsync(path, new { status = "accepted", vault_id = "" })).ExpectImsError(400, "IMG.0184");
        (await Bob.PutAsync(path, new { status = "accepted", vault_id = alicesVault })).ExpectImsError(400, "IMG.0184");
        (await Bob.PutAsync(path, new { status = "accepted", vault_id = Guid.NewGuid().ToString() })).ExpectImsError(400, "IMG.0184");
        (await Bob.PutAsync(path, new { status = "accepted", vault_id = diskVault })).ExpectImsError(400, "IMG.0193");
        var batch = new { images = new[] { imageId }, project_id = Bob.ProjectId, status = "accepted", vault_id = alicesVault };
        (await Bob.PutAsync(Sharing.BatchPath, batch)).ExpectImsError(400, "IMG.0184");
        (await Bob.PutAsync(Sharing.BatchPath, batch with { vault_id = diskVault })).ExpectImsError(400, "IMG.0193");
        Assert.DoesNotContain(imageId, await Sharing.ListedAsync(Bob));

        // Rejecting needs no vault.
        (await Bob.PutAsync(path, new { status = "rejected" })).Expect(200);
        Assert.Equal("rejected", (string?)(await Bob.GetAsync(path)).Expect(200)["status"]);
    }

    [Fact]
    public async Task The_OTC_profile_refuses_images_made_from_a_shared_CBR_backup_and_Huawei_does_not()
    {
        await using var otc = await SharingAccounts.StartAsync("--Ims:Profile=Otc");
        var owner = otc.Client(SharingAccounts.Alice);
        var imageId = await Sharing.OtcCbrImageAsync(owner);
        await Sharing.ShareAsync(owner, imageId, Bob.ProjectId);
        (await owner.DeleteAsync($"{Sharing.MembersPath(imageId)}/{Bob.ProjectId}")).Expect(204);

        // No API here shares CBR backups, so the record of a shared source backup is set by hand.
        await Sharing.ExecuteAsync(otc, "UPDATE images SET source_backup_shared = 1 WHERE id = @imageId", new { imageId });
        (await owner.PostAsync(Sharing.MembersPath(imageId), new { member = Bob.ProjectId })).ExpectImsError(400, "IMG.0135");
        (await owner.PostAsync(Sharing.BatchPath, new { images = new[] { imageId }, projects = new[] { Bob.ProjectId } }))
            .ExpectImsError(400, "IMG.0135");

        var (huaweiImage, _) = await Sharing.CbrImageAsync(Service, Alice);
        await Sharing.ExecuteAsync(Service, "UPDATE images SET source_backup_shared = 1 WHERE id = @huaweiImage", new { huaweiImage });
        await Sharing.ShareAsync(Alice, huaweiImage, Bob.ProjectId);
    }

    [Fact]
    public async Task Deleting_a_shared_image_takes_it_from_its_members()
    {
        var (imageId, _) = await Sharing.CbrImageAsync(Service, Alice);
        await Sharing.ShareAsync(Alice, imageId, Bob.ProjectId);
        await Sharing.AcceptAsync(Bob, imageId, await Sharing.ServerVaultAsync(Bob));
        Assert.Contains(imageId, await Sharing.ListedAsync(Bob));
        // A member cannot delete it.
        (await Bob.DeleteAsync($"/v2/images/{imageId}")).ExpectImsError(400, "IMG.0092");

        (await Alice.DeleteAsync($"/v2/images/{imageId}")).Expect(204);
        Assert.DoesNotContain(imageId, await Sharing.ListedAsync(Bob));
        (await Bob.GetAsync($"/v2/images/{imageId}")).ExpectImsError(404, "IMG.0027");
        (await Bob.GetAsync(Sharing.MembersPath(imageId))).ExpectImsError(404, "IMG.0027");
        (await Alice.PostAsync(Sharing.MembersPath(imageId), new { member = Bob.ProjectId })).ExpectImsError(404, "IMG.0027");
    }

    [Theory]
    [InlineData("sort_key=created_at&sort_dir=desc")]
    [InlineData("sort_key=name&sort_dir=asc")]
    [InlineData("sort_key=id&sort_dir=desc")]
    [InlineData("sort_key=min_ram&sort_dir=asc")]
    public async Task Paging_with_markers_walks_own_public_and_shared_images_in_one_order(string order)
    {
        var (shared, _) = await Sharing.CbrImageAsync(Service, Alice);
        await Sharing.ShareAsync(Alice, shared, Bob.ProjectId);
        await Sharing.AcceptAsync(Bob, shared, await Sharing.ServerVaultAsync(Bob));
        var (pending, _) = await Sharing.CbrImageAsync(Service, Alice);
        await Sharing.ShareAsync(Alice, pending, Bob.ProjectId);
        var (own, _) = await Sharing.CbrImageAsync(Service, Bob);

        var whole = (await Bob.GetAsync($"/v2/cloudimages?{order}&limit=1000")).Expect(200)["images"].AsArray()
            .Select(i => (string)i!["id"]!).ToList();
        Assert.Contains(shared, whole);
        Assert.Contains(own, whole);
        Assert.DoesNotContain(pending, whole);
        Assert.Contains(whole, id => id != shared && id != own); // the public images

        // Two at a time, each page after the last image of the one before: the same images in the same order.
        var paged = new List<string>();
        string? marker = null;
        for (var page = 0; page <= whole.Count; page++)
        {
            var images = (await Bob.GetAsync($"/v2/cloudimages?{order}&limit=2" + (marker is null ? "" : $"&marker={marker}")))
                .Expect(200)["images"].AsArray().Select(i => (string)i!["id"]!).ToList();
            if (images.Count == 0) break;
            paged.AddRange(images);
            marker = images[^1];
        }
        Assert.Equal(whole, paged);
    }

    [Fact]
    public async Task A_member_that_rejected_the_image_can_still_create_a_server_from_it()
    {
        var (imageId, _) = await Sharing.CbrImageAsync(Service, Alice);
        var network = await Servers.CreateNetworkAsync(Bob);
        var stranger = (await Bob.PostAsync($"/v1.1/{Bob.ProjectId}/cloudservers",
            Servers.ServerBody(network, image: imageId).ToJsonString())).Expect(400);
        Assert.Contains(imageId, stranger.Body, StringComparison.Ordinal);

        await Sharing.ShareAsync(Alice, imageId, Bob.ProjectId);
        (await Bob.PutAsync($"{Sharing.MembersPath(imageId)}/{Bob.ProjectId}", new { status = "rejected" })).Expect(200);
        var serverId = await Servers.CreateServerAsync(Bob, network, image: imageId);
        Assert.Equal(imageId, (string?)(await Servers.GetServerAsync(Bob, serverId))["image"]!["id"]);
    }

    [Fact]
    public async Task Members_of_unknown_images_and_unknown_members_answer_404()
    {
        var (imageId, _) = await Sharing.CbrImageAsync(Service, Alice);
        var unknown = Guid.NewGuid().ToString();
        (await Alice.GetAsync(Sharing.MembersPath(unknown))).ExpectImsError(404, "IMG.0027");
        (await Alice.GetAsync($"{Sharing.MembersPath(unknown)}/{Bob.ProjectId}")).ExpectImsError(404, "IMG.0027");
        (await Alice.PutAsync($"{Sharing.MembersPath(unknown)}/{Alice.ProjectId}", new { status = "accepted" })).ExpectImsError(404, "IMG.0027");
        (await Alice.DeleteAsync($"{Sharing.MembersPath(unknown)}/{Bob.ProjectId}")).ExpectImsError(404, "IMG.0027");
        (await Alice.PostAsync(Sharing.MembersPath(unknown), new { member = Bob.ProjectId })).ExpectImsError(404, "IMG.0027");

        (await Alice.GetAsync($"{Sharing.MembersPath(imageId)}/{Bob.ProjectId}")).ExpectImsError(404, "IMG.0114");
        (await Alice.DeleteAsync($"{Sharing.MembersPath(imageId)}/{Bob.ProjectId}")).ExpectImsError(404, "IMG.0114");
        // Bob is no member: the image is as good as missing to him.
        (await Bob.PutAsync($"{Sharing.MembersPath(imageId)}/{Bob.ProjectId}", new { status = "rejected" })).ExpectImsError(404, "IMG.0027");

        (await Alice.PostAsync(Sharing.BatchPath, new { images = new[] { unknown }, projects = new[] { Bob.ProjectId } }))
            .ExpectImsError(400, "IMG.0027");
        (await Alice.DeleteAsync(Sharing.BatchPath, new { images = new[] { unknown }, projects = new[] { Bob.ProjectId } }))
            .ExpectImsError(400, "IMG.0027");
        (await Bob.PutAsync(Sharing.BatchPath, new { images = new[] { imageId }, project_id = Bob.ProjectId, status = "rejected" }))
            .ExpectImsError(400, "IMG.0027");
        (await Alice.PutAsync(Sharing.BatchPath, new { images = new[] { imageId }, project_id = Alice.ProjectId, status = "rejected" }))
            .ExpectImsError(400, "IMG.0027");
    }

    public static TheoryData<string, string, string?, int, string> BadRequests() => new()
    {
        // Native add.
        { "POST", "native", null, 400, "IMG.0007" },
        { "POST", "native", "{", 400, "IMG.0001" },
        { "POST", "native", "[]", 400, "IMG.0001" },
        { "POST", "native", """{"member":42}""", 400, "IMG.0001" },
        { "POST", "native", """{"member":["x"]}""", 400, "IMG.0001" },
        { "POST", "native", "{}", 400, "IMG.0001" },
        { "POST", "native", """{"member":""}""", 400, "IMG.0001" },
        // Native update (by the member).
        { "PUT", "native-member", null, 400, "IMG.0007" },
        { "PUT", "native-member", "{", 400, "IMG.0001" },
        { "PUT", "native-member", "{}", 400, "IMG.0001" },
        { "PUT", "native-member", """{"status":true}""", 400, "IMG.0001" },
        { "PUT", "native-member", """{"status":"ACCEPTED"}""", 400, "IMG.0001" },
        { "PUT", "native-member", """{"status":"pending"}""", 400, "IMG.0001" },
        { "PUT", "native-member", """{"status":"accepted","vault_id":7}""", 400, "IMG.0001" },
        // Batch add and remove.
        { "POST", "batch", null, 400, "IMG.0007" },
        { "POST", "batch", "{", 400, "IMG.0001" },
        { "POST", "batch", "{}", 400, "IMG.0001" },
        { "POST", "batch", """{"images":"x","projects":["p"]}""", 400, "IMG.0001" },
        { "POST", "batch", """{"images":[1],"projects":["p"]}""", 400, "IMG.0001" },
        { "POST", "batch", """{"images":[],"projects":["p"]}""", 400, "IMG.0001" },
        { "POST", "batch", """{"images":["IMAGE"]}""", 400, "IMG.0001" },
        { "POST", "batch", """{"images":["IMAGE"],"projects":[""]}""", 400, "IMG.0001" },
        { "POST", "batch", """{"images":["IMAGE"],"projects":[null]}""", 400, "IMG.0001" },
        { "DELETE", "batch", null, 400, "IMG.0007" },
        { "DELETE", "batch", """{"images":["IMAGE"],"projects":{}}""", 400, "IMG.0001" },
        { "DELETE", "batch", """{"projects":["p"]}""", 400, "IMG.0001" },
        // Batch update (by the member).
        { "PUT", "batch-member", null, 400, "IMG.0007" },
        { "PUT", "batch-member", "{", 400, "IMG.0001" },
        { "PUT", "batch-member", """{"images":["IMAGE"],"status":"accepted"}""", 400, "IMG.0001" },
        { "PUT", "batch-member", """{"images":["IMAGE"],"project_id":"MEMBER"}""", 400, "IMG.0001" },
        { "PUT", "batch-member", """{"images":["IMAGE"],"project_id":"MEMBER","status":"yes"}""", 400, "IMG.0001" },
        { "PUT", "batch-member", """{"images":["IMAGE"],"project_id":"MEMBER","status":1}""", 400, "IMG.0001" },
        { "PUT", "batch-member", """{"project_id":"MEMBER","status":"accepted"}""", 400, "IMG.0001" },
        { "PUT", "batch-member", """{"images":["IMAGE"],"project_id":"OWNER","status":"accepted"}""", 400, "IMG.0067" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Malformed_requests_get_the_IMS_400(string method, string target, string? body, int status, string code)
    {
        var imageId = await SharedImageAsync();
        var member = target.EndsWith("member", StringComparison.Ordinal) ? Bob : Alice;
        var path = target switch
        {
            "native" => Sharing.MembersPath(imageId),
            "native-member" => $"{Sharing.MembersPath(imageId)}/{Bob.ProjectId}",
            _ => Sharing.BatchPath,
        };
        var text = body?.Replace("IMAGE", imageId, StringComparison.Ordinal).Replace("MEMBER", Bob.ProjectId, StringComparison.Ordinal)
            .Replace("OWNER", Alice.ProjectId, StringComparison.Ordinal);
        (await member.SendAsync(new HttpMethod(method), path, text ?? "")).ExpectImsError(status, code);
    }

    [Fact]
    public async Task An_unknown_member_status_filter_is_a_bad_request()
    {
        (await Bob.GetAsync("/v2/cloudimages?visibility=shared&member_status=maybe")).ExpectImsError(400, "IMG.0001");
        (await Bob.GetAsync("/v2/images?member_status=ACCEPTED")).ExpectImsError(400, "IMG.0001");
    }

    [Fact]
    public async Task Member_jobs_render_results_with_the_wire_types_clients_decode()
    {
        var (imageId, _) = await Sharing.CbrImageAsync(Service, Alice);
        var job = await Sharing.BatchAsync(Alice, HttpMethod.Post, new { images = new[] { imageId }, projects = new[] { Bob.ProjectId } });
        Assert.Equal(JsonValueKind.String, job["begin_time"]!.GetValueKind());
        Assert.Equal(JsonValueKind.String, job["end_time"]!.GetValueKind());
        Assert.Null(job["error_code"]);
        var result = Assert.IsType<JsonObject>(Assert.Single(job["entities"]!["results"]!.AsArray()));
        Assert.Equal(["image_id", "project_id", "status"], result.Select(p => p.Key).Order());
        Assert.All(result, p => Assert.Equal(JsonValueKind.String, p.Value!.GetValueKind()));
        // Huawei's progress API shows the same job.
        Assert.Equal("SUCCESS", (string?)(await Alice.GetAsync($"/v1/cloudimages/job/{(string)job["job_id"]!}")).Expect(200)["status"]);
    }

    /// <summary>One image shared with Bob for the input tests, made once per test class.</summary>
    private Task<string> SharedImageAsync() => fixture.OnceAsync("shared-with-bob", async () =>
    {
        var (imageId, _) = await Sharing.CbrImageAsync(Service, Alice);
        await Sharing.ShareAsync(Alice, imageId, Bob.ProjectId);
        return imageId;
    });
}
