using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AspireAi.ServiceDefaults;

internal static class HealthReportWriter
{
    // The anonymous endpoints answer with the overall status only (the status code is what orchestrators read):
    // the names of the dependencies and their latencies tell an outsider what to attack and when it hurts.
    public static Func<HttpContext, HealthReport, Task> Summary { get; } = (context, report) =>
        context.Response.WriteAsJsonAsync(new HealthSummary(report.Status.ToString()), JsonSerializerOptions.Web, context.RequestAborted);

    // Descriptions of failed checks default to the exception message, which can name hosts or users (or hold a
    // connection string), so even the authorised report shows them only in Development.
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

    private sealed record HealthSummary(string Status);

    private sealed record HealthResponse(string Status, double DurationMs, Dictionary<string, HealthEntryResponse> Checks);

    private sealed record HealthEntryResponse(
        string Status,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Description,
        double DurationMs);
}
