using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Ims.Service.Auth;

public sealed record Domain(string Id, string Name);
public sealed record User(string Id, string Name, string Password, Domain Domain);
public sealed record Project(string Id, string Name, Domain Domain);
public sealed record AccessKey(string Access, string Secret, User User);

/// <summary>The accounts of the configuration file: domains with their users, region projects and AK/SK pairs.</summary>
public sealed class Accounts
{
    private readonly Dictionary<string, User> _usersById = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Project> _projectsById = new(StringComparer.Ordinal);
    private readonly Dictionary<string, AccessKey> _keys = new(StringComparer.Ordinal);
    private readonly List<User> _users = [];
    private readonly List<Project> _projects = [];

    public Accounts(IOptions<AccountsOptions> options)
    {
        foreach (var account in Load(options.Value.AccountsFile).Accounts)
        {
            var domain = new Domain(account.DomainId, account.DomainName);
            foreach (var u in account.Users)
            {
                var user = new User(u.Id, u.Name, u.Password, domain);
                _users.Add(user);
                _usersById[user.Id] = user;
            }
            foreach (var p in account.Projects)
            {
                var project = new Project(p.Id, p.Name, domain);
                _projects.Add(project);
                _projectsById[project.Id] = project;
            }
            foreach (var k in account.AccessKeys)
            {
                var user = _users.FirstOrDefault(x => x.Domain == domain && x.Name == k.User)
                    ?? throw new InvalidOperationException($"Access key {k.Access} names unknown user {k.User}.");
                _keys[k.Access] = new AccessKey(k.Access, k.Secret, user);
            }
        }
    }

    private static AccountsFileContent Load(string file)
    {
        var path = Path.IsPathRooted(file) || File.Exists(file) ? file : Path.Combine(AppContext.BaseDirectory, file);
        if (!File.Exists(path)) throw new FileNotFoundException($"The accounts file {file} does not exist.", file);
        var content = JsonSerializer.Deserialize<AccountsFileContent>(File.ReadAllText(path),
            new JsonSerializerOptions { PropertyNameCaseInsensitive = true, ReadCommentHandling = JsonCommentHandling.Skip });
        return content ?? new AccountsFileContent();
    }

    public User? UserById(string id) => _usersById.GetValueOrDefault(id);

    public User? FindUser(string? domainName, string? domainId, string name) => _users.FirstOrDefault(u =>
        u.Name == name && (domainId is not null ? u.Domain.Id == domainId : domainName is null || u.Domain.Name == domainName));

    public Project? ProjectById(string id) => _projectsById.GetValueOrDefault(id);

    public Project? FindProject(Domain domain, string? id, string? name) => _projects.FirstOrDefault(p =>
        p.Domain == domain && (id is not null ? p.Id == id : p.Name == name));

    public IEnumerable<Project> ProjectsOf(Domain domain) => _projects.Where(p => p.Domain == domain);

    /// <summary>Every account (domain) of the file.</summary>
    public IEnumerable<Domain> Domains => _users.Select(u => u.Domain).Concat(_projects.Select(p => p.Domain)).Distinct();

    public AccessKey? KeyByAccess(string access) => _keys.GetValueOrDefault(access);
}
