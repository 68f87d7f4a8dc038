using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Numerics;

namespace AspireAi.Core.Jobs;

/// <summary>
/// A recurring schedule, in UTC. Accepts:
/// <list type="bullet">
/// <item>fixed intervals: <c>@every 30s</c>, <c>@every 5m</c>, <c>@every 2h</c>, <c>every 10 seconds</c>, <c>every 1 minute</c>
/// — slots are multiples of the interval since the Unix epoch, so every instance computes the same ones;</item>
/// <item>5-field cron: minute hour day-of-month month day-of-week, each field <c>*</c>, a value, a range
/// <c>a-b</c>, a step <c>*/n</c>, <c>a-b/n</c> or <c>a/n</c>, or a comma-separated list of those; months
/// <c>JAN</c>–<c>DEC</c> and days <c>SUN</c>–<c>SAT</c> by name, Sunday as 0 or 7. As in Vixie cron, when both day
/// fields are restricted a day matches either of them;</item>
/// <item><c>@hourly</c>, <c>@daily</c> (<c>@midnight</c>), <c>@weekly</c>, <c>@monthly</c>, <c>@yearly</c> (<c>@annually</c>).</item>
/// </list>
/// </summary>
public sealed class CronSchedule
{
    // Far enough to find Feb 29 across a skipped leap year (2096 → 2104).
    private const int SearchYears = 9;

    private static readonly string[] MonthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
    private static readonly string[] DayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

    private readonly TimeSpan? _interval;
    private readonly ulong _minutes;
    private readonly ulong _hours;
    private readonly ulong _daysOfMonth;
    private readonly ulong _months;
    private readonly ulong _daysOfWeek;
    private readonly bool _dayOfMonthRestricted;
    private readonly bool _dayOfWeekRestricted;

    private CronSchedule(string expression, TimeSpan interval)
    {
        Expression = expression;
        _interval = interval;
    }

    private CronSchedule(string expression, ulong minutes, ulong hours, ulong daysOfMonth, ulong months, ulong daysOfWeek,
        bool dayOfMonthRestricted, bool dayOfWeekRestricted)
    {
        Expression = expression;
        _minutes = minutes;
        _hours = hours;
        _daysOfMonth = daysOfMonth;
        _months = months;
        _daysOfWeek = daysOfWeek;
        _dayOfMonthRestricted = dayOfMonthRestricted;
        _dayOfWeekRestricted = dayOfWeekRestricted;
    }

    /// <summary>The text the schedule was parsed from.</summary>
    public string Expression { get; }

    /// <summary>The interval of an "every" schedule; null for cron expressions.</summary>
    public TimeSpan? Interval => _interval;

    public override string ToString() => Expression;

    /// <exception cref="FormatException">The expression is not a schedule, or never fires.</exception>
    public static CronSchedule Parse(string expression) =>
        TryParse(expression, out var schedule, out var error) ? schedule : throw new FormatException($"Schedule '{expression}': {error}");

