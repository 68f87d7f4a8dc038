using AspireAi.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AspireAi.Core.Redis;

/// <summary>Registration of the Redis client for a service.</summary>
public static class RedisExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="IRedisClient"/> configured from <c>ConnectionStrings:{connectionName}</c>
    /// (the key Aspire injects) and a readiness health check of the same name, tagged "ready". The client is
    /// created, and starts connecting, when first resolved; a missing connection string fails that resolution.
    /// </summary>
    /// <param name="builder">The host builder.</param>
    /// <param name="connectionName">Name of the connection string and of the health check.</param>
    /// <param name="configure">Adjusts the parsed options, e.g. <see cref="RedisOptions.CommandTimeout"/>.</param>
    public static IHostApplicationBuilder AddRedisClient(this IHostApplicationBuilder builder, string connectionName = ResourceNames.Redis,
        Action<RedisOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(connectionName);
        builder.Services.AddSingleton<IRedisClient>(sp =>
        {
            var connectionString = sp.GetRequiredService<IConfiguration>().GetConnectionString(connectionName);
            if (string.IsNullOrWhiteSpace(connectionString))
            {
                throw new InvalidOperationException(
                    $"ConnectionStrings:{connectionName} is not set. Start the stack with the AppHost, or set ConnectionStrings__{connectionName}.");
            }
            var options = RedisOptions.Parse(connectionString);
            configure?.Invoke(options);
            return new RedisClient(options, sp.GetService<ILogger<RedisClient>>());
        });
        builder.Services.AddHealthChecks().AddCheck<RedisHealthCheck>(connectionName, HealthStatus.Unhealthy, ["ready"]);
        return builder;
    }
}
