using Microsoft.Extensions.Configuration;

namespace AspireAi.ServiceDefaults;

/// <summary>Whether this process sends its telemetry anywhere.</summary>
public static class TelemetryExport
{
    /// <summary>
    /// An OTLP endpoint is configured (Aspire sets <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> for every resource it starts);
    /// without one, nothing is exported (tests, a plain <c>dotnet run</c>, a deployment without a collector).
    /// </summary>
    public static bool ToOtlp(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
    }
}
