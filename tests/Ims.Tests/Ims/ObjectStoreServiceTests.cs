using Ims.Service.Hosting;
using Ims.Tests.DataPlane;
using Ims.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace Ims.Tests.Ims;

/// <summary>The service with <c>Ims:ObjectStore</c> set: an image's chunks and manifest go to the bucket, a server boots from them.</summary>
public sealed class ObjectStoreServiceTests
{
    private static string[] Settings(ObjectStoreSettings options) =>
    [
        $"--Ims:ObjectStore:Endpoint={options.Endpoint}",
        $"--Ims:ObjectStore:Bucket={options.Bucket}",
        $"--Ims:ObjectStore:AccessKey={options.AccessKey}",
        $"--Ims:ObjectStore:SecretKey={options.SecretKey}",
    ];

    private sealed record ObjectStoreSettings(string? Endpoint, string? Bucket, string? AccessKey, string? SecretKey);

    [RgwFact]
    public async Task An_uploaded_image_is_stored_in_the_bucket_and_a_server_boots_from_it()
    {
        using var bucket = new TestBucket();
        var o = bucket.Options;
        await using var service = await TestService.StartAsync(extra: Settings(new(o.Endpoint, o.Bucket, o.AccessKey, o.SecretKey)));
        var alice = service.Client(TestAccounts.Alice);
        var raw = ImageFiles.RawDisk(6 * 1024 * 1024, seed: 21);
        var imageId = (string)(await ImageFiles.CreateAsync(alice, "raw"))["id"]!;
        (await ImageFiles.UploadAsync(alice, imageId, raw)).Expect(204);

        var manifestId = await ImageFiles.ManifestOfAsync(service, imageId);
        Assert.NotNull(manifestId);
        Assert.Contains($"manifests/{manifestId}", await bucket.KeysAsync("manifests/"));
        Assert.True((await bucket.ChunksAsync()).Count >= 2); // the image's two chunks, and the public images' seeded at start
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(service.DataDir, "data", "chunks"), "*", SearchOption.AllDirectories));

        var serverId = await DiskBytes.RestoredServerAsync(alice, imageId);
        var devices = (await alice.GetAsync($"/v1/{alice.ProjectId}/cloudservers/{serverId}/block_device")).Expect(200)["volumeAttachments"]!.AsArray();
        var systemDisk = (string)devices.Single(d => (int)d!["bootIndex"]! == 0)!["volumeId"]!;
        var start = new byte[raw.Length];
        for (var offset = 0; offset < raw.Length; offset += 1024 * 1024)
            (await DiskBytes.ReadAsync(alice, systemDisk, offset, 1024 * 1024)).CopyTo(start, offset);
        Assert.Equal(ImageFiles.Sha256(raw), ImageFiles.Sha256(start));
    }

    [Fact]
    public void Incomplete_object_store_settings_stop_the_start_naming_each_problem()
    {
        var dataDir = TestService.NewDataDir();
        var refused = Assert.Throws<OptionsValidationException>(() => ServiceHost.Build(TestService.Arguments(dataDir,
            Settings(new("not a url", "Bad_Bucket", null, "secret")))));
        Assert.Contains("Ims:ObjectStore:Endpoint must be an absolute http:// or https:// URL.", refused.Failures);
        Assert.Contains(refused.Failures, f => f.StartsWith("Ims:ObjectStore:Bucket must be", StringComparison.Ordinal));
        Assert.Contains("Ims:ObjectStore:AccessKey is required.", refused.Failures);
        Assert.DoesNotContain("secret", refused.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dataDir, "ims.db")));
    }

    [RgwFact]
    public void Wrong_keys_stop_the_start_naming_the_bucket_and_the_answer()
    {
        using var bucket = new TestBucket();
        var o = bucket.Options;
        var dataDir = TestService.NewDataDir();
        var refused = Assert.Throws<OptionsValidationException>(() => ServiceHost.Build(TestService.Arguments(dataDir,
            Settings(new(o.Endpoint, o.Bucket, o.AccessKey, "wrong-secret-key")))));
        var failure = Assert.Single(refused.Failures);
        Assert.StartsWith($"Ims:ObjectStore: The bucket {o.Bucket} at {o.Endpoint} is not usable:", failure, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-secret-key", failure, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dataDir, "ims.db")));
    }
}
