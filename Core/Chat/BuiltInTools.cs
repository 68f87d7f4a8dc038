using System.ComponentModel;
using System.Globalization;
using Microsoft.Extensions.AI;

namespace AspireAi.Core.Chat;

/// <summary>Tools every conversation gets. Feature folders (memory, documents) add their own providers.</summary>
public sealed class BuiltInTools(TimeProvider timeProvider) : IChatToolProvider
{
    public IEnumerable<AITool> GetTools(ChatContextRequest request)
    {
        yield return AIFunctionFactory.Create(CurrentTime, "current_time",
            "Returns the current date and time in UTC (ISO 8601) and the weekday. Use it for questions about today's date or the time.");
    }

    [Description("Current UTC date and time.")]
    private string CurrentTime()
    {
        var now = timeProvider.GetUtcNow();
        return $"{now.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)} ({now.DayOfWeek.ToString()})";
    }
}
