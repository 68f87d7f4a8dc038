using AspireAi.ServiceDefaults;
using AspireAi.ServiceDefaults.ErrorHandling;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

// Everything a service of this app shares: telemetry (with redaction), health, resilience, service discovery and
// ProblemDetails errors. Program.cs calls AddServiceDefaults() and, for web apps, MapDefaultEndpoints().
public static class Extensions
{
    // The app's own ActivitySources and Meters are all named "AspireAi.<Feature>" (Chat, Documents, Jobs, Llm,
    // Memory); Microsoft.Extensions.AI still names its GenAI spans and metrics experimental. Npgsql and Redis
    // register theirs through their Aspire client integrations.
    private static readonly string[] TelemetrySources = ["AspireAi.*", "Experimental.Microsoft.Extensions.AI"];

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);

        builder.ConfigureOpenTelemetry();
        builder.AddTelemetryRedaction();
        builder.AddDefaultHealthChecks();

        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            // Resilience outside discovery: each attempt resolves the logical address again, and the pipeline (so the
            // circuit breaker) is chosen by the logical authority, one per downstream service rather than one shared
            // by every client, which is what a handler added for all clients gets otherwise.
            http.AddStandardResilienceHandler()
                .Configure(HttpResilience.ConfigureStandard)
                .SelectPipelineByAuthority();
            http.AddServiceDiscovery();
        });

        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = ValidationKeyCasing.Apply);
        // Binding failures throw in every environment (not only Development), so that one handler can answer
        // them with a ProblemDetails naming the field instead of the framework's bare 400.
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddProblemExceptionHandler<RequestBodyProblemHandler>();
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new NulFreeStringConverter()));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IStartupFilter, ProblemDetailsStartupFilter>());

        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);

        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                // Admission control's active, queued and refused chat turns (Api/Admission).
                .AddMeter("Microsoft.AspNetCore.RateLimiting")
                .AddMeter(TelemetrySources))
            .WithTracing(tracing => tracing
                // The orchestrator polls /health and /alive every few seconds; tracing them buries real requests
                // (a filtered request is unsampled, so the checks' own database spans go too).
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !HealthEndpoints.IsHealthRequest(context.Request.Path))
                .AddHttpClientInstrumentation()
                .AddSource(TelemetrySources));

        if (TelemetryExport.ToOtlp(builder.Configuration))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
            // The exporters' named HttpClients keep only the exporter's own retries: the resilience pipeline the
            // client defaults add is disposed before the providers' last flush at shutdown, losing that batch.
#pragma warning disable EXTEXP0001 // experimental, but the library's documented way to take a default handler off
            foreach (var exporter in (string[])["OtlpTraceExporter", "OtlpMetricExporter", "OtlpLogExporter"])
            {
                builder.Services.AddHttpClient(exporter).RemoveAllResilienceHandlers();
            }
#pragma warning restore EXTEXP0001
        }

        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);

        // Answers as long as the process can serve requests; dependencies get checks without the tag,
        // so an outage takes the service out of rotation (/health) without restarting it (/alive).
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), [HealthEndpoints.LiveTag]);
        return builder;
    }

    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);

        // Mapped in every environment because the orchestrator polls them; anonymous so a fallback
        // authorization policy cannot lock it out, and kept out of the request-duration metrics.
        app.MapHealthChecks(HealthEndpoints.HealthPath, new HealthCheckOptions { ResponseWriter = HealthReportWriter.Summary })
            .AllowAnonymous()
            .DisableHttpMetrics();

        app.MapHealthChecks(HealthEndpoints.AlivePath, new HealthCheckOptions
        {
            Predicate = registration => registration.Tags.Contains(HealthEndpoints.LiveTag),
            ResponseWriter = HealthReportWriter.Summary,
        })
            .AllowAnonymous()
            .DisableHttpMetrics();

        // The detailed report only where a policy says who may read it; elsewhere the dashboard shows the checks.
        if (app.Services.GetService<IOptions<AuthorizationOptions>>()?.Value.GetPolicy(HealthEndpoints.DetailsPolicy) is not null)
        {
            app.MapHealthChecks(HealthEndpoints.DetailsPath, new HealthCheckOptions
            {
                ResponseWriter = HealthReportWriter.Create(includeDescriptions: app.Environment.IsDevelopment()),
            })
                .RequireAuthorization(HealthEndpoints.DetailsPolicy)
                .DisableHttpMetrics();
        }

        return app;
    }
}
