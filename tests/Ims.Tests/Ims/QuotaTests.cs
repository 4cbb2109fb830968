using System.Text.Json.Nodes;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ims;

/// <summary>GET /v1/cloudimages/quota reports exactly what creating an image enforces.</summary>
public sealed class QuotaTests : IAsyncLifetime
{
    private TestService _service = null!;

    public async Task InitializeAsync() => _service = await TestService.StartAsync(extra: ["--Ims:ImageQuota=3"]);

    public async Task DisposeAsync() => await _service.DisposeAsync();

    private static async Task<JsonNode> QuotaAsync(ApiClient client)
    {
        var response = (await client.GetAsync("/v1/cloudimages/quota")).Expect(200);
        var resource = Assert.Single(response["quotas"]["resources"]!.AsArray())!;
        Assert.Equal("image", (string?)resource["type"]);
        Assert.Equal(1, (int)resource["min"]!);
        Assert.Equal(1000, (int)resource["max"]!);
        Assert.Equal(3, (int)resource["quota"]!);
        return resource;
    }

    [Fact]
    public async Task Used_counts_images_being_made_and_active_but_not_failed_ones_and_the_limit_is_the_create_limit()
    {
        var alice = _service.Client(TestAccounts.Alice);
        var aliceSigned = _service.Client(TestAccounts.Alice, AuthMode.AkSk);
        var bob = _service.Client(TestAccounts.Bob, AuthMode.AkSk);
        Assert.Equal(0, (int)(await QuotaAsync(alice))["used"]!);

        await TestImages.CreateAsync(_service, alice);
        Assert.Equal(1, (int)(await QuotaAsync(aliceSigned))["used"]!);

        // A failed image holds no quota.
        var faults = new Faults(_service.BaseAddress);
        await faults.CreateAsync(new { job_type = "imsCreateWholeImageByBackupJob", error_code = "IMG.0014", count = 1 });
        var failing = await TestImages.StartAsync(_service, alice);
        Assert.Equal("FAIL", (string?)(await alice.WaitForJobAsync(failing))["status"]);
        Assert.Equal(1, (int)(await QuotaAsync(alice))["used"]!);

        // An image still being made counts from the moment its request is accepted.
        var rule = await faults.CreateAsync(new { job_type = "imsCreateWholeImageByBackupJob", delay_ms = 2000, count = 1 });
        var slow = await TestImages.StartAsync(_service, alice);
        Assert.Equal(2, (int)(await QuotaAsync(alice))["used"]!);
        await alice.WaitForJobSuccessAsync(slow);
        await faults.SendAsync(HttpMethod.Delete, $"{Faults.Path}/{(string)rule["id"]!}");

        await TestImages.CreateAsync(_service, alice);
        var full = await QuotaAsync(alice);
        Assert.Equal(3, (int)full["used"]!);
        (await alice.PostAsync(WholeImages.CreatePath, await TestImages.BodyAsync(_service, alice))).ExpectImsError(400, "IMG.0015");
        Assert.Equal(3, (int)(await QuotaAsync(alice))["used"]!);

        // Quotas are per project.
        Assert.Equal(0, (int)(await QuotaAsync(bob))["used"]!);
    }

    [Fact]
    public async Task A_quota_above_the_documented_maximum_raises_the_maximum()
    {
        await using var service = await TestService.StartAsync(extra: ["--Ims:ImageQuota=5000"]);
        var response = (await service.Client(TestAccounts.Bob).GetAsync("/v1/cloudimages/quota")).Expect(200);
        var resource = response["quotas"]["resources"]![0]!;
        Assert.Equal(5000, (int)resource["quota"]!);
        Assert.Equal(5000, (int)resource["max"]!);
    }

    [Fact]
    public async Task The_quota_needs_credentials()
    {
        using var http = new HttpClient();
        var response = await http.GetAsync(new Uri(_service.BaseAddress, "/v1/cloudimages/quota"));
        Assert.Equal(401, (int)response.StatusCode);
    }
}
