using Ims.Service.Http;
using Ims.Service.Ims;

namespace Ims.Service.Eps;

public enum EnterpriseProjectState
{
    Usable,
    Missing,
    Disabled,
}

/// <summary>
/// The one check of an <c>enterprise_project_id</c> that a request names, for every API that takes one: it must be an
/// enterprise project of the caller's account (<c>0</c>, the default, always is) and enabled. Each service answers a
/// refusal with its own code: IMS <c>IMG.0155</c>, EPS <c>EPS.0005</c> (404) or <c>EPS.0014</c> (disabled).
/// </summary>
public sealed class EnterpriseProjectCheck(EnterpriseProjectStore store)
{
    public async Task<EnterpriseProjectState> CheckAsync(string domainId, string id, CancellationToken ct)
    {
        if (id == EnterpriseProjectStore.DefaultId) return EnterpriseProjectState.Usable;
        if (!WholeImageRules.IsEnterpriseProjectId(id)) return EnterpriseProjectState.Missing;
        var project = await store.GetAsync(domainId, id, ct);
        return project is null ? EnterpriseProjectState.Missing
            : project.Enabled ? EnterpriseProjectState.Usable
            : EnterpriseProjectState.Disabled;
    }

    /// <summary>Null when IMS may put an image in the enterprise project (null or empty means the default), else <c>IMG.0155</c>.</summary>
    public async Task<ApiError?> ImsRefusalAsync(string domainId, string? id, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(id)) return null;
        return await CheckAsync(domainId, id, ct) switch
        {
            EnterpriseProjectState.Usable => null,
            EnterpriseProjectState.Disabled => ImsErrors.Of("IMG.0155", $"The enterprise project {id} is disabled."),
            _ => ImsErrors.Of("IMG.0155", $"The enterprise project {id} does not exist."),
        };
    }

    /// <summary>
    /// Null when EPS may act on the enterprise project, else EPS's 400 <c>EPS.0002</c> (not an id at all), 404
    /// <c>EPS.0005</c> (no such project in the account) or 400 <c>EPS.0014</c> (disabled).
    /// </summary>
    public async Task<ApiError?> EpsRefusalAsync(string domainId, string id, CancellationToken ct) =>
        !WholeImageRules.IsEnterpriseProjectId(id)
            ? ApiError.BadBody(ServiceKind.Eps, "The enterprise project ID is 0 or a UUID.")
            : await CheckAsync(domainId, id, ct) switch
        {
            EnterpriseProjectState.Usable => null,
            EnterpriseProjectState.Disabled => new ApiError(ServiceKind.Eps, StatusCodes.Status400BadRequest, "EPS.0014",
                $"The disabled enterprise project cannot be modified: {id} is disabled."),
            _ => ApiError.NotFound(ServiceKind.Eps, $"Requested resources not found: no enterprise project {id}."),
        };
}
