using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Dapper;
using Ims.Service.Storage;
using Ims.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using DataPlaneStore = Ims.DataPlane.DataPlane;

namespace Ims.Tests.Ims;

/// <summary>Images made from files: the native create and upload calls, disk contents to upload, and what the store holds.</summary>
public static class ImageFiles
{
    public const string CreatePath = "/v2/images";

    public static string FilePath(string imageId) => $"/v2/images/{imageId}/file";

    /// <summary><c>POST /v2/images</c>; answers the created image (201).</summary>
    public static async Task<JsonObject> CreateAsync(ApiClient client, string diskFormat, JsonObject? extra = null)
    {
        var body = new JsonObject
        {
            ["name"] = Servers.UniqueName("upl"),
            ["disk_format"] = diskFormat,
            ["container_format"] = "bare",
            ["__os_version"] = "Ubuntu 18.04 server 64bit",
            ["min_disk"] = 1,
        };
        foreach (var (key, value) in extra ?? []) body[key] = value?.DeepClone();
        return Assert.IsType<JsonObject>((await client.PostAsync(CreatePath, body.ToJsonString())).Expect(201).Json);
    }

    public static Task<ApiResponse> UploadAsync(ApiClient client, string imageId, byte[] content, string contentType = "application/octet-stream") =>
        client.SendAsync(HttpMethod.Put, FilePath(imageId), content, contentType);

    /// <summary>
    /// A raw disk of <paramref name="size"/> bytes with data where a guest would write (a recognisable start, scattered
    /// random blocks, one run crossing a 4 MiB chunk boundary) and zeros elsewhere. Deterministic per <paramref name="seed"/>.
    /// </summary>
    public static byte[] RawDisk(int size, int seed)
    {
        var disk = new byte[size];
        var random = new Random(seed);
        "IMS upload test disk"u8.CopyTo(disk);
        disk[510] = 0x55;
        disk[511] = 0xAA;
        for (var block = 1; block < size / 65536; block += 3) random.NextBytes(disk.AsSpan(block * 65536, 4096));
        var boundary = 4 * 1024 * 1024;
        if (size > boundary + 8192) random.NextBytes(disk.AsSpan(boundary - 8192, 16384));
        return disk;
    }

    /// <summary>Converts a raw disk to qcow2 with qemu-img, as a user preparing an upload would.</summary>
    public static async Task<byte[]> ToQcow2Async(byte[] raw)
    {
        var folder = Path.Combine(Path.GetTempPath(), "ims-tests", "qcow2-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var rawPath = Path.Combine(folder, "disk.raw");
            var qcowPath = Path.Combine(folder, "disk.qcow2");
            await File.WriteAllBytesAsync(rawPath, raw);
            await RunAsync("qemu-img", "convert", "-f", "raw", "-O", "qcow2", rawPath, qcowPath);
            return await File.ReadAllBytesAsync(qcowPath);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

#pragma warning disable CA5351 // Glance's checksum is MD5 by contract.
    public static string Md5(byte[] bytes) => Convert.ToHexStringLower(MD5.HashData(bytes));
#pragma warning restore CA5351

    /// <summary>The manifest the service recorded for an image (null when it has none).</summary>
    public static async Task<string?> ManifestOfAsync(TestService service, string imageId)
    {
        var db = service.App.Services.GetRequiredService<Database>();
        await using var connection = await db.OpenAsync(CancellationToken.None);
        return await connection.ExecuteScalarAsync<string?>("SELECT manifest_id FROM images WHERE id = @imageId", new { imageId });
    }

    public static DataPlaneStore DataPlane(TestService service) => service.App.Services.GetRequiredService<DataPlaneStore>();

    public static async Task RunAsync(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)} failed: {await stderr}");
    }
}
