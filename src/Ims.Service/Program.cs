using Ims.Service.Hosting;
using Microsoft.Extensions.Options;

WebApplication app;
try
{
    app = ServiceHost.Build(args);
}
catch (OptionsValidationException bad)
{
    // A bad setting is the operator's to fix: say which and why, without a stack trace.
    await Console.Error.WriteLineAsync($"The service cannot start: {string.Join(" ", bad.Failures)}");
    return 2;
}
await app.RunAsync();
return 0;

/// <summary>Entry point; the host is built by <see cref="ServiceHost"/> so that tests can build the same one.</summary>
public partial class Program;
