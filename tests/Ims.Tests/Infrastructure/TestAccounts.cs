using System.Text.Json;

namespace Ims.Tests.Infrastructure;

/// <summary>A tenant the tests act as: one account with one region project and both kinds of credentials.</summary>
public sealed record TestTenant(string DomainName, string UserName, string Password, string ProjectId, string ProjectName,
    string AccessKey, string SecretKey);

/// <summary>Two accounts, so that every test can also check that one tenant cannot see the other's resources.</summary>
public static class TestAccounts
{
    public static readonly TestTenant Alice = new("alice-domain", "alice", "alice-password",
        "a11ce000000000000000000000000001", "cn-north-4", "ALICEACCESSKEY000001", "alice-secret-key");

    public static readonly TestTenant Bob = new("bob-domain", "bob", "bob-password",
        "b0b00000000000000000000000000002", "cn-north-4", "BOBACCESSKEY00000002", "bob-secret-key");

    public static string WriteFile(string folder)
    {
        var path = Path.Combine(folder, "accounts.json");
        var accounts = new[] { Alice, Bob }.Select((t, i) => new
        {
            DomainId = $"d0000000000000000000000000000{i:D3}",
            DomainName = t.DomainName,
            Users = new[] { new { Id = $"u0000000000000000000000000000{i:D3}", Name = t.UserName, t.Password } },
            Projects = new[] { new { Id = t.ProjectId, Name = t.ProjectName } },
            AccessKeys = new[] { new { Access = t.AccessKey, Secret = t.SecretKey, User = t.UserName } },
        });
        File.WriteAllText(path, JsonSerializer.Serialize(new { Accounts = accounts }));
        return path;
    }
}
