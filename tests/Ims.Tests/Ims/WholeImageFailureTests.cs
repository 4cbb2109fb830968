using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ims;

/// <summary>
/// Whole-image jobs that fail (made to, through the fault-injection admin API): the job reports the code, and
/// nothing is left behind — no listed image, no reserved quota, no backup the job made, no busy server.
/// </summary>
public sealed class WholeImageFailureTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;
    private Faults Faults => new(Service.BaseAddress);

    [Fact]
    public async Task A_failed_mode_C_job_reports_its_code_and_frees_the_backup_for_another_try()
    {
        var client = Service.Client(TestAccounts.Alice);
        var server = await TestServers.CreateAsync(Service, client);
        var (_, backupId) = await WholeImages.CbrBackupAsync(client, server.Id);
        await Faults.CreateAsync(new { job_type = "imsCreateWholeImageByBackupJob", step = "RegisterImage", error_code = "IMG.0195", count = 1 });

        var job = await client.WaitForJobAsync(await WholeImages.CreateAsync(client, WholeImages.FromCbr(backupId)));

        Assert.Equal("FAIL", (string?)job["status"]);
        Assert.Equal("IMG.0195", (string?)job["error_code"]);
        Assert.False(string.IsNullOrEmpty((string?)job["fail_reason"]));
        Assert.Equal("IMG.0195", (string?)job["entities"]!["error_code"]);
        Assert.Matches("Z$", (string?)job["end_time"]);
        var imageId = (string)job["entities"]!["image_id"]!;
        Assert.Empty((await client.GetAsync($"/v2/cloudimages?id={imageId}")).Expect(200)["images"].AsArray());
        (await client.GetAsync($"/v2/images/{imageId}")).ExpectImsError(404, "IMG.0027");

        // The backup is not used up by the failed attempt.
        await WholeImages.WaitForImageAsync(client, await WholeImages.CreateAsync(client, WholeImages.FromCbr(backupId)));
    }

    [Theory]
    [InlineData("capture")]
    [InlineData("capture bytes")]
    [InlineData("complete")]
    [InlineData("RegisterImage")]
    public async Task A_failed_mode_A_job_deletes_the_backup_it_made_and_releases_the_server(string step)
    {
        var client = Service.Client(TestAccounts.Bob);
        var server = await TestServers.CreateAsync(Service, client, 10);
        var vaultId = await Cbr.CreateVaultAsync(client);
        var rule = await Faults.CreateAsync(new { job_type = "imsCreateWholeImageByInstanceJob", step, error_code = "IMG.0182", count = 1 });

        var job = await client.WaitForJobAsync(await WholeImages.CreateAsync(client, new { name = "doomed", instance_id = server.Id, vault_id = vaultId }));

        Assert.Equal("FAIL", (string?)job["status"]);
        Assert.Equal("IMG.0182", (string?)job["error_code"]);
        Assert.Equal("Insufficient vault capacity. Please expand the capacity.", (string?)job["fail_reason"]);
        Assert.Empty((await client.GetAsync($"/v2/cloudimages?id={(string)job["entities"]!["image_id"]!}")).Expect(200)["images"].AsArray());
        Assert.Empty((await client.GetAsync($"/v3/{client.ProjectId}/backups?resource_id={server.Id}")).Expect(200)["backups"].AsArray());
        Assert.Null(await TestServers.TaskStateAsync(client, server.Id));
        await Faults.DeleteAsync((string)rule["id"]!);

        // And the server can be imaged right away.
        await WholeImages.WaitForImageAsync(client, await WholeImages.CreateAsync(client, new { name = "second", instance_id = server.Id, vault_id = vaultId }));
    }
}
