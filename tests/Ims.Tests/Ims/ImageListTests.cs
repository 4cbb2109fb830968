using System.Text.Json;
using System.Text.Json.Nodes;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ims;

public sealed class ImageListTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private const string Ubuntu = "Ubuntu 18.04 server 64bit";

    [Theory]
    [InlineData(AuthMode.Token)]
    [InlineData(AuthMode.AkSk)]
    public async Task Terraform_finds_a_public_image_by_name(AuthMode mode)
    {
        var client = fixture.Service.Client(TestAccounts.Alice, mode);
        var response = await client.GetAsync("/v2/cloudimages?enterprise_project_id=all_granted_eps&limit=1&name=Ubuntu+18.04+server+64bit");
        response.Expect(200);
        var image = response["images"].AsArray().Single()!;
        Assert.Equal(Ubuntu, (string?)image["name"]);
        Assert.Equal("gold", (string?)image["__imagetype"]);
        Assert.Equal("active", (string?)image["status"]);
    }

    [Theory]
    [InlineData("Standard_Debian_11_latest", "Linux")]
    [InlineData("Windows Server 2019 Datacenter 64bit English", "Windows")]
    public async Task The_seeded_images_include_debian_and_windows(string name, string osType)
    {
        var client = fixture.Service.Client(TestAccounts.Bob);
        var response = (await client.GetAsync($"/v2/cloudimages?name={Uri.EscapeDataString(name)}")).Expect(200);
        Assert.Equal(osType, (string?)response["images"][0]!["__os_type"]);
    }

    [Fact]
    public async Task Image_attributes_have_the_json_types_clients_decode()
    {
        var client = fixture.Service.Client(TestAccounts.Alice);
        var image = (await client.GetAsync("/v2/cloudimages?name=Ubuntu+18.04+server+64bit")).Expect(200)["images"][0]!.AsObject();

        Assert.Equal(JsonValueKind.Number, image["min_ram"]!.GetValueKind());
        Assert.Equal(JsonValueKind.Number, image["min_disk"]!.GetValueKind());
        Assert.Equal(JsonValueKind.False, image["protected"]!.GetValueKind());
        Assert.Equal(JsonValueKind.False, image["__system_support_market"]!.GetValueKind());
        Assert.Equal(JsonValueKind.Array, image["tags"]!.GetValueKind());
        Assert.Equal("0", (string?)image["enterprise_project_id"]);
        Assert.Equal("false", (string?)image["__whole_image"]);
        foreach (var name in new[] { "created_at", "updated_at", "active_at" })
            Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$", (string?)image[name]);
        // Every other attribute is a string (or absent/null): a number there breaks terraform's strict decoding.
        string[] nonStrings = ["min_ram", "min_disk", "size", "protected", "__system_support_market", "tags", "virtual_size"];
        foreach (var (name, value) in image)
            if (!nonStrings.Contains(name) && value is not null)
                Assert.True(value.GetValueKind() == JsonValueKind.String, $"{name} should be a string, is {value.GetValueKind()}");
    }

    [Fact]
    public async Task Marker_pagination_terminates_with_an_empty_page()
    {
        var client = fixture.Service.Client(TestAccounts.Alice);
        var seen = new List<string>();
        string? marker = null;
        for (var page = 0; page < 10; page++)
        {
            var query = "/v2/cloudimages?status=active&enterprise_project_id=all_granted_eps&limit=1" + (marker is null ? "" : $"&marker={marker}");
            var images = (await client.GetAsync(query)).Expect(200)["images"].AsArray();
            if (images.Count == 0) break;
            marker = (string)images[^1]!["id"]!;
            seen.Add(marker);
        }
        Assert.Equal(3, seen.Count);
        Assert.Equal(seen.Count, seen.Distinct().Count());
    }

    [Fact]
    public async Task Sorting_by_name_ascending_is_honoured()
    {
        var client = fixture.Service.Client(TestAccounts.Alice);
        var names = (await client.GetAsync("/v2/cloudimages?sort_key=name&sort_dir=asc")).Expect(200)["images"].AsArray()
            .Select(i => (string)i!["name"]!).ToList();
        Assert.Equal(names.OrderBy(n => n, StringComparer.Ordinal), names);
    }

    [Fact]
    public async Task An_unknown_id_gives_an_empty_list_and_a_native_404()
    {
        var client = fixture.Service.Client(TestAccounts.Alice);
        var id = Guid.NewGuid().ToString();
        Assert.Empty((await client.GetAsync($"/v2/cloudimages?id={id}")).Expect(200)["images"].AsArray());
        (await client.GetAsync($"/v2/images/{id}")).ExpectImsError(404, "IMG.0027");
    }

    [Fact]
    public async Task Native_show_returns_the_bare_image()
    {
        var client = fixture.Service.Client(TestAccounts.Alice);
        var id = (string)(await client.GetAsync("/v2/cloudimages?name=Ubuntu+18.04+server+64bit")).Expect(200)["images"][0]!["id"]!;
        var image = (await client.GetAsync($"/v2/images/{id}")).Expect(200);
        Assert.Equal(id, (string?)image["id"]);
        Assert.IsType<JsonObject>(image.Json);
    }

    [Theory]
    [InlineData("limit=abc")]
    [InlineData("limit=-1")]
    [InlineData("limit=100000")]
    [InlineData("sort_key=password")]
    [InlineData("sort_dir=sideways")]
    [InlineData("__whole_image=maybe")]
    [InlineData("__imagetype=pirate")]
    [InlineData("marker=00000000-0000-0000-0000-000000000000")]
    public async Task Bad_list_parameters_get_400_in_the_ims_shape(string query)
    {
        var response = await fixture.Service.Client(TestAccounts.Alice).GetAsync($"/v2/cloudimages?{query}");
        response.Expect(400);
        Assert.StartsWith("IMG.", (string?)response.Json["error"]?["code"], StringComparison.Ordinal);
    }
}
