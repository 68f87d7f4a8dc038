using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AspireAi.Core.Redis;

/// <summary>Readiness: one PING with a short deadline. A down server is reported, never thrown.</summary>
internal sealed class RedisHealthCheck(IRedisClient client) : IHealthCheck
{
    // Shorter than the command timeout: a probe should answer quickly even while the client waits to reconnect.
    internal static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Timeout);
        try
        {
            var latency = await client.PingAsync(deadline.Token).ConfigureAwait(false);
            return HealthCheckResult.Healthy(string.Create(CultureInfo.InvariantCulture, $"PING answered in {latency.TotalMilliseconds:F1} ms."));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"Redis did not answer PING within {Timeout.TotalSeconds:F0} s.");
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy("Redis is unreachable.", ex);
        }
    }
}
