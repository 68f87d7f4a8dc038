using System.ComponentModel.DataAnnotations;

namespace AspireAi.Web.Extensions;

// Bound from the "Web" section, e.g. Web__SessionLifetime=08:00:00.
internal sealed class WebOptions
{
    public const string SectionName = "Web";

    [Range(1, 100)]
    public int ConversationPageSize { get; set; } = 20;

    [Range(1, 100)]
    public int MessagePageSize { get; set; } = 30;

    // How long the auth cookie lasts without activity (sliding). The Api's refresh token bounds it too:
    // once that has expired the session ends, whatever the cookie says.
    [Range(typeof(TimeSpan), "00:05:00", "30.00:00:00")]
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(12);

    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan AccessTokenRefreshMargin { get; set; } = TimeSpan.FromSeconds(30);

    // How often the interactive jobs page reads the queues again (the no-script page has its own refresh link).
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan JobsRefreshInterval { get; set; } = TimeSpan.FromSeconds(5);
}
