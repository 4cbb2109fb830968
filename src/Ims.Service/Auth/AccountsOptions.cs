namespace Ims.Service.Auth;

/// <summary>Where the accounts come from: the <c>Ims:AccountsFile</c> setting (bound from the <c>Ims</c> section).</summary>
public sealed class AccountsOptions
{
    public const string Section = "Ims";

    /// <summary>
    /// The accounts file: domains, users, region projects and AK/SK pairs. A relative path is resolved against the
    /// working directory first, then against the folder of the service binary (where the defaults ship). Its content
    /// is checked at start-up by building <see cref="Accounts"/>.
    /// </summary>
    public string AccountsFile { get; set; } = "accounts.json";

    public IEnumerable<string> Problems()
    {
        if (string.IsNullOrWhiteSpace(AccountsFile)) yield return $"{Section}:AccountsFile must name the accounts file.";
    }
}

/// <summary>The content of the accounts file.</summary>
public sealed class AccountsFileContent
{
    public List<AccountOptions> Accounts { get; set; } = [];
}

public sealed class AccountOptions
{
    public string DomainId { get; set; } = "";
    public string DomainName { get; set; } = "";
    public List<UserOptions> Users { get; set; } = [];
    public List<ProjectOptions> Projects { get; set; } = [];
    public List<AccessKeyOptions> AccessKeys { get; set; } = [];
}

public sealed class UserOptions
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public string Password { get; set; } = "";
}

public sealed class ProjectOptions
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
}

public sealed class AccessKeyOptions
{
    public string Access { get; set; } = "";
    public string Secret { get; set; } = "";
    public string User { get; set; } = "";
}
