using System.Diagnostics;
using System.Text.Json.Nodes;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Auth;

/// <summary>
/// Issue 11 §2 with the real client: tests/node-sdk/check.js runs the official Huawei Node.js SDK (installed by
/// scripts/install-node-sdk.sh, which .ci/run calls) against the service on loopback, with <c>BasicCredentials(ak, sk)</c>
/// and <c>GlobalCredentials(ak, sk)</c> without ids and with a domain id.
/// </summary>
public sealed class NodeSdkTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private TestService Service => fixture.Service;

    private static string SdkFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Ims.slnx"))) return Path.Combine(dir.FullName, "tests", "node-sdk");
        }
        throw new InvalidOperationException("The repository root (Ims.slnx) is not above the test binaries.");
    }

    [Fact]
    public async Task The_official_node_sdk_works_with_ak_sk_alone_and_with_account_level_credentials()
    {
        var folder = SdkFolder();
        Assert.True(Directory.Exists(Path.Combine(folder, "node_modules", "@huaweicloud")),
            "The Huawei Node.js SDK is not installed: run scripts/install-node-sdk.sh (CI runs it from .ci/run).");
        var alice = TestAccounts.Alice;
        var issued = await ApiClient.IssueTokenAsync(Service.BaseAddress, alice.UserName, alice.Password, alice.DomainName, alice.ProjectId);
        var token = issued.Expect(201).Headers.GetValues("X-Subject-Token").Single();
        var domainId = (string)issued["token"]["user"]!["domain"]!["id"]!;
        var userId = (string)issued["token"]["user"]!["id"]!;

        var info = new ProcessStartInfo("node")
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("check.js");
        info.Environment["IMS_URL"] = Service.BaseAddress.ToString().TrimEnd('/');
        info.Environment["IMS_REGION"] = alice.ProjectName;
        info.Environment["IMS_AK"] = alice.AccessKey;
        info.Environment["IMS_SK"] = alice.SecretKey;
        info.Environment["IMS_DOMAIN_ID"] = domainId;
        info.Environment["IMS_TOKEN"] = token;
        // The SDK must find its ids through this service, never through a configured default.
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("HUAWEICLOUD_SDK_", StringComparison.Ordinal)).ToList())
            info.Environment.Remove(name);

        using var node = Process.Start(info)!;
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await node.WaitForExitAsync(timeout.Token);
        var output = await stdout;
        Assert.True(node.ExitCode == 0, $"node check.js failed ({node.ExitCode}):\n{output}\n{await stderr}");

        var steps = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => JsonNode.Parse(line)!)
            .ToDictionary(s => (string)s["step"]!, s => s["result"]!);
        Assert.Equal(5, steps.Count);
        Assert.All(steps.Values, r => Assert.Equal(200, (int)r["status"]!));

        var servers = steps["ecs.listServersDetails (BasicCredentials without project id)"];
        Assert.Equal(alice.ProjectId, (string?)servers["projectId"]);
        var lookedUp = steps["iam.keystoneListProjects (GlobalCredentials without domain id)"];
        Assert.Equal(domainId, (string?)lookedUp["domainId"]);
        Assert.Equal([alice.ProjectId], lookedUp["projects"]!.AsArray().Select(p => (string?)p));
        Assert.Equal([alice.ProjectId], steps["iam.keystoneListProjects"]["projects"]!.AsArray().Select(p => (string?)p));
        Assert.Equal([alice.ProjectId], steps["iam.keystoneListAuthProjects"]["projects"]!.AsArray().Select(p => (string?)p));
        var validated = steps["iam.keystoneValidateToken"];
        Assert.Equal(alice.ProjectId, (string?)validated["projectId"]);
        Assert.Equal(userId, (string?)validated["userId"]);
    }
}
