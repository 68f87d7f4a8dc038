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
        var app = await ServiceApp.StartAsync(
            builder =>
            {
                builder.Configuration["OTEL_SERVICE_NAME"] = "telemetry-test";
                builder.Services.ConfigureOpenTelemetryTracerProvider(b => b.AddProcessor(collector));
            },
            app => app.MapGet("/ping", () => "pong"));

        using var client = CreateNonPropagatingClient(app);
        var healthTrace = await SendTracedAsync(client, "/health");
        var aliveTrace = await SendTracedAsync(client, "/alive");
        var pingTrace = await SendTracedAsync(client, "/ping");

        // Stopping the app waits for in-flight requests, so every server activity has ended by then.
        await app.DisposeAsync();

        var ping = Assert.Single(collector.Ended, activity => activity.TraceId == pingTrace);
        Assert.Equal("Microsoft.AspNetCore", ping.Source.Name);
        Assert.DoesNotContain(collector.Ended, activity => activity.TraceId == healthTrace || activity.TraceId == aliveTrace);

        var resource = collector.ParentProvider!.GetResource().Attributes.ToDictionary(a => a.Key, a => a.Value);
        Assert.Equal("telemetry-test", resource["service.name"]);
        Assert.False(string.IsNullOrEmpty(resource["service.instance.id"] as string));
    }

    [Fact]
    public async Task A_request_and_the_Npgsql_command_it_runs_are_traced_together()
    {
        var servers = await TestServers.GetAsync();
        var collector = new CollectingProcessor();
        var app = await ServiceApp.StartAsync(
            builder =>
            {
                builder.Configuration[$"ConnectionStrings:{ResourceNames.Postgres}"] = servers.PostgresConnectionString;
                builder.AddNpgsqlDataSource(ResourceNames.Postgres);
                builder.Services.ConfigureOpenTelemetryTracerProvider(b => b.AddProcessor(collector));
            },
            app => app.MapGet("/db", async (NpgsqlDataSource dataSource) =>
            {
                await using var command = dataSource.CreateCommand("SELECT 42");
                return (int)(await command.ExecuteScalarAsync())!;
            }));

        using var client = CreateNonPropagatingClient(app);
        var traceId = await SendTracedAsync(client, "/db");
        await app.DisposeAsync();

        var spans = collector.Ended.Where(activity => activity.TraceId == traceId).ToList();
        var request = Assert.Single(spans, activity => activity.Source.Name == "Microsoft.AspNetCore");
        var query = Assert.Single(spans, activity => activity.Source.Name == "Npgsql");
        Assert.Equal(request.SpanId, query.ParentSpanId);
    }

    [Fact]
    public async Task Logs_carry_the_formatted_message_and_the_trace_of_the_request()
    {
        var collector = new CollectingLogProcessor();
        var app = await ServiceApp.StartAsync(
            builder =>
            {
                builder.Configuration["OTEL_SERVICE_NAME"] = "telemetry-log-test";
                builder.Services.ConfigureOpenTelemetryLoggerProvider(b => b.AddProcessor(collector));
            },
            app => app.MapGet("/work", (ILogger<TelemetryTests> logger) =>
            {
                LogWorking(logger, "order-42");
                return "done";
            }));

        using var client = CreateNonPropagatingClient(app);
        var traceId = await SendTracedAsync(client, "/work");
        await app.DisposeAsync();

        var record = Assert.Single(collector.Records, r => r.Message == "Working on order-42");
        Assert.Equal(traceId, record.TraceId);
        var resource = collector.ParentProvider!.GetResource().Attributes.ToDictionary(a => a.Key, a => a.Value);
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

        using var client = CreateNonPropagatingClient(app);
        await SendTracedAsync(client, "/ping");
        // Disposing the providers flushes every exporter.
        await app.DisposeAsync();

        var exports = collector.Requests.Where(r => r.Method == "POST").Select(r => r.Path).ToHashSet();
        Assert.Superset(new HashSet<string> { "/v1/traces", "/v1/metrics", "/v1/logs" }, exports);
    }

    // Activity listeners are process-wide and other tests run in parallel, so each request carries its
    // own trace id to tell its telemetry apart; the client must not inject one of its own.
    private static HttpClient CreateNonPropagatingClient(ServiceApp app) =>
        new(new SocketsHttpHandler { ActivityHeadersPropagator = DistributedContextPropagator.CreateNoOutputPropagator() })
        {
            BaseAddress = app.Client.BaseAddress,
        };

    private static async Task<ActivityTraceId> SendTracedAsync(HttpClient client, string path)
    {
        var traceId = ActivityTraceId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return traceId;
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
