using System.Globalization;
using System.Text;

namespace AspireAi.Web.Memories;

// The memory pages' addresses, and the confirmation a page shows after a post/redirect/get (a short code in
// the query string, so that a reload shows it again but never repeats the action).
public static class MemoryLinks
{
    public const string Page = "/memories";
    public const string NoticeParameter = "memory";

    public static string Edit(Guid id, string returnUrl) => $"/memories/{id}/edit?returnUrl={Uri.EscapeDataString(returnUrl)}";

    public static string History(Guid id) => $"/memories/{id}/history";

    public static string Forget(string returnUrl) => $"/memories/forget?returnUrl={Uri.EscapeDataString(returnUrl)}";

    public static string Admin(Guid id) => $"/admin/memories/{id}";

    // Only paths on this site: anything else would make the return address an open redirect. The result is
    // rendered exactly as validated (leading '/' kept): trimmed, "/https://evil.example" would become an absolute link.
    public static string LocalOr(string? returnUrl, string fallback) =>
        returnUrl is { Length: > 0 } && returnUrl[0] == '/' && !returnUrl.StartsWith("//", StringComparison.Ordinal)
            && !returnUrl.StartsWith("/\\", StringComparison.Ordinal)
            ? returnUrl
            : fallback;

    // "/c/42" + "deleted" -> "/c/42?memory=deleted"; a notice already on the address is replaced, not repeated.
    public static string WithNotice(string url, string notice, params (string Name, long Value)[] counts)
    {
        ArgumentNullException.ThrowIfNull(url);
        var query = url.IndexOf('?', StringComparison.Ordinal);
        var path = query < 0 ? url : url[..query];
        var kept = query < 0
            ? []
            : url[(query + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries)
                .Where(pair => !IsNoticeParameter(pair[..(pair.IndexOf('=', StringComparison.Ordinal) is var at and >= 0 ? at : pair.Length)]));
        var builder = new StringBuilder(path).Append('?');
        foreach (var pair in kept)
        {
            builder.Append(pair).Append('&');
        }

        builder.Append(NoticeParameter).Append('=').Append(Uri.EscapeDataString(notice));
        foreach (var (name, value) in counts)
        {
            builder.Append('&').Append(name).Append('=').Append(value.ToString(CultureInfo.InvariantCulture));
        }

        return builder.ToString();
    }

    private static bool IsNoticeParameter(string name) =>
        name is NoticeParameter || MemoryNotices.CountNames.Contains(name, StringComparer.Ordinal);
}

public static class MemoryNotices
{
    public const string Added = "added";
    public const string Exists = "exists";
    public const string Updated = "updated";
    public const string Deleted = "deleted";
    public const string Erased = "erased";

    // The erasure counts carried to the page that shows them, in the Api's order.
    public static readonly IReadOnlyList<string> CountNames = ["memories", "history", "entityLinks", "entities", "sources", "cacheKeys"];

    public static (string Name, long Value)[] Counts(MemoryErasure erasure)
    {
        ArgumentNullException.ThrowIfNull(erasure);
        return
        [
            ("memories", erasure.Memories),
            ("history", erasure.History),
            ("entityLinks", erasure.EntityLinks),
            ("entities", erasure.Entities),
            ("sources", erasure.Sources),
            ("cacheKeys", erasure.RedisKeys),
        ];
    }

    // Only known codes are shown: the text comes from here, never from the address.
    public static string? Message(string? code) => code switch
    {
        Added => "Memory added.",
        Exists => "I already remembered that; nothing changed.",
        Updated => "Memory updated. The earlier version stays in its history.",
        Deleted => "Memory deleted. I will no longer use it.",
        Erased => "Everything I remembered about you has been erased.",
        _ => null,
    };
}
