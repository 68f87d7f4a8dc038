using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Resources;

namespace AspireAi.ServiceDefaults;

// Read once, when AddServiceDefaults runs, and shared by the three providers: traces, metrics and logs
// must describe the same service instance for the dashboard to correlate them, and must agree on
// whether to export.
internal sealed record TelemetrySettings(string ServiceName, string InstanceId, string EnvironmentName, bool ExportOtlp)
{
    public const string ServiceNameKey = "OTEL_SERVICE_NAME";
    public const string OtlpEndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    public static TelemetrySettings From(IConfiguration configuration, IHostEnvironment environment) =>
        new(
            configuration[ServiceNameKey] is { Length: > 0 } name ? name : environment.ApplicationName,
            Guid.NewGuid().ToString(),
            environment.EnvironmentName,
            !string.IsNullOrWhiteSpace(configuration[OtlpEndpointKey]));

    public void ConfigureResource(ResourceBuilder builder) =>
        builder
            .Clear()
            .AddService(ServiceName, serviceInstanceId: InstanceId, autoGenerateServiceInstanceId: false)
            .AddTelemetrySdk()
            .AddAttributes([new("deployment.environment.name", EnvironmentName)])
            // Last, so attributes an orchestrator passes in OTEL_RESOURCE_ATTRIBUTES win.
            .AddEnvironmentVariableDetector();
}
