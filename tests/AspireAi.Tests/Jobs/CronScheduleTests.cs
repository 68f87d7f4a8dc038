using System.Globalization;
using AspireAi.Core.Jobs;

namespace AspireAi.Tests.Jobs;

public sealed class CronScheduleTests
{
    private static DateTimeOffset At(string utc) => DateTimeOffset.Parse(utc, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    private static string[] Next(string expression, string after, int count)
    {
        var schedule = CronSchedule.Parse(expression);
        var slots = new List<string>();
        var t = At(after);
        for (var i = 0; i < count; i++)
        {
            t = schedule.GetNextOccurrence(t);
            Assert.Equal(TimeSpan.Zero, t.Offset);
            slots.Add(t.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture));
        }
        return [.. slots];
    }

    [Theory]
    [InlineData("*/10 * * * *", "2026-03-01 10:07:30", new[] { "2026-03-01 10:10:00", "2026-03-01 10:20:00", "2026-03-01 10:30:00" })]
    [InlineData("5,35 * * * *", "2026-03-01 10:35:00", new[] { "2026-03-01 11:05:00", "2026-03-01 11:35:00", "2026-03-01 12:05:00" })]
    [InlineData("0 9-11 * * *", "2026-03-01 10:00:00", new[] { "2026-03-01 11:00:00", "2026-03-02 09:00:00", "2026-03-02 10:00:00" })]
    [InlineData("15 8-18/5 * * *", "2026-03-01 00:00:00", new[] { "2026-03-01 08:15:00", "2026-03-01 13:15:00", "2026-03-01 18:15:00" })]
    [InlineData("30 2 * * MON-FRI", "2026-03-06 03:00:00", new[] { "2026-03-09 02:30:00", "2026-03-10 02:30:00" })]  // Fri after 02:30 → Mon
    [InlineData("0 0 1 JAN,jul *", "2026-03-01 00:00:00", new[] { "2026-07-01 00:00:00", "2027-01-01 00:00:00" })]
    [InlineData("0 12 * * 7", "2026-03-01 12:00:00", new[] { "2026-03-08 12:00:00" })]  // 7 is Sunday, like 0
    [InlineData("0 0 29 2 *", "2026-03-01 00:00:00", new[] { "2028-02-29 00:00:00", "2032-02-29 00:00:00" })]
    [InlineData("0 0 13 * 5", "2026-03-01 00:00:00", new[] { "2026-03-06 00:00:00", "2026-03-13 00:00:00", "2026-03-20 00:00:00" })]  // both day fields restricted: either matches
    [InlineData("0 0 */10 * *", "2026-02-15 00:00:00", new[] { "2026-02-21 00:00:00", "2026-03-01 00:00:00", "2026-03-11 00:00:00" })]
    [InlineData("59 23 31 12 *", "2026-12-31 23:59:00", new[] { "2027-12-31 23:59:00" })]
    [InlineData("@hourly", "2026-03-01 10:00:00", new[] { "2026-03-01 11:00:00", "2026-03-01 12:00:00" })]
    [InlineData("@daily", "2026-03-01 10:00:00", new[] { "2026-03-02 00:00:00" })]
    [InlineData("@weekly", "2026-03-01 10:00:00", new[] { "2026-03-08 00:00:00" })]  // 2026-03-01 is a Sunday
    [InlineData("@monthly", "2026-03-01 00:00:00", new[] { "2026-04-01 00:00:00" })]
    public void Cron_expressions_give_the_next_slots_in_utc(string expression, string after, string[] expected) =>
        Assert.Equal(expected, Next(expression, after, expected.Length));

    [Theory]
    [InlineData("@every 15s", "2026-03-01 10:00:07", new[] { "2026-03-01 10:00:15", "2026-03-01 10:00:30", "2026-03-01 10:00:45" })]
    [InlineData("@every 15s", "2026-03-01 10:00:15", new[] { "2026-03-01 10:00:30" })]  // strictly after
    [InlineData("every 10 minutes", "2026-03-01 10:00:00", new[] { "2026-03-01 10:10:00", "2026-03-01 10:20:00" })]
    [InlineData("every 1 minute", "2026-03-01 10:00:59", new[] { "2026-03-01 10:01:00" })]
    [InlineData("@every 2h", "2026-03-01 09:30:00", new[] { "2026-03-01 10:00:00", "2026-03-01 12:00:00" })]
    [InlineData("every 7 seconds", "1970-01-01 00:00:00", new[] { "1970-01-01 00:00:07", "1970-01-01 00:00:14" })]
    public void Intervals_are_aligned_to_the_unix_epoch_so_every_instance_computes_the_same_slots(string expression, string after, string[] expected) =>
        Assert.Equal(expected, Next(expression, after, expected.Length));

    [Fact]
    public void An_offset_input_is_read_as_the_instant_it_denotes()
    {
        var schedule = CronSchedule.Parse("0 * * * *");
        var next = schedule.GetNextOccurrence(new DateTimeOffset(2026, 3, 1, 10, 30, 0, TimeSpan.FromHours(2))); // 08:30 UTC
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero), next);
        Assert.Equal(TimeSpan.FromSeconds(90), CronSchedule.Parse("@every 90s").Interval);
        Assert.Null(schedule.Interval);
    }

    [Theory]
    [InlineData("", "required")]
    [InlineData("* * * *", "expected 5 fields")]
    [InlineData("* * * * * *", "expected 5 fields")]
    [InlineData("60 * * * *", "minute")]
    [InlineData("* 24 * * *", "hour")]
    [InlineData("* * 0 * *", "day of month")]
    [InlineData("* * * 13 *", "month")]
    [InlineData("* * * * 8", "day of week")]
    [InlineData("*/0 * * * *", "step")]
    [InlineData("10-5 * * * *", "backwards")]
    [InlineData("1,,2 * * * *", "empty item")]
    [InlineData("* * * FOO *", "month")]
    [InlineData("0 0 30 2 *", "never fires")]
    [InlineData("@every", "interval")]
    [InlineData("@every 0s", "positive")]
    [InlineData("@every 5x", "unknown unit")]
    [InlineData("every five minutes", "positive")]
    [InlineData("@every 50000m", "at most 31 days")]
    [InlineData("@reboot", "expected 5 fields")]
    public void Invalid_schedules_are_rejected_with_the_reason(string expression, string reason)
    {
        Assert.False(CronSchedule.TryParse(expression, out var schedule, out var error));
        Assert.Null(schedule);
        Assert.Contains(reason, error, StringComparison.Ordinal);
        var thrown = Assert.Throws<FormatException>(() => CronSchedule.Parse(expression));
        Assert.Contains(reason, thrown.Message, StringComparison.Ordinal);
    }
}