    public static bool TryParse(string? expression, [NotNullWhen(true)] out CronSchedule? schedule, [NotNullWhen(false)] out string? error)
    {
        schedule = null;
        var text = expression?.Trim() ?? "";
        if (text.Length == 0)
        {
            error = "a schedule is required.";
            return false;
        }
        var alias = text.ToUpperInvariant() switch
        {
            "@HOURLY" => "0 * * * *",
            "@DAILY" or "@MIDNIGHT" => "0 0 * * *",
            "@WEEKLY" => "0 0 * * 0",
            "@MONTHLY" => "0 0 1 * *",
            "@YEARLY" or "@ANNUALLY" => "0 0 1 1 *",
            _ => null,
        };
        if (alias is null && (text.StartsWith("@every", StringComparison.OrdinalIgnoreCase) || text.StartsWith("every", StringComparison.OrdinalIgnoreCase)))
        {
            if (!TryParseInterval(text, out var interval, out error))
            {
                return false;
            }
            schedule = new CronSchedule(text, interval);
            return true;
        }

        var fields = (alias ?? text).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (fields.Length != 5)
        {
            error = $"expected 5 fields (minute hour day-of-month month day-of-week), found {fields.Length}.";
            return false;
        }
        if (!TryParseField(fields[0], 0, 59, null, "minute", out var minutes, out error)
            || !TryParseField(fields[1], 0, 23, null, "hour", out var hours, out error)
            || !TryParseField(fields[2], 1, 31, null, "day of month", out var daysOfMonth, out error)
            || !TryParseField(fields[3], 1, 12, MonthNames, "month", out var months, out error)
            || !TryParseField(fields[4], 0, 7, DayNames, "day of week", out var daysOfWeek, out error))
        {
            return false;
        }
        // Sunday is both 0 and 7.
        if ((daysOfWeek & (1UL << 7)) != 0)
        {
            daysOfWeek = (daysOfWeek | 1UL) & ~(1UL << 7);
        }
        var candidate = new CronSchedule(text, minutes, hours, daysOfMonth, months, daysOfWeek,
            !fields[2].StartsWith('*'), !fields[4].StartsWith('*'));
        if (candidate.FindNext(new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc)) is null)
        {
            error = "it never fires (no such date).";
            return false;
        }
        schedule = candidate;
        error = null;
        return true;
    }

    /// <summary>The first slot strictly after <paramref name="after"/>, in UTC.</summary>
    public DateTimeOffset GetNextOccurrence(DateTimeOffset after)
    {
        if (_interval is { } interval)
        {
            var ticks = after.UtcTicks - DateTime.UnixEpoch.Ticks;
            var slot = (Math.DivRem(ticks, interval.Ticks, out var rest) + (rest >= 0 ? 1 : 0)) * interval.Ticks;
            return new DateTimeOffset(DateTime.UnixEpoch.Ticks + slot, TimeSpan.Zero);
        }
        var next = FindNext(after.UtcDateTime)
            ?? throw new InvalidOperationException($"Schedule '{Expression}' has no slot within {SearchYears} years of {after:O}.");
        return new DateTimeOffset(next, TimeSpan.Zero);
    }

    private DateTime? FindNext(DateTime after)
    {
        // The next whole minute strictly after 'after'.
        var t = new DateTime(after.Ticks - (after.Ticks % TimeSpan.TicksPerMinute), DateTimeKind.Utc).AddMinutes(1);
        var limit = t.AddYears(SearchYears);
        while (t < limit)
        {
            if (!Has(_months, t.Month))
            {
                t = new DateTime(t.Year, t.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(1);
                continue;
            }
            if (!DayMatches(t))
            {
                t = t.Date.AddDays(1);
                continue;
            }
            if (!Has(_hours, t.Hour))
            {
                t = t.Date.AddHours(t.Hour + 1);
                continue;
            }
            var minute = NextSetBit(_minutes, t.Minute);
            if (minute is null)
            {
                t = t.Date.AddHours(t.Hour + 1);
                continue;
            }
            return t.Date.AddHours(t.Hour).AddMinutes(minute.Value);
        }
        return null;
    }

    private bool DayMatches(DateTime t)
    {
        var dom = Has(_daysOfMonth, t.Day);
        var dow = Has(_daysOfWeek, (int)t.DayOfWeek);
        return _dayOfMonthRestricted && _dayOfWeekRestricted ? dom || dow : dom && dow;
    }

    private static bool Has(ulong set, int value) => (set & (1UL << value)) != 0;

    private static int? NextSetBit(ulong set, int from)
    {
        var remaining = set >> from;
        return remaining == 0 ? null : from + BitOperations.TrailingZeroCount(remaining);
    }

    private static bool TryParseInterval(string text, out TimeSpan interval, [NotNullWhen(false)] out string? error)
    {
        interval = default;
        var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string number;
        string unit;
        if (parts.Length == 2 && parts[0].Equals("@every", StringComparison.OrdinalIgnoreCase) && parts[1].Length >= 2)
        {
            number = parts[1][..^1];
            unit = parts[1][^1..];
        }
        else if (parts.Length == 3 && parts[0].Equals("every", StringComparison.OrdinalIgnoreCase))
        {
            number = parts[1];
            unit = parts[2];
        }
        else
        {
            error = "write an interval as '@every 30s' (s, m or h) or 'every 30 seconds' (seconds, minutes or hours).";
            return false;
        }
        if (!int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count < 1)
        {
            error = $"'{number}' is not a positive whole number.";
            return false;
        }
        TimeSpan? unitLength = unit.ToUpperInvariant() switch
        {
            "S" or "SECOND" or "SECONDS" => TimeSpan.FromSeconds(1),
            "M" or "MINUTE" or "MINUTES" => TimeSpan.FromMinutes(1),
            "H" or "HOUR" or "HOURS" => TimeSpan.FromHours(1),
            _ => null,
        };
        if (unitLength is null)
        {
            error = $"unknown unit '{unit}' (use s, m, h or seconds, minutes, hours).";
            return false;
        }
        interval = unitLength.Value * count;
        if (interval > TimeSpan.FromDays(31))
        {
            error = "an interval can be at most 31 days; use a cron expression for longer ones.";
            return false;
        }
        error = null;
        return true;
    }

    private static bool TryParseField(string field, int min, int max, string[]? names, string what, out ulong set, [NotNullWhen(false)] out string? error)
    {
        set = 0;
        foreach (var item in field.Split(','))
        {
            if (item.Length == 0)
            {
                error = $"empty item in {what} field '{field}'.";
                return false;
            }
            var step = 1;
            var rangeText = item;
            var slash = item.IndexOf('/', StringComparison.Ordinal);
            if (slash >= 0)
            {
                var stepText = item[(slash + 1)..];
                if (!int.TryParse(stepText, NumberStyles.None, CultureInfo.InvariantCulture, out step) || step < 1 || step > max)
                {
                    error = $"invalid step '{stepText}' in {what} field '{field}'.";
                    return false;
                }
                rangeText = item[..slash];
            }

            int from;
            int to;
            if (rangeText == "*")
            {
                (from, to) = (min, max);
            }
            else
            {
                var dash = rangeText.IndexOf('-', StringComparison.Ordinal);
                if (!TryParseValue(dash < 0 ? rangeText : rangeText[..dash], min, max, names, out from)
                    || !TryParseValue(dash < 0 ? rangeText : rangeText[(dash + 1)..], min, max, names, out to))
                {
                    error = $"'{rangeText}' is not a {what} value or range ({min}-{max}).";
                    return false;
                }
                if (dash < 0 && slash >= 0)
                {
                    to = max; // "a/n": from a to the end, every n
                }
                if (from > to)
                {
                    error = $"range '{rangeText}' in {what} field runs backwards.";
                    return false;
                }
            }
            for (var value = from; value <= to; value += step)
            {
                set |= 1UL << value;
            }
        }
        error = null;
        return true;
    }

    private static bool TryParseValue(string text, int min, int max, string[]? names, out int value)
    {
        if (names is not null)
        {
            var index = Array.FindIndex(names, n => n.Equals(text, StringComparison.OrdinalIgnoreCase));
            if (index >= 0)
            {
                // Month names start at 1, day names at 0 — the same offset as each field's minimum.
                value = index + min;
                return true;
            }
        }
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= min && value <= max;
    }
}
