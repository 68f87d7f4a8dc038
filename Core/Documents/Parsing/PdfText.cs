using UglyToad.PdfPig;
using UglyToad.PdfPig.Core;
using UglyToad.PdfPig.DocumentLayoutAnalysis;
using UglyToad.PdfPig.DocumentLayoutAnalysis.PageSegmenter;
using UglyToad.PdfPig.DocumentLayoutAnalysis.ReadingOrderDetector;
using UglyToad.PdfPig.DocumentLayoutAnalysis.WordExtractor;
using UglyToad.PdfPig.Exceptions;

namespace AspireAi.Core.Documents.Parsing;

/// <summary>Where a page's text starts in the cleaned text of a document (PDF), so chunks can say which page they come from.</summary>
/// <param name="Number">The page number in the file, from 1.</param>
/// <param name="Start">Offset of the page's first character in the cleaned text.</param>
public sealed record DocumentPage(int Number, int Start);

/// <summary>
/// Text of a PDF with PdfPig, page by page in reading order: words are grouped into blocks (Docstrum) and the blocks
/// ordered as a person reads them, not as the file happens to draw them. A page without any text layer (a scan) is
/// listed in <c>pagesWithoutText</c>; a PDF whose pages are all like that is refused, since no text recognition runs.
/// </summary>
internal static class PdfText
{
    private const string PageSeparator = "\n\n";

    // Blocks ordered by where they sit, column by column, never by the order the file draws them in.
    private static readonly UnsupervisedReadingOrderDetector ReadingOrder =
        new(5, UnsupervisedReadingOrderDetector.SpatialReasoningRules.ColumnWise, useRenderingOrder: false);

    /// <summary>The text of a PDF whose compressed streams were first measured against <paramref name="limits"/>.</summary>
    public static ParsedDocument Extract(byte[] content, int maxChars, DocumentParseLimits limits, CancellationToken cancellationToken)
    {
        PdfStreamInspector.Inspect(content, limits, cancellationToken);
        return Extract(content, maxChars, cancellationToken);
    }

    public static ParsedDocument Extract(ReadOnlySpan<byte> content, int maxChars, CancellationToken cancellationToken = default)
    {
        PdfDocument pdf;
        try
        {
            pdf = PdfDocument.Open(content.ToArray());
        }
        catch (PdfDocumentEncryptedException)
        {
            throw new DocumentParseException("The PDF is encrypted; upload a copy without a password.");
        }
        catch (Exception ex) when (ex is PdfDocumentFormatException or InvalidOperationException or ArgumentException or IndexOutOfRangeException
            or InvalidCastException or NullReferenceException or FormatException or KeyNotFoundException or OverflowException)
        {
            // PdfPig signals damage with several exception types; none of them is the user's content.
            throw new DocumentParseException("The file is not a readable PDF.", ex);
        }

        using (pdf)
        {
            var text = new System.Text.StringBuilder();
            var pages = new List<DocumentPage>();
            var withoutText = new List<int>();
            try
            {
                foreach (var page in pdf.GetPages())
                {
                    // The parse deadline (Documents:Limits:ParseTimeout), between pages: a PDF of many slow pages stops.
                    cancellationToken.ThrowIfCancellationRequested();
                    var words = page.GetWords(NearestNeighbourWordExtractor.Instance).Where(w => !string.IsNullOrWhiteSpace(w.Text)).ToList();
                    var pageText = words.Count == 0 ? "" : TextCleaner.Clean(string.Join(PageSeparator,
                        ReadingOrder.Get(DocstrumBoundingBoxes.Instance.GetBlocks(words)).Select(b => b.Text)));
                    if (!pageText.Any(char.IsLetterOrDigit))
                    {
                        withoutText.Add(page.Number);
                        continue;
                    }
                    if (text.Length > 0)
                    {
                        text.Append(PageSeparator);
                    }
                    pages.Add(new DocumentPage(page.Number, text.Length));
                    text.Append(pageText);
                    if (text.Length > maxChars)
                    {
                        throw new DocumentParseException(
                            $"The document holds more than {maxChars:N0} characters of text; the limit is {maxChars:N0} (Documents:MaxTextChars).");
                    }
                }
            }
            catch (Exception ex) when (ex is PdfDocumentFormatException or InvalidOperationException or ArgumentException or IndexOutOfRangeException
                or InvalidCastException or NullReferenceException or FormatException or KeyNotFoundException or OverflowException)
            {
                throw new DocumentParseException("The file is not a readable PDF.", ex);
            }

            var pageCount = pdf.NumberOfPages;
            if (pages.Count == 0)
            {
                throw new DocumentParseException(pageCount == 0
                    ? "The PDF has no pages."
                    : $"The PDF has no text layer: its {pageCount} page(s) look scanned (images only), and text recognition (OCR) is not supported.");
            }

            var metadata = new Dictionary<string, object> { ["pages"] = pageCount };
            if (withoutText.Count > 0)
            {
                // Said plainly on the document, so the user knows these pages are not searchable.
                metadata["pagesWithoutText"] = withoutText;
                metadata["warning"] = $"{withoutText.Count} of {pageCount} pages have no text layer (scanned?) and are not searchable: {string.Join(", ", withoutText)}.";
            }
            if (pdf.Information.Author is { Length: > 0 } author)
            {
                metadata["author"] = author;
            }
            var title = pdf.Information.Title is { Length: > 0 } t ? t : null;
            return new ParsedDocument(text.ToString(), title, metadata) { Pages = pages };
        }
    }
}
