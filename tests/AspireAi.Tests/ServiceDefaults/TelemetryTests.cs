using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using AspireAi.ServiceDefaults;
using AspireAi.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace AspireAi.Tests.ServiceDefaults;

public sealed partial class TelemetryTests
{
    [Fact]
    public async Task Requests_are_traced_but_health_probes_are_not()
    {
        var collector = new CollectingProcessor();
        var path = UniquePath();
        var app = await ServiceApp.StartAsync(
            builder =>
            {
                builder.Configuration["OTEL_SERVICE_NAME"] = "telemetry-test";
                builder.Services.ConfigureOpenTelemetryTracerProvider(b => b.AddProcessor(collector));
            },
            app => app.MapGet(path, () => "pong"));

        await GetAsync(app, "/health");
        await GetAsync(app, "/alive");
        await GetAsync(app, path);

        // Stopping the app waits for in-flight requests, so every server activity has ended by then.
        await app.DisposeAsync();

        ServerSpan(collector, path);
        Assert.DoesNotContain(collector.Ended, activity => UrlPath(activity) is "/health" or "/alive");
        var resource = collector.ParentProvider!.GetResource().Attributes.ToDictionary(a => a.Key, a => a.Value);
        Assert.Equal("telemetry-test", resource["service.name"]);
    }

    [Fact]
    public async Task A_request_and_the_Npgsql_command_it_runs_are_traced_together()
    {
        var servers = await TestServers.GetAsync();
        var collector = new CollectingProcessor();
        var path = UniquePath();
        var app = await ServiceApp.StartAsync(
            builder =>
            {
                builder.Configuration[$"ConnectionStrings:{ResourceNames.Postgres}"] = servers.PostgresConnectionString;
                builder.AddNpgsqlDataSource(ResourceNames.Postgres);
                builder.Services.ConfigureOpenTelemetryTracerProvider(b => b.AddProcessor(collector));
            },
            app => app.MapGet(path, async (NpgsqlDataSource dataSource) =>
            {
                await using var command = dataSource.CreateCommand("SELECT 42");
                return (int)(await command.ExecuteScalarAsync())!;
            }));

        await GetAsync(app, path);
        await app.DisposeAsync();

        var request = ServerSpan(collector, path);
        // Npgsql also traces opening the physical connection; the command's span carries its text.
        Assert.Contains(collector.Ended, activity => activity.Source.Name == "Npgsql" && activity.ParentSpanId == request.SpanId
            && activity.TagObjects.Any(tag => tag.Value as string == "SELECT 42"));
    }

    [Fact]
    public async Task Logs_carry_the_formatted_message_and_the_trace_of_the_request()
    {
        var logs = new CollectingLogProcessor();
        var traces = new CollectingProcessor();
        var path = UniquePath();
        var item = Guid.NewGuid().ToString("N");
        var app = await ServiceApp.StartAsync(
            builder =>
            {
                builder.Configuration["OTEL_SERVICE_NAME"] = "telemetry-log-test";
                builder.Services.ConfigureOpenTelemetryLoggerProvider(b => b.AddProcessor(logs));
                builder.Services.ConfigureOpenTelemetryTracerProvider(b => b.AddProcessor(traces));
            },
            app => app.MapGet(path, (ILogger<TelemetryTests> logger) =>
            {
                LogWorking(logger, item);
                return "done";
            }));

        await GetAsync(app, path);
        await app.DisposeAsync();

        var record = Assert.Single(logs.Records, r => r.Message == $"Working on {item}");
        Assert.Equal(ServerSpan(traces, path).TraceId, record.TraceId);
        var resource = logs.ParentProvider!.GetResource().Attributes.ToDictionary(a => a.Key, a => a.Value);
        Assert.Equal("telemetry-log-test", resource["service.name"]);
    }

    [Fact]
    public async Task Traces_metrics_and_logs_are_exported_over_OTLP_when_an_endpoint_is_configured()
    {
        await using var collector = await ScriptedServer.StartAsync((context, _) => Task.CompletedTask);
        var app = await ServiceApp.StartAsync(
            builder =>
            {
                builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.BaseAddress.ToString();
                builder.Configuration["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
            },
            app => app.MapGet("/ping", (ILogger<TelemetryTests> logger) =>
            {
                LogWorking(logger, "ping");
                return "pong";
            }));

        await GetAsync(app, "/ping");
        // Disposing the providers flushes every exporter.
        await app.DisposeAsync();

        var exports = collector.Requests.Where(r => r.Method == "POST").Select(r => r.Path).ToHashSet();
        Assert.Superset(new HashSet<string> { "/v1/traces", "/v1/metrics", "/v1/logs" }, exports);
    }

    // Tracer providers listen process-wide and other tests run in parallel, so each test tells its own
    // requests apart by a path no other test uses.
    private static string UniquePath() => $"/traced/{Guid.NewGuid():N}";

    private static string? UrlPath(Activity activity) => activity.GetTagItem("url.path") as string;

    private static Activity ServerSpan(CollectingProcessor collector, string path) =>
        Assert.Single(collector.Ended, activity => activity.Source.Name == "Microsoft.AspNetCore" && UrlPath(activity) == path);

    private static async Task GetAsync(ServiceApp app, string path)
    {
        using var response = await app.Client.GetAsync(new Uri(path, UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Working on {Item}")]
    private static partial void LogWorking(ILogger logger, string item);

    // Log records are pooled and reused once processors return, so the fields are copied out.
    private sealed class CollectingLogProcessor : BaseProcessor<LogRecord>
    {
        private readonly ConcurrentQueue<(string? Message, ActivityTraceId TraceId)> _records = new();

        public IReadOnlyCollection<(string? Message, ActivityTraceId TraceId)> Records => _records;

        public override void OnEnd(LogRecord data) => _records.Enqueue((data.FormattedMessage, data.TraceId));
    }

    private sealed class CollectingProcessor : BaseProcessor<Activity>
    {
        private readonly ConcurrentQueue<Activity> _ended = new();

        public IReadOnlyCollection<Activity> Ended => _ended;

        public override void OnEnd(Activity data) => _ended.Enqueue(data);
    }
}
