using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ims;

/// <summary>
/// Active whole images for the image-management tests, made the way terraform's CBR resource makes them: one server and
/// vault per service and project, a fresh CBR backup of it for each image (a backup yields one image).
/// </summary>
public static class TestImages
{
    private static readonly ConcurrentDictionary<string, Lazy<Task<(string ServerId, string VaultId)>>> Sources = new(StringComparer.Ordinal);

    /// <summary>Creates an active whole image; <paramref name="extra"/> adds fields to the create body.</summary>
    public static async Task<JsonObject> CreateAsync(TestService service, ApiClient client, JsonObject? extra = null)
    {
        var jobId = await StartAsync(service, client, extra);
        return (await WholeImages.WaitForImageAsync(client, jobId)).Image;
    }

    /// <summary>Sends the create request of a whole image from a fresh CBR backup and returns its job id.</summary>
    public static async Task<string> StartAsync(TestService service, ApiClient client, JsonObject? extra = null) =>
        await WholeImages.CreateAsync(client, await BodyAsync(service, client, extra));

    /// <summary>The create body of a whole image from a fresh CBR backup of the project's test server.</summary>
    public static async Task<string> BodyAsync(TestService service, ApiClient client, JsonObject? extra = null)
    {
        var (serverId, vaultId) = await Sources.GetOrAdd($"{service.BaseAddress}|{client.ProjectId}", _ => new(async () =>
        {
            var server = await TestServers.CreateAsync(service, client, 10);
            // Vault capacity is enforced and every image takes a fresh 50 GB backup that stays under it: room for 2,000
            // (a test class makes dozens; 200 GB held four).
            return (server.Id, await Cbr.CreateVaultAsync(client, 100_000, server.Id));
        })).Value;
        var checkpoint = await Cbr.CreateCheckpointAsync(client, vaultId, serverId);
        var checkpointId = (string)checkpoint["id"]!;
        await Cbr.WaitAvailableAsync(client, checkpointId);
        var backups = (await client.GetAsync($"/v3/{client.ProjectId}/backups?checkpoint_id={checkpointId}")).Expect(200)["backups"].AsArray();
        var body = new JsonObject
        {
            ["name"] = Servers.UniqueName("img"),
            ["backup_id"] = (string)Assert.Single(backups)!["id"]!,
            ["whole_image_type"] = "CBR",
        };
        foreach (var (key, value) in extra ?? []) body[key] = value?.DeepClone();
        return body.ToJsonString();
    }

    /// <summary>The image as terraform reads it: <c>GET /v2/cloudimages?id=</c>.</summary>
    public static async Task<JsonObject> ReadAsync(ApiClient client, string imageId)
    {
        var images = (await client.GetAsync($"/v2/cloudimages?id={imageId}")).Expect(200)["images"].AsArray();
        return Assert.IsType<JsonObject>(Assert.Single(images));
    }

    public static string Id(this JsonObject image) => (string)image["id"]!;
}
