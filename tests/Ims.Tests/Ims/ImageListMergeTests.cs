using System.Text.Json.Nodes;
using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ims;

/// <summary>
/// A list is the merge of the viewer's own images and the public ones, each read in index order: the merged pages must
/// read as one sorted list, in either direction and across markers.
/// </summary>
public sealed class ImageListMergeTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;

    [Fact]
    public async Task Own_and_public_images_interleave_in_sort_order_across_pages()
    {
        var client = Service.Client(TestAccounts.Alice);
        // Names that fall between the seeded public ones ("Standard_Debian...", "Ubuntu...", "Windows...") by code point.
        string[] names = ["Alpha-merge", "Tango-merge", "Vega-merge", "Zulu-merge"];
        var server = await TestServers.CreateAsync(Service, client);
        var vaultId = await Cbr.CreateVaultAsync(client, 200, server.Id);
        foreach (var name in names)
        {
            var checkpoint = await Cbr.CreateCheckpointAsync(client, vaultId, server.Id);
            await Cbr.WaitAvailableAsync(client, (string)checkpoint["id"]!);
            var backups = (await client.GetAsync($"/v3/{client.ProjectId}/backups?checkpoint_id={(string)checkpoint["id"]!}"))
                .Expect(200)["backups"].AsArray();
            await WholeImages.WaitForImageAsync(client, await WholeImages.CreateAsync(client, WholeImages.FromCbr((string)backups.Single()!["id"]!, name)));
        }

        foreach (var (key, dir) in new[] { ("name", "asc"), ("name", "desc"), ("created_at", "desc"), ("created_at", "asc") })
        {
            var all = await PageAsync(client, $"sort_key={key}&sort_dir={dir}&limit=1000");
            var names1 = all.Select(i => (string)i["name"]!).ToList();
            Assert.Superset(names.Concat(["Standard_Debian_11_latest", "Ubuntu 18.04 server 64bit"]).ToHashSet(), names1.ToHashSet());
            if (key == "name")
            {
                var sorted = dir == "asc" ? names1.Order(StringComparer.Ordinal) : names1.OrderDescending(StringComparer.Ordinal);
                Assert.Equal(sorted, names1);
            }

            // Page by page with a marker, two at a time: the same images in the same order.
            var paged = new List<string>();
            string? marker = null;
            for (var guard = 0; guard < 100; guard++)
            {
                var page = await PageAsync(client, $"sort_key={key}&sort_dir={dir}&limit=2" + (marker is null ? "" : $"&marker={marker}"));
                if (page.Count == 0) break;
                paged.AddRange(page.Select(i => (string)i["id"]!));
                marker = paged[^1];
            }
            Assert.Equal(all.Select(i => (string)i["id"]!), paged);
        }
    }

    private static async Task<List<JsonNode>> PageAsync(ApiClient client, string query) =>
        [.. (await client.GetAsync($"/v2/cloudimages?{query}")).Expect(200)["images"].AsArray().Select(i => i!)];
}
