namespace Ims.Service.Auth;

public enum AuthMethod
{
    Token,
    AkSk,
}

/// <summary>The authenticated caller of a request. Handlers take it as a parameter.</summary>
public sealed record Caller(User User, Project Project, AuthMethod Method)
{
    private const string ItemKey = "ims.caller";

    public string ProjectId => Project.Id;

    /// <summary>
    /// True for an AK/SK request to an account-level API that named no project: <see cref="Project"/> is then only a
    /// stand-in (the account's first project), not a scope the caller chose.
    /// </summary>
    public bool DomainScoped { get; init; }

    public Domain Domain => User.Domain;

    public static ValueTask<Caller?> BindAsync(HttpContext http) =>
        ValueTask.FromResult(http.Items.TryGetValue(ItemKey, out var c) ? c as Caller : null);

    public static Caller? Of(HttpContext http) => http.Items.TryGetValue(ItemKey, out var c) ? c as Caller : null;

    internal void AttachTo(HttpContext http) => http.Items[ItemKey] = this;
}
