using System.Globalization;
using AspireAi.Web.Http;

namespace AspireAi.Web.Jobs;

// The confirmation shown once after a replay or cancel (post/redirect/get): a short-lived cookie the next page of
// the jobs pages reads and deletes, so a reload does not show it again and the address stays clean. It holds only
// the action and the job id; the sentence is built here, so a forged cookie can at most misreport a job number.
internal static class JobsFlash
{
    public const string Replayed = "replayed";
    public const string Cancelled = "cancelled";

    private const string CookieName = ".AspireAi.JobsFlash";

    public static void Set(HttpContext context, string action, long jobId)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Response.HasStarted)
        {
            return;
        }

        context.Response.Cookies.Append(CookieName, $"{action}:{jobId.ToString(CultureInfo.InvariantCulture)}", Options(context));
    }

    public static string? Take(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!context.Request.Cookies.TryGetValue(CookieName, out var value))
        {
            return null;
        }

        if (!context.Response.HasStarted)
        {
            context.Response.Cookies.Delete(CookieName, Options(context));
        }

        var separator = value.IndexOf(':', StringComparison.Ordinal);
        if (separator < 0 || !long.TryParse(value.AsSpan(separator + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
        {
            return null;
        }

        return value[..separator] switch
        {
            Replayed => $"Job {id} was replayed: it is queued again, with its attempts reset.",
            Cancelled => $"Job {id} was cancelled.",
            _ => null,
        };
    }

    private static CookieOptions Options(HttpContext context) => FlashCookies.Options(context, "/admin/jobs");
}
