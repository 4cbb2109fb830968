using System.Text.Json;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ecs;

/// <summary>Availability zones and flavors, as terraform's data sources read them.</summary>
public sealed class CatalogTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task Huawei_zones_are_lettered_and_available(AuthMode mode)
    {
        var client = Service.Client(TestAccounts.Alice, mode);
        var zones = (await client.GetAsync($"/v2.1/{client.ProjectId}/os-availability-zone")).Expect(200)["availabilityZoneInfo"].AsArray();
        Assert.Equal(["cn-north-4a", "cn-north-4b", "cn-north-4c"], zones.Select(z => (string)z!["zoneName"]!));
        Assert.All(zones, z => Assert.Equal(JsonValueKind.True, z!["zoneState"]!["available"]!.GetValueKind()));
        Assert.All(zones, z => Assert.Equal(JsonValueKind.Null, z!.AsObject()["hosts"]?.GetValueKind() ?? JsonValueKind.Null));
        Assert.All(zones, z => Assert.True(z!.AsObject().ContainsKey("hosts")));
    }

    [Fact]
    public async Task Otc_zones_are_numbered_after_the_region()
    {
        await using var otc = await TestService.StartAsync(extra: ["--Ims:Profile=Otc"]);
        var client = otc.Client(TestAccounts.Alice);
        var zones = (await client.GetAsync($"/v2.1/{client.ProjectId}/os-availability-zone")).Expect(200)["availabilityZoneInfo"].AsArray();
        Assert.Equal(["eu-de-01", "eu-de-02", "eu-de-03"], zones.Select(z => (string)z!["zoneName"]!));
        (await client.GetAsync($"/v1/{client.ProjectId}/cloudservers/flavors?availability_zone=eu-de-02")).Expect(200);
        (await client.GetAsync($"/v1/{client.ProjectId}/cloudservers/flavors?availability_zone=cn-north-4a")).ExpectError(400, "Ecs.0005");
    }

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task Flavors_have_string_vcpus_and_numeric_ram(AuthMode mode)
    {
        var client = Service.Client(TestAccounts.Alice, mode);
        var flavors = (await client.GetAsync($"/v1/{client.ProjectId}/cloudservers/flavors?availability_zone=cn-north-4a")).Expect(200)["flavors"].AsArray();
        Assert.True(flavors.Count >= 5);
        var large = flavors.Single(f => (string?)f!["id"] == "s6.large.2")!;
        Assert.Equal(JsonValueKind.String, large["vcpus"]!.GetValueKind());
        Assert.Equal("2", (string?)large["vcpus"]);
        Assert.Equal(JsonValueKind.Number, large["ram"]!.GetValueKind());
        Assert.Equal(4096, (int)large["ram"]!);
        Assert.Equal("0", (string?)large["disk"]);
        Assert.Equal("normal", (string?)large["os_extra_specs"]!["ecs:performancetype"]);
        Assert.All(large["os_extra_specs"]!.AsObject(), kv => Assert.Equal(JsonValueKind.String, kv.Value!.GetValueKind()));
        Assert.Equal(JsonValueKind.Array, large["links"]!.GetValueKind());
        Assert.Equal(flavors.Count, (await client.GetAsync($"/v1/{client.ProjectId}/cloudservers/flavors")).Expect(200)["flavors"].AsArray().Count);
    }

    [Fact]
    public async Task An_unknown_zone_is_a_request_error() =>
        (await Service.Client(TestAccounts.Alice).GetAsync($"/v1/{TestAccounts.Alice.ProjectId}/cloudservers/flavors?availability_zone=mars-1a"))
            .ExpectError(400, "Ecs.0005");
}
