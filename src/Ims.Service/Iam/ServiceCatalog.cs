namespace Ims.Service.Iam;

/// <summary>
/// The token's service catalog: for every service this endpoint serves, the URL its clients join their paths to, shaped
/// as the real cloud's catalog shapes it (every entry points at this one host). Clients read these URLs as they are:
/// <list type="bullet">
/// <item>openstacksdk and the <c>openstack</c>/<c>glance</c> CLIs discover the image API from the versionless <c>image</c>
/// URL (<c>GET /</c>), and python-otcextensions' <c>imsv1</c>/<c>imsv2</c> append <c>/v1</c>, <c>/v2</c> to it;
/// gophertelekomcloud's IMS clients append <c>v1/</c>, <c>v2/</c> too.</item>
/// <item>python-otcextensions appends the project id to <c>cbr</c> (and every service marked so) unless the URL already
/// ends with it, then joins <c>/vaults</c>: the URL must end in <c>/v3/{project_id}</c>.</item>
/// <item>gophertelekomcloud joins resource paths straight to <c>ecs</c> (<c>/v1/{project_id}</c>), <c>cbr</c>,
/// <c>data-protect</c> (CSBS, <c>/v1/{project_id}</c>), <c>compute</c> (<c>/v2.1/{project_id}</c>, availability zones),
/// <c>volumev2</c> (<c>/v2/{project_id}</c>), and <c>v1/{project_id}/...</c> to the versionless <c>network</c> URL.</item>
/// <item>python-otcextensions' <c>vpc</c> keeps only the scheme and host of its URL; the real one is <c>/v1/{project_id}</c>.</item>
/// <item>EPS is global: <c>/v1.0</c>, no project.</item>
/// </list>
/// The Huawei SDKs take their endpoints from their own region tables, never from the catalog.
/// </summary>
public static class ServiceCatalog
{
    /// <summary>One catalog entry: the service type clients look up, its name, and the path after the host.</summary>
    public sealed record Entry(string Type, string Name, string Path);

    /// <summary>The entries for a token scoped to <paramref name="projectId"/>, in a fixed order.</summary>
    public static IReadOnlyList<Entry> For(string projectId) =>
    [
        new("identity", "iam", "/v3"),
        new("image", "ims", ""),
        new("ecs", "ecs", $"/v1/{projectId}"),
        new("compute", "nova", $"/v2.1/{projectId}"),
        new("evs", "evs", $"/v2/{projectId}"),
        new("volumev2", "cinderv2", $"/v2/{projectId}"),
        new("vpc", "vpc", $"/v1/{projectId}"),
        new("network", "neutron", ""),
        new("cbr", "cbr", $"/v3/{projectId}"),
        new("data-protect", "csbs", $"/v1/{projectId}"),
        new("eps", "eps", "/v1.0"),
    ];
}
