using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace AspireAi.ServiceDefaults;

// OpenTelemetry.Extensions.Hosting is not available, so this does its job: build the providers when the
// host starts (registered first, before the web server and workers start producing activities) and
// dispose them, which flushes the exporters, when the container is disposed on shutdown.
internal sealed class TelemetryHostedService(
    IConfiguration configuration,
    TelemetrySettings settings,
    IOptions<ServiceDefaultsTelemetryOptions> options) : IHostedService, IDisposable
{
    // Built into .NET and Npgsql; no instrumentation packages needed.
    private static readonly string[] BuiltInSources = ["Microsoft.AspNetCore", "System.Net.Http", "Npgsql"];

    private static readonly string[] BuiltInMeters =
    [
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.Http.Connections",
        "Microsoft.AspNetCore.Routing",
        "Microsoft.AspNetCore.Diagnostics",
        "Microsoft.AspNetCore.RateLimiting",
        "System.Net.Http",
        "System.Net.NameResolution",
        "System.Runtime",
        "Npgsql",
    ];

    private TracerProvider? _tracerProvider;
    private MeterProvider? _meterProvider;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var tracing = Sdk.CreateTracerProviderBuilder()
            // The SDK builder otherwise reads OTEL_* settings from environment variables only; this makes
            // the exporter and resource detector see appsettings and in-memory configuration as well.
            .ConfigureServices(services => services.AddSingleton(configuration))
            .ConfigureResource(settings.ConfigureResource)
            .AddSource([.. BuiltInSources, .. AspireAiTelemetry.OwnSources]);
        if (settings.ExportOtlp)
        {
            tracing.AddOtlpExporter();
        }

        options.Value.ConfigureTracing?.Invoke(tracing);
        _tracerProvider = tracing.Build();

        var metrics = Sdk.CreateMeterProviderBuilder()
            .ConfigureServices(services => services.AddSingleton(configuration))
            .ConfigureResource(settings.ConfigureResource)
            .AddMeter([.. BuiltInMeters, .. AspireAiTelemetry.OwnMeters]);
        if (settings.ExportOtlp)
        {
            metrics.AddOtlpExporter();
        }

        options.Value.ConfigureMetrics?.Invoke(metrics);
        _meterProvider = metrics.Build();

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        _tracerProvider?.Dispose();
        _meterProvider?.Dispose();
    }
}
