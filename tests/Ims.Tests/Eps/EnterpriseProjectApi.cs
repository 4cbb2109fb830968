using Ims.Tests.Infrastructure;

namespace Ims.Tests.Eps;

/// <summary>Enterprise projects as terraform's <c>huaweicloud_enterprise_project</c> makes and disables them.</summary>
public static class EnterpriseProjectApi
{
    public const string Path = "/v1.0/enterprise-projects";

    public static string UniqueName(string prefix = "ep") => $"{prefix}-{Guid.NewGuid():N}";

    /// <summary>Creates an enabled enterprise project in the client's account and returns its id.</summary>
    public static async Task<string> CreateAsync(ApiClient client, string? name = null)
    {
        var created = (await client.PostAsync(Path, new { name = name ?? UniqueName(), description = "made by a test" })).Expect(200);
        return (string)created["enterprise_project"]["id"]!;
    }

    public static async Task DisableAsync(ApiClient client, string id) =>
        (await client.PostAsync($"{Path}/{id}/action", new { action = "disable" })).Expect(204);
}
