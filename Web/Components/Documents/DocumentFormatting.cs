using System.Globalization;
using AspireAi.Web.Documents;

namespace AspireAi.Web.Components.Documents;

internal static class DocumentFormatting
{
    public static string Size(long bytes) => DocumentUploadEndpoint.Size(bytes);

    public static string Scope(string scope) => scope == DocumentScopes.Org ? "Organisation" : "Only me";

    public static string Format(string format) => format.ToUpperInvariant();

    public static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

    public static string Iso(DateTimeOffset time) => time.ToString("o", CultureInfo.InvariantCulture);

    public static string DocumentPath(Guid id) => $"documents/{id:D}";

    // The citation target: chat links [Sn] here (MarkdownRenderer, chat.js).
    public static string ChunkPath(Guid documentId, Guid chunkId) => $"documents/{documentId:D}/chunks/{chunkId:D}";

    // A chunk's first words for the list of a document's chunks; the chunk page has the whole text.
    public static string Preview(string content, int maxChars = 220)
    {
        var oneLine = string.Join(' ', content.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        return oneLine.Length <= maxChars ? oneLine : string.Concat(oneLine.AsSpan(0, maxChars).TrimEnd(), "…");
    }
}
