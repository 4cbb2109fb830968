using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ims.Tests.Infrastructure;
using Ims.Tests.Ims;

namespace Ims.Tests.Clients;

/// <summary>
/// The real OpenStack tooling against the service on loopback, configured with nothing but the identity URL and a
/// password (the README's <c>clouds.yaml</c>): Debian's <c>openstack</c> CLI with openstacksdk, and the <c>glance</c> CLI.
/// scripts/install-tools.sh installs them (CI runs it first).
/// </summary>
public sealed partial class OpenStackCliTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>, IDisposable
{
    private readonly TestService _service = fixture.Service;
    private readonly string _home = Directory.CreateTempSubdirectory("ims-cli-").FullName;

    public void Dispose() => Directory.Delete(_home, recursive: true);

    private string AuthUrl => new Uri(_service.BaseAddress, "/v3").ToString();

    /// <summary>The README's clouds.yaml, for one tenant: no endpoint overrides, no API versions.</summary>
    private string CloudsYaml(TestTenant tenant)
    {
        var path = Path.Combine(_home, $"clouds-{tenant.UserName}.yaml");
        File.WriteAllText(path, $"""
            clouds:
              ims:
                auth:
                  auth_url: {AuthUrl}
                  username: {tenant.UserName}
                  password: {tenant.Password}
                  user_domain_name: {tenant.DomainName}
                  project_name: {tenant.ProjectName}
                  project_domain_name: {tenant.DomainName}
                region_name: cn-north-4
                identity_api_version: 3
            """);
        return path;
    }

    private Task<string> OpenStackAsync(TestTenant tenant, params string[] args) =>
        RunAsync("openstack", args, new() { ["OS_CLIENT_CONFIG_FILE"] = CloudsYaml(tenant), ["OS_CLOUD"] = "ims" });

    /// <summary>glance reads only OS_* variables: the same settings as the clouds.yaml.</summary>
    private Task<string> GlanceAsync(TestTenant tenant, params string[] args) => RunAsync("glance", args, GlanceEnvironment(tenant));

    private Dictionary<string, string> GlanceEnvironment(TestTenant tenant) => new()
    {
        ["OS_AUTH_URL"] = AuthUrl,
        ["OS_USERNAME"] = tenant.UserName,
        ["OS_PASSWORD"] = tenant.Password,
        ["OS_USER_DOMAIN_NAME"] = tenant.DomainName,
        ["OS_PROJECT_NAME"] = tenant.ProjectName,
        ["OS_PROJECT_DOMAIN_NAME"] = tenant.DomainName,
        ["OS_REGION_NAME"] = "cn-north-4",
    };

    private async Task<string> RunAsync(string program, string[] args, Dictionary<string, string> environment, bool expectSuccess = true)
    {
        var (exitCode, output, errors) = await ExecAsync(program, args, environment);
        if (expectSuccess) Assert.True(exitCode == 0, $"{program} {string.Join(' ', args)} exited {exitCode}:\n{output}\n{errors}");
        else Assert.True(exitCode != 0, $"{program} {string.Join(' ', args)} succeeded:\n{output}");
        return output;
    }

    // A clean client: its own HOME (glance caches schemas there), none of the caller's OS_* settings.
    private Task<(int ExitCode, string Output, string Errors)> ExecAsync(string program, string[] args, Dictionary<string, string> environment) =>
        ClientTool.ExecAsync(_home, program, args, "OS_", environment, TimeSpan.FromMinutes(2));

