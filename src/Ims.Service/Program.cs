using Ims.Service.Hosting;

var app = ServiceHost.Build(args);
app.Run();

/// <summary>Entry point; the host is built by <see cref="ServiceHost"/> so that tests can build the same one.</summary>
public partial class Program;
