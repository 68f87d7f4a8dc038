using System.ComponentModel.DataAnnotations;

namespace AspireAi.Core.Documents.Parsing;

/// <summary>
/// What parsing one uploaded file may cost (<c>Documents:Limits</c>). A file that crosses a limit fails with the
/// limit's name in its reason; nothing is retried, since the same file would cross it again.
/// </summary>
public sealed class DocumentParseLimits
{
    /// <summary>Most bytes all parts of a ZIP-based document (.docx), or all Flate streams of a PDF, may expand to. Default 64 MB.</summary>
    [Range(1024, 4L << 30)]
    public long MaxExpandedBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Most times a ZIP-based document or a PDF may expand its own size (above <see cref="ExpansionRatioFloorBytes"/>). Default 100.</summary>
    [Range(2, 100_000)]
    public int MaxExpansionRatio { get; set; } = 100;

    /// <summary>What any package may expand to whatever its ratio (a near-empty .docx is mostly fixed parts). Default 2 MB.</summary>
    [Range(0, 1L << 30)]
    public long ExpansionRatioFloorBytes { get; set; } = 2L * 1024 * 1024;

    /// <summary>Most parts (files) in a ZIP-based document. Default 10,000.</summary>
    [Range(1, 1_000_000)]
    public int MaxArchiveEntries { get; set; } = 10_000;

    /// <summary>
    /// Deepest element nesting in a document's XML. Word documents stay far below it (a table in a table adds three
    /// levels); thousands of nested content controls are an attack on the loader's recursion. Default 256.
    /// </summary>
    [Range(16, 2000)]
    public int MaxXmlDepth { get; set; } = 256;

    /// <summary>Longest time parsing one document may take. Default 60 s.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan ParseTimeout { get; set; } = TimeSpan.FromSeconds(60);
}
