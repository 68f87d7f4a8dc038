using Microsoft.Extensions.Logging;

namespace AspireAi.Core.Redis;

/// <summary>Connection lifecycle events. Endpoints and server error texts only: never passwords, keys or values.</summary>
internal static partial class RedisLog
{
    [LoggerMessage(1, LogLevel.Information, "Redis {Role} connection established to {Endpoint}")]
    public static partial void Connected(this ILogger logger, string role, string endpoint);

    [LoggerMessage(2, LogLevel.Information, "Redis {Role} connection re-established to {Endpoint} after {Attempts} failed attempt(s)")]
    public static partial void Reconnected(this ILogger logger, string role, string endpoint, int attempts);

    [LoggerMessage(3, LogLevel.Warning, "Redis {Role} connection to {Endpoint} lost with {InFlight} command(s) in flight: {Reason}")]
    public static partial void Disconnected(this ILogger logger, string role, string endpoint, int inFlight, string reason);

    [LoggerMessage(4, LogLevel.Warning, "Redis {Role} connection attempt {Attempt} failed, retrying in {DelayMs} ms: {Reason}")]
    public static partial void ConnectFailed(this ILogger logger, string role, int attempt, long delayMs, string reason);

    [LoggerMessage(5, LogLevel.Error, "Redis subscription handler for channel {Channel} threw")]
    public static partial void HandlerFailed(this ILogger logger, string channel, Exception exception);

    [LoggerMessage(6, LogLevel.Warning, "Redis subscriber connection received an error reply: {Error}")]
    public static partial void SubscriberError(this ILogger logger, string error);
}
