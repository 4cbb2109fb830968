using Ims.Tests.Ims;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Evs;

/// <summary>
/// A disk made from an image shared with the project: EVS finds images as every other service does (public, own, or
/// shared with the caller), not only public and own ones.
/// </summary>
public sealed class SharedImageVolumeTests(SharingFixture fixture) : IClassFixture<SharingFixture>
{
    private TestService Service => fixture.Service;
    private ApiClient Alice => Service.Client(SharingAccounts.Alice);
    private ApiClient Bob => Service.Client(SharingAccounts.Bob);

    [Fact]
    public async Task A_project_an_image_was_shared_with_creates_a_disk_from_it_once_it_accepted()
    {
        var imageId = (string)(await ImageFiles.CreateAsync(Alice, "raw"))["id"]!;
        (await ImageFiles.UploadAsync(Alice, imageId, ImageFiles.RawDisk(1 << 20, seed: 7))).Expect(204);
        var body = new { volume = new { availability_zone = Servers.Zone, volume_type = "SAS", imageRef = imageId } };

        // Not shared yet: Bob cannot see the image.
        (await Bob.PostAsync($"/v2.1/{Bob.ProjectId}/cloudvolumes", body)).ExpectError(400, "EVS.2024");

        await Sharing.ShareAsync(Alice, imageId, Bob.ProjectId);
        (await Bob.PutAsync($"{Sharing.MembersPath(imageId)}/{Bob.ProjectId}", new { status = "accepted" })).Expect(200);
        var accepted = (await Bob.PostAsync($"/v2.1/{Bob.ProjectId}/cloudvolumes", body)).Expect(200);
        await Bob.WaitForJobSuccessAsync((string)accepted["job_id"]!);

        var volume = (await Bob.GetAsync($"/v2/{Bob.ProjectId}/cloudvolumes/{(string)accepted["volume_ids"][0]!}")).Expect(200)["volume"];
        Assert.Equal("available", (string?)volume["status"]);
        Assert.Equal("true", (string?)volume["bootable"]);
        Assert.Equal(imageId, (string?)volume["volume_image_metadata"]!["image_id"]);
    }
}
