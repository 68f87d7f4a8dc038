using System.Net;
using System.Net.Http.Headers;
using AspireAi.ServiceDefaults;

namespace AspireAi.Tests.ServiceDefaults;

public sealed class RetryAfterTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(30);

    private static TimeSpan? DelayFor(RetryConditionHeaderValue? header)
    {
        using var response = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        response.Headers.RetryAfter = header;
        return RetryAfter.GetDelay(response, new FixedTimeProvider(Now), MaxDelay);
    }

    [Fact]
    public void Delta_seconds_are_used_as_the_delay() =>
        Assert.Equal(TimeSpan.FromSeconds(3), DelayFor(new RetryConditionHeaderValue(TimeSpan.FromSeconds(3))));

    [Fact]
    public void An_HTTP_date_is_turned_into_the_time_left_until_then() =>
        Assert.Equal(TimeSpan.FromSeconds(20), DelayFor(new RetryConditionHeaderValue(Now.AddSeconds(20))));

    [Fact]
    public void A_delay_beyond_the_maximum_is_capped() =>
        Assert.Equal(MaxDelay, DelayFor(new RetryConditionHeaderValue(TimeSpan.FromMinutes(10))));

    [Fact]
    public void No_header_or_a_past_date_falls_back_to_backoff()
    {
        Assert.Null(DelayFor(null));
        Assert.Null(DelayFor(new RetryConditionHeaderValue(Now.AddSeconds(-5))));
    }

    private sealed class FixedTimeProvider(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
