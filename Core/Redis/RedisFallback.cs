using StackExchange.Redis;

namespace AspireAi.Core.Redis;

/// <summary>
/// For features that keep working in process when Redis is down (rate limits, sign-in throttling): runs one Redis
/// call under a short timeout, and after a failure stops trying for a pause, so every request does not wait out a
/// timeout during an outage. The caller falls back to its in-process path whenever <see cref="TryAsync{T}"/> fails.
/// StackExchange.Redis commands take no cancellation token: operations bound them with <c>WaitAsync(token)</c>.
/// </summary>
public sealed class RedisFallback(TimeProvider time, TimeSpan timeout, TimeSpan pause)
{
    private long _suspendedUntil;

    /// <summary>How long Redis is left alone after a failure.</summary>
    public TimeSpan Pause => pause;

    /// <summary>
    /// The result of <paramref name="operation"/>, or <c>Succeeded: false</c> when Redis failed, timed out or is
    /// paused after a recent failure. <paramref name="onOutage"/> runs once per outage (to log it), not once per call.
    /// The caller's own cancellation is never swallowed.
    /// </summary>
    public async Task<(bool Succeeded, T Value)> TryAsync<T>(
        Func<CancellationToken, Task<T>> operation, Action<Exception> onOutage, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(operation);
        ArgumentNullException.ThrowIfNull(onOutage);
        if (time.GetUtcNow().UtcTicks < Interlocked.Read(ref _suspendedUntil))
        {
            return (false, default!);
        }

        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            return (true, await operation(deadline.Token).ConfigureAwait(false));
        }
        // RedisConnectionException and RedisServerException are RedisExceptions; RedisTimeoutException is a TimeoutException.
        catch (Exception ex) when (ex is RedisException or TimeoutException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            var now = time.GetUtcNow();
            if (Interlocked.Exchange(ref _suspendedUntil, (now + pause).UtcTicks) < now.UtcTicks)
            {
                onOutage(ex);
            }

            return (false, default!);
        }
    }
}
