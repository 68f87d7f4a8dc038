using System.Collections.Concurrent;
using System.Diagnostics;
using AspireAi.Core.Redis;
using AspireAi.LocalServers;
using AspireAi.ServiceDefaults;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Trace;
using StackExchange.Redis;

namespace AspireAi.Tests.Redis;

/// <summary>Aspire's AddRedisClient as Api and Workers call it (<see cref="RedisExtensions.AddRedis"/>).</summary>
public sealed class RedisRegistrationTests
{
    [Fact]
    public async Task The_multiplexer_comes_from_ConnectionStrings_redis_with_our_outage_defaults()
    {
        var servers = await TestServers.GetAsync();
        await using var services = BuildServices(servers.RedisConnectionString);

        var redis = services.GetRequiredService<IConnectionMultiplexer>();

        Assert.Same(redis, services.GetRequiredService<IConnectionMultiplexer>());
        Assert.True(redis.IsConnected);
        Assert.True(await redis.GetDatabase().PingAsync() < TimeSpan.FromSeconds(2));
        var options = services.GetRequiredService<IOptions<ConfigurationOptions>>().Value;
        Assert.Equal((false, 2000, 2000, 2000), (options.AbortOnConnectFail, options.ConnectTimeout, options.SyncTimeout, options.AsyncTimeout));
        Assert.Same(BacklogPolicy.FailFast, options.BacklogPolicy);
    }

    [Fact]
    public async Task A_value_in_the_connection_string_overrides_our_defaults()
    {
        var servers = await TestServers.GetAsync();
        await using var services = BuildServices(servers.RedisConnectionString + ",syncTimeout=5000");

        Assert.Equal(5000, services.GetRequiredService<IConnectionMultiplexer>().TimeoutMilliseconds);
    }

    [Fact]
    public async Task With_redis_down_at_start_the_multiplexer_still_resolves_and_commands_fail_within_the_timeout()
    {
        await using var services = BuildServices($"127.0.0.1:{NativeProcess.FreeTcpPort()},password=unused");
        var watch = Stopwatch.StartNew();

        var redis = services.GetRequiredService<IConnectionMultiplexer>();
        var error = await Record.ExceptionAsync(() => redis.GetDatabase().StringGetAsync("k"));

        Assert.False(redis.IsConnected);
        Assert.True(error is RedisException or TimeoutException, $"Unexpected {error?.GetType()}");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(8), $"Resolving and one command took {watch.Elapsed} with Redis down.");
    }

    [Fact]
    public async Task The_health_check_is_unhealthy_while_redis_is_down_and_healthy_again_after_restart()
    {
        await using var server = await TestServers.StartPrivateRedisAsync();
        await using var services = BuildServices(server.ConnectionString);
        var health = services.GetRequiredService<HealthCheckService>();

        var up = await CheckAsync(health);
        await server.StopAsync();
        var down = await CheckAsync(health);
        await server.StartAsync();
        var watch = Stopwatch.StartNew();
        var recovered = await CheckAsync(health);
        while (recovered.Status != HealthStatus.Healthy && watch.Elapsed < TimeSpan.FromSeconds(15))
        {
            await Task.Delay(100);
            recovered = await CheckAsync(health);
        }

        Assert.Equal(HealthStatus.Healthy, up.Status);
        Assert.Equal(HealthStatus.Unhealthy, down.Status);
        Assert.Equal(HealthStatus.Healthy, recovered.Status);
    }

    [Fact]
    public async Task A_missing_connection_string_is_reported_by_its_configuration_key()
    {
        await using var services = BuildServices(connectionString: null);

        var error = Assert.Throws<InvalidOperationException>(() => services.GetRequiredService<IConnectionMultiplexer>());

        Assert.Contains("ConnectionStrings:redis", error.Message, StringComparison.Ordinal);
    }

    // Redis commands become spans where spans are exported (an OTLP endpoint), and cost nothing where they would be
    // dropped; the Aspire setting decides when it is given.
    [Theory]
    [InlineData(null, null, false)]
    [InlineData("http://127.0.0.1:4317", null, true)]
    [InlineData(null, "false", true)]
    [InlineData("http://127.0.0.1:4317", "true", false)]
    public async Task Redis_commands_are_traced_where_spans_are_exported_or_where_the_setting_asks(string? otlpEndpoint, string? disableTracing, bool traced)
    {
        var servers = await TestServers.GetAsync();
        var spans = new ConcurrentQueue<Activity>();
        using var source = new ActivitySource($"AspireAi.Tests.RedisTracing.{Guid.NewGuid():N}");
        await using var services = BuildServices(servers.RedisConnectionString, builder =>
        {
            builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlpEndpoint;
            builder.Configuration["Aspire:StackExchange:Redis:DisableTracing"] = disableTracing;
            builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing.AddSource(source.Name).AddProcessor(new CollectingProcessor(spans)));
        });
        var tracer = services.GetRequiredService<TracerProvider>();
        var redis = services.GetRequiredService<IConnectionMultiplexer>();
        var key = $"tracing-test:{Guid.NewGuid():N}";

        using (var parent = source.StartActivity("parent"))
        {
            Assert.NotNull(parent);
            await redis.GetDatabase().StringSetAsync(key, "1", TimeSpan.FromMinutes(1));
        }
        // The instrumentation turns profiled commands into spans every 10 s, and at once when the provider is disposed.
        tracer.Dispose();

        Assert.Equal(traced, spans.Any(IsRedis));
    }

    private static bool IsRedis(Activity span) => span.Source.Name == "OpenTelemetry.Instrumentation.StackExchangeRedis";

    private static ServiceProvider BuildServices(string? connectionString, Action<HostApplicationBuilder>? configure = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        if (connectionString is not null)
        {
            builder.Configuration[$"ConnectionStrings:{ResourceNames.Redis}"] = connectionString;
        }
        configure?.Invoke(builder);
        builder.AddRedis();
        return builder.Services.BuildServiceProvider();
    }

    private sealed class CollectingProcessor(ConcurrentQueue<Activity> spans) : BaseProcessor<Activity>
    {
        public override void OnEnd(Activity data) => spans.Enqueue(data);
    }

    private static async Task<HealthReportEntry> CheckAsync(HealthCheckService health) =>
        Assert.Single((await health.CheckHealthAsync()).Entries).Value;
}
