using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AspireAi.ServiceDefaults;

internal static class HealthReportWriter
{
    // Descriptions of failed checks default to the exception message, which can name hosts or users;
    // the endpoints are anonymous, so descriptions are only shown in Development.
    public static Func<HttpContext, HealthReport, Task> Create(bool includeDescriptions) =>
        (context, report) =>
        {
            var body = new HealthResponse(
                report.Status.ToString(),
                report.TotalDuration.TotalMilliseconds,
                report.Entries.ToDictionary(
                    entry => entry.Key,
                    entry => new HealthEntryResponse(
                        entry.Value.Status.ToString(),
                        includeDescriptions ? entry.Value.Description : null,
                        entry.Value.Duration.TotalMilliseconds)));

            return context.Response.WriteAsJsonAsync(body, JsonSerializerOptions.Web, context.RequestAborted);
        };

    private sealed record HealthResponse(string Status, double DurationMs, Dictionary<string, HealthEntryResponse> Checks);

    private sealed record HealthEntryResponse(
        string Status,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Description,
        double DurationMs);
}
