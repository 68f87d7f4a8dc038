using AspireAi.AppHost.Orchestration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AspireAi.AppHost;

public static class AppHostExtensions
{
    public static HostApplicationBuilder AddAppHost(this HostApplicationBuilder builder, string[] args)
    {
        // Bare flags are booleans; the command-line provider would otherwise expect a value after them.
        var normalized = args.Select(a => a == "--non-interactive" ? "--non-interactive=true" : a).ToArray();
        builder.Configuration.AddCommandLine(normalized, AppHostOptions.SwitchMappings);
        builder.Services.AddOptions<AppHostOptions>()
            .BindConfiguration(AppHostOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        // Stopping waits for services, then Redis and Postgres; give that time before the host gives up.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(90));

        var colors = !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("NO_COLOR") is null;
        builder.Services.AddSingleton(_ => new ConsoleOutput(Console.Out, colors));
        builder.Services.AddHostedService<Orchestrator>();
        return builder;
    }
}
