using AspireAi.ServiceDefaults;
using Microsoft.Extensions.Hosting;

namespace AspireAi.Core.Redis;

public static class RedisExtensions
{
    // Aspire reads its settings from the section and from the connection's own subsection.
    private const string TracingSetting = "Aspire:StackExchange:Redis:DisableTracing";
    private const string NamedTracingSetting = $"Aspire:StackExchange:Redis:{ResourceNames.Redis}:DisableTracing";

    /// <summary>
    /// Aspire's Redis client for <c>ConnectionStrings:redis</c> (the <c>IConnectionMultiplexer</c>, its health check
    /// and metrics) with <see cref="RedisConnectionDefaults"/>. Its tracing profiles every command and turns each into
    /// a span, ~7 % of the Api's CPU samples at 50 concurrent chats (docs/operations.md, "Tracing cost"), so it is on where
    /// spans are exported (an OTLP endpoint, as under the AppHost) and off where they would be dropped, unless
    /// <c>Aspire:StackExchange:Redis:DisableTracing</c> says otherwise.
    /// </summary>
    public static IHostApplicationBuilder AddRedis(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var tracingConfigured = builder.Configuration[TracingSetting] is not null || builder.Configuration[NamedTracingSetting] is not null;
        var exported = TelemetryExport.ToOtlp(builder.Configuration);
        builder.AddRedisClient(ResourceNames.Redis, settings =>
        {
            if (!tracingConfigured)
            {
                settings.DisableTracing = !exported;
            }
        }, RedisConnectionDefaults.Apply);
        return builder;
    }
}
