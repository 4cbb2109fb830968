using Microsoft.Extensions.Options;

namespace Ims.Service.Hosting;

/// <summary>
/// Options a feature binds from its configuration section and checks at start-up: a bad value stops the service before
/// it touches the database, with a message naming the setting (<see cref="CheckAtStart"/>), instead of surfacing later
/// as a failed job or a silently clamped value.
/// </summary>
public static class ValidatedOptions
{
    /// <summary>Binds <typeparamref name="T"/> from <paramref name="section"/>, checked with <paramref name="problems"/>.</summary>
    public static OptionsBuilder<T> AddValidatedOptions<T>(this IServiceCollection services, IConfiguration section,
        Func<T, IEnumerable<string>> problems) where T : class
    {
        services.AddSingleton<IValidateOptions<T>>(new Check<T>(problems));
        services.AddSingleton<IStartupCheck>(new OptionsCheck<T>());
        return services.AddOptions<T>().Bind(section).ValidateOnStart();
    }

    /// <summary>Something the host checks when it is built, before migrations and seeding; registered by features.</summary>
    public interface IStartupCheck
    {
        void Run(IServiceProvider services);
    }

    /// <summary>
    /// Runs every <see cref="IStartupCheck"/>. A bad setting throws <see cref="OptionsValidationException"/> whose
    /// message lists every problem found.
    /// </summary>
    public static void CheckAtStart(IServiceProvider services)
    {
        var failures = new List<string>();
        foreach (var check in services.GetServices<IStartupCheck>())
        {
            try
            {
                check.Run(services);
            }
            catch (OptionsValidationException ex)
            {
                failures.AddRange(ex.Failures);
            }
        }
        if (failures.Count > 0) throw new OptionsValidationException("Ims", typeof(ServiceOptions), failures);
    }

    private sealed class Check<T>(Func<T, IEnumerable<string>> problems) : IValidateOptions<T> where T : class
    {
        public ValidateOptionsResult Validate(string? name, T options)
        {
            var found = problems(options).ToList();
            return found.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(found);
        }
    }

    private sealed class OptionsCheck<T> : IStartupCheck where T : class
    {
        public void Run(IServiceProvider services)
        {
            try
            {
                _ = services.GetRequiredService<IOptions<T>>().Value;
            }
            catch (InvalidOperationException ex)
            {
                // The binder's own refusal, e.g. "Failed to convert configuration value 'four' at 'Ims:Jobs:Workers' to type 'System.Int32'."
                throw new OptionsValidationException(typeof(T).Name, typeof(T), [ex.Message]);
            }
        }
    }
}
