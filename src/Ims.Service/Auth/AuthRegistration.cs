using System.Text.Json;
using Ims.Service.Hosting;
using Microsoft.Extensions.Options;

namespace Ims.Service.Auth;

/// <summary>Accounts and tokens, and their setting (<c>Ims:AccountsFile</c>).</summary>
public static class AuthRegistration
{
    public static IServiceCollection AddAccounts(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<AccountsOptions>(configuration.GetSection(AccountsOptions.Section), options => options.Problems());
        services.AddSingleton<Accounts>();
        services.AddSingleton<TokenService>();
        // Reading the file at start-up: a missing or broken accounts file stops the start instead of the first request.
        services.AddSingleton<ValidatedOptions.IStartupCheck>(new AccountsCheck());
        return services;
    }

    private sealed class AccountsCheck : ValidatedOptions.IStartupCheck
    {
        public void Run(IServiceProvider services)
        {
            var file = services.GetRequiredService<IOptions<AccountsOptions>>().Value.AccountsFile;
            try
            {
                _ = services.GetRequiredService<Accounts>();
            }
            catch (Exception ex) when (ex is FileNotFoundException or InvalidOperationException or JsonException)
            {
                throw new OptionsValidationException(nameof(AccountsOptions), typeof(AccountsOptions),
                    [$"{AccountsOptions.Section}:AccountsFile ({file}) is unusable: {ex.Message}"]);
            }
        }
    }
}
