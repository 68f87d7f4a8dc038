using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Logs;

namespace AspireAi.ServiceDefaults;

internal static class TelemetryRegistration
{
    public static void AddServiceDefaultsTelemetry(this IHostApplicationBuilder builder)
    {
        // Idempotent: a second call would otherwise add a second logging provider and hosted service.
        if (builder.Services.Any(descriptor => descriptor.ImplementationType == typeof(TelemetryHostedService)))
        {
            return;
        }

        var settings = TelemetrySettings.From(builder.Configuration, builder.Environment);
        builder.Services.AddSingleton(settings);

        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });
        builder.Services.ConfigureOpenTelemetryLoggerProvider(logging =>
        {
            logging.ConfigureResource(settings.ConfigureResource);
            if (settings.ExportOtlp)
            {
                logging.AddOtlpExporter();
            }
        });

        // First in the list so the providers exist before other hosted services (workers) start.
        builder.Services.Insert(0, ServiceDescriptor.Singleton<IHostedService, TelemetryHostedService>());

        builder.Services.AddSingleton<IStartupFilter, HealthRequestTraceFilter>();
    }
}
