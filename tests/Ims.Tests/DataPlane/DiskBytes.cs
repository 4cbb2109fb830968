using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;
using Ims.Tests.Ims;

namespace Ims.Tests.DataPlane;

/// <summary>The data endpoint (<c>/data/v1/{project_id}/volumes/{volume_id}/...</c>) as a user or a test drives it.</summary>
public static class DiskBytes
{
    public const int ChunkSize = 4 * 1024 * 1024;
    public const long Gib = 1L << 30;

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromMinutes(5) };

    public static string PathOf(ApiClient client, string volumeId, string what) => $"/data/v1/{client.ProjectId}/volumes/{volumeId}/{what}";

    public static async Task<HttpResponseMessage> SendAsync(ApiClient client, HttpMethod method, string path, byte[]? body = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(client.BaseAddress, path));
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/octet-stream");
        }
        request.Headers.TryAddWithoutValidation("X-Auth-Token", await client.TokenAsync());
        return await Http.SendAsync(request);
    }

    public static async Task WriteAsync(ApiClient client, string volumeId, long offset, byte[] data)
    {
        using var response = await SendAsync(client, HttpMethod.Put, PathOf(client, volumeId, $"bytes?offset={offset}"), data);
        Assert.True(response.StatusCode == HttpStatusCode.NoContent,
            $"write {volumeId}@{offset}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    public static async Task<byte[]> ReadAsync(ApiClient client, string volumeId, long offset, int length)
    {
        using var response = await SendAsync(client, HttpMethod.Get, PathOf(client, volumeId, $"bytes?offset={offset}&length={length}"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsByteArrayAsync();
    }

    /// <summary>The non-zero chunks of a volume as "index:sha256" lines: equal lists mean equal bytes.</summary>
    public static async Task<List<string>> ChunksAsync(ApiClient client, string volumeId)
    {
        var response = (await client.GetAsync(PathOf(client, volumeId, "chunks"))).Expect(200);
        Assert.Equal(volumeId, (string?)response["volume_id"]);
        return [.. response["chunks"].AsArray().Select(c => $"{(long)c!["index"]!}:{(string)c["sha256"]!}")];
    }

    /// <summary>The full SHA-256 (it hashes every byte of the declared size, zeros too: slow on big disks).</summary>
    public static async Task<JsonNode> Sha256Async(ApiClient client, string volumeId)
    {
        using var response = await SendAsync(client, HttpMethod.Get, PathOf(client, volumeId, "sha256"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return JsonNode.Parse(body)!;
    }

    /// <summary>Deterministic, incompressible bytes.</summary>
    public static byte[] Pattern(int seed, int length)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>
    /// Writes recognisable data to every disk of a server: the first bytes, a run across a chunk boundary deep inside the
    /// disk, and the last bytes (the rest stays a hole).
    /// </summary>
    public static async Task WritePatternsAsync(ApiClient client, TestServer server, int seed)
    {
        var disks = new List<(string Id, int Gb)> { (server.SystemVolumeId, server.SystemDiskGb) };
        disks.AddRange(server.DataVolumes);
        foreach (var (disk, n) in disks.Select((d, n) => (d, n)))
        {
            var size = disk.Gb * Gib;
            await WriteAsync(client, disk.Id, 0, Pattern(seed + n, 512 * 1024));
            await WriteAsync(client, disk.Id, 3L * ChunkSize - 4096, Pattern(seed + 100 + n, ChunkSize + 8192));
            await WriteAsync(client, disk.Id, size - 65536, Pattern(seed + 200 + n, 65536));
        }
    }

    /// <summary>Every disk of a server, system disk first, data disks in device order, as chunk lists.</summary>
    public static async Task<List<List<string>>> ServerChunksAsync(ApiClient client, string serverId)
    {
        var devices = (await client.GetAsync($"/v1/{client.ProjectId}/cloudservers/{serverId}/block_device")).Expect(200)["volumeAttachments"]
            .AsArray().Select(d => (Id: (string)d!["volumeId"]!, Device: (string)d["device"]!, Boot: (int)d["bootIndex"]!))
            .OrderBy(d => d.Boot == 0 ? 0 : 1).ThenBy(d => d.Device, StringComparer.Ordinal).ToList();
        var result = new List<List<string>>();
        foreach (var device in devices) result.Add(await ChunksAsync(client, device.Id));
        return result;
    }

    /// <summary>A server made from an image (a whole image brings all its disks); waits for its job and returns (server, job).</summary>
    public static async Task<(string ServerId, JsonNode Job)> ServerFromImageAsync(ApiClient client, string imageId)
    {
        var network = await Servers.CreateNetworkAsync(client);
        var body = Servers.ServerBody(network, Servers.UniqueName("restored"), image: imageId);
        var created = (await client.PostAsync($"/v1.1/{client.ProjectId}/cloudservers", body.ToJsonString())).Expect(200);
        var job = await client.WaitForJobAsync((string)created["job_id"]!, TimeSpan.FromSeconds(120));
        return ((string)job["entities"]!["sub_jobs"]![0]!["entities"]!["server_id"]!, job);
    }

    public static async Task<string> RestoredServerAsync(ApiClient client, string imageId)
    {
        var (serverId, job) = await ServerFromImageAsync(client, imageId);
        Assert.True((string?)job["status"] == "SUCCESS", job.ToJsonString());
        return serverId;
    }

    /// <summary>A mode-C whole image of a CBR backup; returns the image id.</summary>
    public static async Task<string> ImageOfBackupAsync(ApiClient client, string backupId)
    {
        var (_, image) = await WholeImages.WaitForImageAsync(client, await WholeImages.CreateAsync(client, WholeImages.FromCbr(backupId)));
        return (string)image["id"]!;
    }

    public static string Hex(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));
}
