using System.Net.Http;

namespace AspireAi.ServiceDefaults;

internal static class RetryAfter
{
    // Null means "no usable hint": the retry strategy then falls back to its exponential backoff.
    // A zero delta or a date already past (clock skew) gives no guidance either.
    public static TimeSpan? GetDelay(HttpResponseMessage? response, TimeProvider timeProvider, TimeSpan maxDelay)
    {
        if (response?.Headers.RetryAfter is not { } retryAfter)
        {
            return null;
        }

        var delay = retryAfter.Delta ?? retryAfter.Date - timeProvider.GetUtcNow();
        if (delay is not { } value || value <= TimeSpan.Zero)
        {
            return null;
        }

        // Polly caps only the backoff it computes itself, not a generated delay.
        return value > maxDelay ? maxDelay : value;
    }
}
