using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Policies;

/// <summary>
/// At most 32 policies of a type per project (CBR's documented constraint), also when creations race: each test has a
/// service of its own, so the project starts with no policy.
/// </summary>
public sealed class PolicyLimitTests
{
    private const int Limit = 32;

    [Fact]
    public async Task Forty_concurrent_cbr_policy_creations_make_exactly_32_and_refuse_the_rest_with_BackupService_6001()
    {
        await using var service = await TestService.StartAsync();
        var alice = service.Client(TestAccounts.Alice);
        var path = $"/v3/{alice.ProjectId}/policies";
        var daily = new[] { "FREQ=DAILY;INTERVAL=1;BYHOUR=03;BYMINUTE=00" };

        var answers = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ =>
            alice.PostAsync(path, PolicyCalls.Body(Cbr.NewName("policy"), daily, new { max_backups = 3 }))));

        Assert.Equal(Limit, answers.Count(a => (int)a.Status == 200));
        Assert.All(answers.Where(a => (int)a.Status != 200), a => a.ExpectBackupError(400, "BackupService.6001"));
        Assert.Equal(Limit, (int)(await alice.GetAsync(path)).Expect(200)["count"]!);

        // Deleting one makes room for exactly one more; the limit is per project (Bob is not affected).
        var oldest = (string)(await alice.GetAsync(path)).Expect(200)["policies"]![0]!["id"]!;
        (await alice.DeleteAsync($"{path}/{oldest}")).Expect(204);
        (await alice.PostAsync(path, PolicyCalls.Body(Cbr.NewName("policy"), daily, new { max_backups = 3 }))).Expect(200);
        (await alice.PostAsync(path, PolicyCalls.Body(Cbr.NewName("policy"), daily, new { max_backups = 3 })))
            .ExpectBackupError(400, "BackupService.6001");
        var bob = service.Client(TestAccounts.Bob);
        (await bob.PostAsync($"/v3/{bob.ProjectId}/policies", PolicyCalls.Body(Cbr.NewName("policy"), daily, new { max_backups = 3 }))).Expect(200);
    }

    [Fact]
    public async Task The_33rd_csbs_policy_is_refused_with_CSBS_0001()
    {
        await using var service = await TestService.StartAsync();
        var alice = service.Client(TestAccounts.Alice);
        var path = $"/v1/{alice.ProjectId}/policies";
        var answers = await Task.WhenAll(Enumerable.Range(0, Limit + 3).Select(_ =>
            alice.PostAsync(path, CsbsPolicyApiTests.Body(Cbr.NewName("csbs"), CsbsPolicyApiTests.Weekly, new { max_backups = 3, permanent = false }))));

        Assert.Equal(Limit, answers.Count(a => (int)a.Status == 200));
        Assert.All(answers.Where(a => (int)a.Status != 200), a => a.ExpectBackupError(400, "CSBS.0001"));
    }
}
