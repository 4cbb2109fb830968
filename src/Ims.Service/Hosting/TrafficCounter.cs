using Microsoft.AspNetCore.Connections;

namespace Ims.Service.Hosting;

/// <summary>
/// Counts connections opened and requests that reach the application. Together they see every request, including those
/// Kestrel refuses before any middleware runs (an oversized header closes its connection, so the next one opens a new
/// one). <see cref="IdleMemoryTrim"/> reads it to tell a quiet service from a busy one: allocation alone cannot, since
/// pooled request bodies let a flood of refused requests allocate almost nothing.
/// </summary>
public sealed class TrafficCounter
{
    private long _seen;

    public long Seen => Interlocked.Read(ref _seen);

    public void Count() => Interlocked.Increment(ref _seen);

    /// <summary>Counts on every listener (the API's and the bucket API's) and at the front of the request pipeline.</summary>
    public static void Install(WebApplicationBuilder builder, TrafficCounter counter)
    {
        builder.Services.AddSingleton(counter);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(listen => listen.Use(next => connection =>
        {
            counter.Count();
            return next(connection);
        })));
    }

    public static void UseCounting(IApplicationBuilder app)
    {
        var counter = app.ApplicationServices.GetRequiredService<TrafficCounter>();
        app.Use((context, next) =>
        {
            counter.Count();
            return next(context);
        });
    }
}
