using System.Security.Cryptography;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Obs;

/// <summary>
/// Debian's S3 clients against the service's own bucket API: s3cmd (SigV4, and the V2 header signature with
/// --signature-v2) and awscli, each uploading a small file and a 12 MB one in multipart parts, listing, downloading
/// and comparing bytes, deleting. scripts/install-tools.sh installs both.
/// </summary>
public sealed class BucketClientTests(ObsFixture fixture) : IClassFixture<ObsFixture>, IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("ims-s3-").FullName;

    public void Dispose() => Directory.Delete(_home, recursive: true);

    private string WriteRandom(string name, int size)
    {
        var path = Path.Combine(_home, name);
        File.WriteAllBytes(path, RandomNumberGenerator.GetBytes(size));
        return path;
    }

    private Task<string> S3cmdAsync(TestTenant tenant, bool signatureV2, params string[] args) =>
        Cli.RunAsync(_home, "s3cmd", ["-c", fixture.S3cmdConfig(_home, tenant), .. signatureV2 ? new[] { "--signature-v2" } : [], .. args]);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task S3cmd_puts_lists_gets_and_deletes_with_either_signature(bool signatureV2)
    {
        var bucket = ObsFixture.NewBucketName();
        var small = WriteRandom("small.bin", 1000);
        var large = WriteRandom("large.bin", 12 * 1024 * 1024 + 5);

        await S3cmdAsync(TestAccounts.Alice, signatureV2, "mb", $"s3://{bucket}");
        await S3cmdAsync(TestAccounts.Alice, signatureV2, "put", small, $"s3://{bucket}/dir/small.bin");
        await S3cmdAsync(TestAccounts.Alice, signatureV2, "put", "--multipart-chunk-size-mb=5", large, $"s3://{bucket}/large.bin");

        var top = await S3cmdAsync(TestAccounts.Alice, signatureV2, "ls", $"s3://{bucket}");
        Assert.Contains($"DIR  s3://{bucket}/dir/", top);
        Assert.Contains($"{12 * 1024 * 1024 + 5}  s3://{bucket}/large.bin", top);
        Assert.DoesNotContain("small.bin", top);
        var all = await S3cmdAsync(TestAccounts.Alice, signatureV2, "ls", "-r", $"s3://{bucket}");
        Assert.Contains($"1000  s3://{bucket}/dir/small.bin", all);
        Assert.Contains($"s3://{bucket}", await S3cmdAsync(TestAccounts.Alice, signatureV2, "ls"));
        Assert.DoesNotContain($"s3://{bucket}", await S3cmdAsync(TestAccounts.Bob, signatureV2, "ls"));

        // The large file went up in three parts: its ETag is the multipart kind.
        using var s3 = fixture.S3(TestAccounts.Alice);
        Assert.EndsWith("-3\"", (await s3.GetObjectMetadataAsync(bucket, "large.bin")).ETag);

        var back = Path.Combine(_home, "large.back");
        await S3cmdAsync(TestAccounts.Alice, signatureV2, "get", $"s3://{bucket}/large.bin", back);
        Assert.Equal(File.ReadAllBytes(large), File.ReadAllBytes(back));

        await S3cmdAsync(TestAccounts.Alice, signatureV2, "del", $"s3://{bucket}/large.bin", $"s3://{bucket}/dir/small.bin");
        await S3cmdAsync(TestAccounts.Alice, signatureV2, "rb", $"s3://{bucket}");
        Assert.DoesNotContain($"s3://{bucket}", await S3cmdAsync(TestAccounts.Alice, signatureV2, "ls"));
    }

    [Fact]
    public async Task S3cmd_with_a_wrong_secret_is_refused()
    {
        var wrong = TestAccounts.Alice with { SecretKey = "not-the-secret" };
        var output = await Cli.RunAsync(_home, "s3cmd", ["-c", fixture.S3cmdConfig(_home, wrong), "mb", $"s3://{ObsFixture.NewBucketName()}"], expectSuccess: false);
        Assert.Contains("SignatureDoesNotMatch", output);
    }

    private Task<string> AwsAsync(TestTenant tenant, params string[] args) => Cli.RunAsync(_home, "aws",
        ["--endpoint-url", fixture.Endpoint, .. args],
        new Dictionary<string, string>
        {
            ["AWS_ACCESS_KEY_ID"] = tenant.AccessKey,
            ["AWS_SECRET_ACCESS_KEY"] = tenant.SecretKey,
            ["AWS_DEFAULT_REGION"] = "cn-north-4",
            ["AWS_CONFIG_FILE"] = Path.Combine(_home, "no-aws-config"),
            ["AWS_SHARED_CREDENTIALS_FILE"] = Path.Combine(_home, "no-aws-credentials"),
        });

    [Fact]
    public async Task Awscli_copies_up_lists_copies_down_and_removes()
    {
        var bucket = ObsFixture.NewBucketName();
        var large = WriteRandom("aws-large.bin", 12 * 1024 * 1024 + 7);

        await AwsAsync(TestAccounts.Alice, "s3", "mb", $"s3://{bucket}");
        // awscli splits files above 8 MB into parts.
        await AwsAsync(TestAccounts.Alice, "s3", "cp", large, $"s3://{bucket}/images/disk.bin");
        var listing = await AwsAsync(TestAccounts.Alice, "s3", "ls", $"s3://{bucket}/images/");
        Assert.Contains($"{12 * 1024 * 1024 + 7} disk.bin", listing);
        var head = await AwsAsync(TestAccounts.Alice, "s3api", "head-object", "--bucket", bucket, "--key", "images/disk.bin");
        Assert.Contains("-2\\\"", head);

        var back = Path.Combine(_home, "aws-large.back");
        await AwsAsync(TestAccounts.Alice, "s3", "cp", $"s3://{bucket}/images/disk.bin", back);
        Assert.Equal(File.ReadAllBytes(large), File.ReadAllBytes(back));

        var denied = await Cli.RunAsync(_home, "aws", ["--endpoint-url", fixture.Endpoint, "s3", "ls", $"s3://{bucket}/"],
            new Dictionary<string, string>
            {
                ["AWS_ACCESS_KEY_ID"] = TestAccounts.Bob.AccessKey,
                ["AWS_SECRET_ACCESS_KEY"] = TestAccounts.Bob.SecretKey,
                ["AWS_DEFAULT_REGION"] = "cn-north-4",
            }, expectSuccess: false);
        Assert.Contains("AccessDenied", denied);

        await AwsAsync(TestAccounts.Alice, "s3", "rm", $"s3://{bucket}/images/disk.bin");
        await AwsAsync(TestAccounts.Alice, "s3", "rb", $"s3://{bucket}");
    }
}