    private string WriteFile(string name, byte[] content)
    {
        var path = Path.Combine(_home, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    [Fact]
    public async Task The_openstack_cli_lists_creates_saves_tags_and_deletes_images_from_a_plain_clouds_yaml()
    {
        var alice = TestAccounts.Alice;
        var listed = JsonNode.Parse(await OpenStackAsync(alice, "image", "list", "-f", "json"))!.AsArray();
        Assert.Contains(listed, i => (string?)i!["Name"] == "Ubuntu 18.04 server 64bit");

        var disk = ImageFiles.RawDisk(3 << 20, 21);
        var name = Servers.UniqueName("osc");
        var created = JsonNode.Parse(await OpenStackAsync(alice, "image", "create", "--file", WriteFile("osc.raw", disk),
            "--disk-format", "raw", "--container-format", "bare", name, "-f", "json"))!;
        var id = (string)created["id"]!;
        var shown = JsonNode.Parse(await OpenStackAsync(alice, "image", "show", name, "-f", "json"))!;
        Assert.Equal("active", (string?)shown["status"]);
        Assert.Equal(ImageFiles.Md5(disk), (string?)shown["checksum"]);

        var saved = Path.Combine(_home, "saved.raw");
        await OpenStackAsync(alice, "image", "save", "--file", saved, id);
        Assert.Equal(disk, await File.ReadAllBytesAsync(saved));

        await OpenStackAsync(alice, "image", "set", "--tag", "extra", id);
        await OpenStackAsync(alice, "image", "set", "--tag", "second", id);
        Assert.Equal(["extra", "second"], TagsOf(JsonNode.Parse(await OpenStackAsync(alice, "image", "show", id, "-f", "json"))!));
        await OpenStackAsync(alice, "image", "unset", "--tag", "extra", id);
        Assert.Equal(["second"], TagsOf(JsonNode.Parse(await OpenStackAsync(alice, "image", "show", id, "-f", "json"))!));

        await OpenStackAsync(alice, "image", "delete", id);
        var (exitCode, _, errors) = await ExecAsync("openstack", ["image", "show", id],
            new() { ["OS_CLIENT_CONFIG_FILE"] = CloudsYaml(alice), ["OS_CLOUD"] = "ims" });
        Assert.True(exitCode != 0, "the deleted image is still shown");
        Assert.Contains("No Image found", errors, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Openstacksdk_adds_a_tag_and_reads_it_back_bare_and_downloads_an_image()
    {
        var alice = TestAccounts.Alice;
        var disk = ImageFiles.RawDisk(2 << 20, 23);
        var qcow2 = await ImageFiles.ToQcow2Async(disk);
        var script = """
            import hashlib, sys, openstack
            conn = openstack.connect(cloud="ims")
            image = conn.image.create_image(name=sys.argv[1], filename=sys.argv[2], disk_format="qcow2", container_format="bare", wait=True)
            conn.image.add_tag(image, "sdktag")
            print("tags", ",".join(conn.image.get_image(image.id).tags))
            print("md5", hashlib.md5(conn.image.download_image(image.id).content).hexdigest())
            conn.image.remove_tag(image, "sdktag")
            print("after", ",".join(conn.image.get_image(image.id).tags))
            conn.image.delete_image(image.id)
            """;
        var output = await RunAsync("/usr/bin/python3", ["-c", script, Servers.UniqueName("sdk"), WriteFile("sdk.qcow2", qcow2)],
            new() { ["OS_CLIENT_CONFIG_FILE"] = CloudsYaml(alice), ["OS_CLOUD"] = "ims" });
        Assert.Contains("tags sdktag\n", output, StringComparison.Ordinal);
        // The uploaded qcow2 file comes back as it was uploaded (openstacksdk also checks it against Content-MD5).
        Assert.Contains($"md5 {ImageFiles.Md5(qcow2)}\n", output, StringComparison.Ordinal);
        Assert.Contains("after \n", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_glance_cli_runs_every_image_tag_and_member_command()
    {
        var alice = TestAccounts.Alice;
        var bob = TestAccounts.Bob;
        var disk = ImageFiles.RawDisk(2 << 20, 25);
        var qcow2 = await ImageFiles.ToQcow2Async(disk);
        var name = Servers.UniqueName("glance");
        var created = await GlanceAsync(alice, "image-create", "--file", WriteFile("glance.qcow2", qcow2), "--disk-format", "qcow2",
            "--container-format", "bare", "--name", name);
        var id = Field(created, "id");
        Assert.Equal("active", Field(created, "status"));
        Assert.Equal(ImageFiles.Md5(qcow2), Field(created, "checksum"));

        Assert.Contains(name, await GlanceAsync(alice, "image-list"), StringComparison.Ordinal);
        Assert.Equal(name, Field(await GlanceAsync(alice, "image-show", id), "name"));

        var updated = await GlanceAsync(alice, "image-update", "--name", name + "-2", "--property", "purpose=ci", id);
        Assert.Equal(name + "-2", Field(updated, "name"));
        Assert.Equal("ci", Field(updated, "purpose"));

        await GlanceAsync(alice, "image-tag-update", id, "gtag");
        Assert.Contains("gtag", Field(await GlanceAsync(alice, "image-show", id), "tags"), StringComparison.Ordinal);
        await GlanceAsync(alice, "image-tag-delete", id, "gtag");
        Assert.DoesNotContain("gtag", Field(await GlanceAsync(alice, "image-show", id), "tags"), StringComparison.Ordinal);

        var downloaded = Path.Combine(_home, "glance-download.qcow2");
        await GlanceAsync(alice, "image-download", "--file", downloaded, id);
        Assert.Equal(qcow2, await File.ReadAllBytesAsync(downloaded));

        await GlanceAsync(alice, "member-create", id, bob.ProjectId);
        Assert.Matches($@"{id}\s*\|\s*{bob.ProjectId}\s*\|\s*pending", await GlanceAsync(alice, "member-list", "--image-id", id));
        await GlanceAsync(bob, "member-update", id, bob.ProjectId, "accepted");
        Assert.Matches($@"{id}\s*\|\s*{bob.ProjectId}\s*\|\s*accepted", await GlanceAsync(alice, "member-list", "--image-id", id));
        Assert.Contains(name + "-2", await GlanceAsync(bob, "image-list"), StringComparison.Ordinal);
        await GlanceAsync(alice, "member-delete", id, bob.ProjectId);
        Assert.DoesNotContain(bob.ProjectId, await GlanceAsync(alice, "member-list", "--image-id", id), StringComparison.Ordinal);

        await GlanceAsync(alice, "image-delete", id);
        await RunAsync("glance", ["image-show", id], GlanceEnvironment(alice), expectSuccess: false);
    }

    private static List<string> TagsOf(JsonNode image) => image["tags"] switch
    {
        JsonArray tags => [.. tags.Select(t => (string)t!).Order(StringComparer.Ordinal)],
        var text => [.. ((string?)text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal)],
    };

    /// <summary>A value of glance's two-column property table.</summary>
    private static string Field(string table, string property)
    {
        var match = Regex.Match(table, $@"^\|\s*{Regex.Escape(property)}\s*\|\s*(.*?)\s*\|\s*$", RegexOptions.Multiline);
        Assert.True(match.Success, $"{property} is not in:\n{table}");
        return match.Groups[1].Value;
    }
}
