using System.Diagnostics;
using AspireAi.Core.Redis;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace AspireAi.Tests.Redis;

public sealed class RedisRegistrationTests
{
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
        while (recovered.Status != HealthStatus.Healthy && watch.Elapsed < TimeSpan.FromSeconds(10))
        {
            recovered = await CheckAsync(health);
        }

        Assert.Equal(HealthStatus.Healthy, up.Status);
        Assert.Equal(HealthStatus.Unhealthy, down.Status);
        Assert.Equal(HealthStatus.Healthy, recovered.Status);
    }

    [Fact]
    public async Task The_client_reads_the_aspire_connection_string_and_works()
    {
        var servers = await TestServers.GetAsync();
        await using var services = BuildServices(servers.RedisConnectionString);

        var redis = services.GetRequiredService<IRedisClient>();

        Assert.Same(redis, services.GetRequiredService<IRedisClient>());
        Assert.Equal("PONG", (await redis.ExecuteAsync("PING")).AsString());
    }

    [Fact]
    public async Task A_missing_connection_string_is_reported_by_its_configuration_key()
    {
        await using var services = BuildServices(connectionString: null);

        var error = Assert.Throws<InvalidOperationException>(() => services.GetRequiredService<IRedisClient>());

        Assert.Contains("ConnectionStrings:redis", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_synchronously_disposed_container_disposes_the_client()
    {
        var servers = await TestServers.GetAsync();
        var services = BuildServices(servers.RedisConnectionString);
        var redis = services.GetRequiredService<IRedisClient>();
        await redis.PingAsync();

        services.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => redis.PingAsync());
    }

    private static ServiceProvider BuildServices(string? connectionString)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        if (connectionString is not null)
        {
            builder.Configuration["ConnectionStrings:redis"] = connectionString;
        }
        builder.AddRedisClient(configure: options => options.ReconnectBackoffMax = TimeSpan.FromMilliseconds(250));
        return builder.Services.BuildServiceProvider();
    }

    private static async Task<HealthReportEntry> CheckAsync(HealthCheckService health)
    {
        var report = await health.CheckHealthAsync(registration => registration.Tags.Contains("ready"));
        return report.Entries["redis"];
    }
}
