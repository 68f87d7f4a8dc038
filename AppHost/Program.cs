using AspireAi.AppHost;
using Microsoft.Extensions.Hosting;

// The F5 experience: starts Postgres, Redis, the migrations, then Api, Workers and Web, and stops them all on Ctrl+C.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = args,
    // appsettings*.json are copied next to the AppHost, so it behaves the same from any working directory.
    ContentRootPath = AppContext.BaseDirectory,
});
builder.AddAppHost(args);

using var host = builder.Build();
await host.RunAsync();
return Environment.ExitCode;
