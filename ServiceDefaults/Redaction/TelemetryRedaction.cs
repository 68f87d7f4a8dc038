using Microsoft.Extensions.Compliance.Classification;
using Microsoft.Extensions.Compliance.Redaction;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AspireAi.ServiceDefaults;

/// <summary>
/// Keeps user content, e-mail addresses and secrets out of every service's logs: classified <c>[LoggerMessage]</c>
/// parameters are redacted before any provider (console, OpenTelemetry) sees them, and the host's request lines,
/// whose query strings can hold search text, are left out. <see cref="CaptureContentKey"/> lets content and
/// personal data through for debugging; secrets are erased whatever it says.
/// </summary>
public static class TelemetryRedaction
{
    /// <summary>
    /// The one switch that lets content into telemetry: the model pipeline's prompts and answers
    /// (<c>LlmOptions.CaptureContent</c>) and the classified log fields below. Off by default.
    /// </summary>
    public const string CaptureContentKey = "Llm:CaptureContent";

    /// <summary>Whether <see cref="CaptureContentKey"/> is on in <paramref name="configuration"/>.</summary>
    public static bool CapturesContent(IConfiguration configuration) =>
        configuration?.GetValue<bool>(CaptureContentKey) ?? throw new ArgumentNullException(nameof(configuration));

    public static TBuilder AddTelemetryRedaction<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        var captureContent = CapturesContent(builder.Configuration);
        builder.Services.AddRedaction(redaction =>
        {
            redaction.SetRedactor<ErasingRedactor>(new DataClassificationSet(DataTaxonomy.SecretData));
            // One set per classification: a redactor is looked up by the exact set a value carries.
            DataClassificationSet[] content = [new(DataTaxonomy.PersonalData), new(DataTaxonomy.UserContent)];
            if (captureContent)
            {
                redaction.SetRedactor<NullRedactor>(content);
            }
            else
            {
                redaction.SetRedactor<ErasingRedactor>(content);
            }

            // A classification nobody mapped is erased rather than shown.
            redaction.SetFallbackRedactor<ErasingRedactor>();
        });
        builder.Logging.EnableRedaction();
        if (!captureContent)
        {
            builder.Logging.AddSampler(new RequestLineWithQuerySampler());
        }

        return builder;
    }

    /// <summary>
    /// Drops ASP.NET Core's "Request starting/finished" records of requests with a query string: the query can hold
    /// what a user searched for (<c>?q=</c>), and the framework offers no way to classify it. The server span still
    /// records the request, its query redacted by the OpenTelemetry instrumentation.
    /// </summary>
    private sealed class RequestLineWithQuerySampler : LoggingSampler
    {
        private const string HostingCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

        public override bool ShouldSample<TState>(in LogEntry<TState> logEntry) =>
            !string.Equals(logEntry.Category, HostingCategory, StringComparison.Ordinal)
            || logEntry.State is not IReadOnlyList<KeyValuePair<string, object?>> values
            || !values.Any(v => v.Key == "QueryString" && v.Value is string { Length: > 0 });
    }
}
