using StackExchange.Redis;
using StackExchange.Redis.Configuration;

namespace AspireAi.Core.Redis;

/// <summary>
/// How every service's <see cref="IConnectionMultiplexer"/> behaves when Redis is slow or gone: pass
/// <see cref="Apply"/> as <c>configureOptions</c> to Aspire's <c>AddRedisClient</c>. Redis holds only state the
/// features can do without for a while, so an outage must cost a request at most a short timeout, never a hang.
/// </summary>
public static class RedisConnectionDefaults
{
    /// <summary>Connect, command (sync and async) timeout; the fallbacks of <see cref="RedisFallback"/> are shorter still.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Installs the timeouts as the options' <see cref="ConfigurationOptions.Defaults"/>, so values set explicitly in
    /// <c>ConnectionStrings:redis</c> or <c>Aspire:StackExchange:Redis:ConfigurationOptions</c> still win.
    /// </summary>
    public static void Apply(ConfigurationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Defaults = new Provider();
        // Without a connection a command fails at once instead of queueing for a reconnect: the caller falls back
        // straight away, and a command its caller gave up on is never sent later (it would count a rate-limit or
        // sign-in unit twice, once in process and once in Redis). Set here because ConfigurationOptions does not
        // read it from Defaults, and no connection string can set it.
        options.BacklogPolicy = BacklogPolicy.FailFast;
    }

    private sealed class Provider : DefaultOptionsProvider
    {
        // Start, and keep reconnecting in the background, with Redis down: the host must not fail to start over it.
        public override bool AbortOnConnectFail => false;

        public override TimeSpan? ConnectTimeout => Timeout;

        // The async timeout follows the sync one unless set.
        public override TimeSpan SyncTimeout => Timeout;
    }
}
