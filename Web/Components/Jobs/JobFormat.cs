using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using AspireAi.Web.Jobs;

namespace AspireAi.Web.Components.Jobs;

// How the jobs pages write times, ages, durations and payloads, and the addresses of their filtered views.
internal static class JobFormat
{
    public const int ErrorPreviewLength = 120;

    // The title attribute holds the whole error for a hover, within reason: some errors carry long stack traces.
    public const int ErrorTitleLength = 2000;

    // Razor encodes the text when it writes it into the page, so relaxed escaping only keeps the payload readable
    // (no \u00e9 for é); it never reaches the browser unencoded.
    private static readonly JsonSerializerOptions PrettyJson = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    public static string Iso(DateTimeOffset time) => time.ToString("o", CultureInfo.InvariantCulture);

    // 42 s, 12 min 5 s, 3 h 12 min, 2 d 4 h: the two largest units are what an operator reads at a glance.
    public static string Age(double seconds)
    {
        var span = TimeSpan.FromSeconds(Math.Max(0, seconds));
        return span switch
        {
            { TotalSeconds: < 1 } => "under a second",
            { TotalMinutes: < 1 } => $"{span.Seconds} s",
            { TotalHours: < 1 } => span.Seconds == 0 ? $"{span.Minutes} min" : $"{span.Minutes} min {span.Seconds} s",
            { TotalDays: < 1 } => span.Minutes == 0 ? $"{span.Hours} h" : $"{span.Hours} h {span.Minutes} min",
            _ => span.Hours == 0 ? $"{(int)span.TotalDays} d" : $"{(int)span.TotalDays} d {span.Hours} h",
        };
    }

    public static string Duration(double seconds) => seconds switch
    {
        < 1 => string.Create(CultureInfo.InvariantCulture, $"{Math.Max(0, seconds) * 1000:0} ms"),
        < 60 => string.Create(CultureInfo.InvariantCulture, $"{seconds:0.00} s"),
        _ => Age(seconds),
    };

    public static string Truncate(string text, int length) =>
        text.Length <= length ? text : string.Concat(text.AsSpan(0, length - 1), "…");

    public static string Payload(JsonElement payload) =>
        payload.ValueKind == JsonValueKind.Undefined ? "" : JsonSerializer.Serialize(payload, PrettyJson);

    // "admin/jobs?status=dead&type=x": relative to <base href="/">; empty values are left out.
    public static string ListUrl(JobFilter filter, string? cursor = null, bool refresh = false, string? fragment = null)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var url = ApiClients.ApiResponses.WithQuery("admin/jobs",
            ("status", filter.Status), ("type", filter.Type), ("limit", filter.Limit), ("cursor", cursor), ("refresh", refresh ? "on" : null));
        return fragment is null ? url : $"{url}#{fragment}";
    }

    public static string DetailsUrl(long id) => $"admin/jobs/{id.ToString(CultureInfo.InvariantCulture)}";
}
