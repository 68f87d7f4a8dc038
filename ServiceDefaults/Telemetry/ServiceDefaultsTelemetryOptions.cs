using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace AspireAi.ServiceDefaults;

// Extension point for extra sources, processors or exporters on the providers AddServiceDefaults builds,
// e.g. services.Configure<ServiceDefaultsTelemetryOptions>(o => o.ConfigureTracing += b => b.AddProcessor(p)).
// Logs go through the regular logging pipeline: use services.ConfigureOpenTelemetryLoggerProvider for them.
public sealed class ServiceDefaultsTelemetryOptions
{
    public Action<TracerProviderBuilder>? ConfigureTracing { get; set; }

    public Action<MeterProviderBuilder>? ConfigureMetrics { get; set; }
}
