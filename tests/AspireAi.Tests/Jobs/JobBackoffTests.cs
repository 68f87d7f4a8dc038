using AspireAi.Core.Jobs;

namespace AspireAi.Tests.Jobs;

public sealed class JobBackoffTests
{
    private static readonly JobTypeSettings Settings = new(5, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(60), null, null, TimeSpan.FromSeconds(10));

    [Theory]
    [InlineData(1, 1, 2)]
    [InlineData(2, 2, 4)]
    [InlineData(3, 4, 8)]
    [InlineData(5, 16, 32)]
    [InlineData(6, 30, 60)]   // capped
    [InlineData(40, 30, 60)]  // no overflow however many attempts
    public void Delays_double_per_attempt_up_to_the_cap_with_half_of_them_jittered(int failedAttempt, double minSeconds, double maxSeconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(minSeconds), JobBackoff.Delay(failedAttempt, Settings, 0));
        Assert.Equal(TimeSpan.FromSeconds(maxSeconds), JobBackoff.Delay(failedAttempt, Settings, 1));
        var jittered = JobBackoff.Delay(failedAttempt, Settings, 0.5);
        Assert.InRange(jittered, TimeSpan.FromSeconds(minSeconds), TimeSpan.FromSeconds(maxSeconds));
    }
}
