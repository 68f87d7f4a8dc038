using System.IO.Compression;

namespace AspireAi.Core.Documents.Parsing;

/// <summary>
/// Inflates every Flate-compressed stream of a PDF once, streaming, before PdfPig opens it, counting the output
/// against the same expansion budget as a .docx package (<see cref="DocumentParseLimits.MaxExpandedBytes"/>,
/// <see cref="DocumentParseLimits.MaxExpansionRatio"/>) and refusing the file the moment it is crossed. PdfPig
/// decodes a whole stream into one array when it needs it (object streams while opening, a page's content and fonts
/// while reading the page), so a few KB of Flate that inflate to gigabytes would be in memory before any check
/// between pages could see them.
/// </summary>
/// <remarks>
/// The file is scanned for the <c>stream</c> keyword rather than parsed: a damaged cross-reference table, which
/// PdfPig repairs by scanning the same way, cannot hide a stream. Images count too: which stream is an image is only
/// known from how the file uses it, and a dictionary that merely claims to be one must not be skipped. Filters other
/// than Flate (LZW, run-length, ASCII encodings in front of Flate) are not inflated here.
/// </remarks>
internal static class PdfStreamInspector
{
    private const int BufferSize = 16 * 1024;

    // How far back the stream's dictionary is looked for ("N G obj << ... >>" right before the keyword).
    private const int MaxDictionaryBytes = 64 * 1024;

    // Flate applied more than this many times over is not a real PDF's doing.
    private const int MaxFlateLayers = 4;

    public static void Inspect(byte[] content, DocumentParseLimits limits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(limits);
        var budget = ExpansionBudget.For(content.Length, limits);
        var buffer = new byte[BufferSize];
        var position = 0;
        while (position < content.Length)
        {
            var found = content.AsSpan(position).IndexOf("stream"u8);
            if (found < 0)
            {
                return;
            }

            var keyword = position + found;
            position = keyword + "stream"u8.Length;
            if (DataStart(content, keyword, position) is not { } dataStart)
            {
                continue;
            }

            var dictionary = DictionaryBefore(content, keyword);
            var layers = Occurrences(dictionary, "/FlateDecode"u8);
            if (layers == 0)
            {
                continue;
            }

            if (layers > MaxFlateLayers)
            {
                throw new DocumentParseException(
                    $"The PDF is refused as a possible decompression bomb: a stream is compressed {layers} times over.");
            }

            cancellationToken.ThrowIfCancellationRequested();
            Inflate(content, dataStart, layers, budget, buffer, cancellationToken);
        }
    }

    // The keyword opens stream data only when it stands alone ("endstream" also ends with it) and an end of line follows.
    private static int? DataStart(byte[] content, int keyword, int afterKeyword)
    {
        if (keyword > 0 && IsRegular(content[keyword - 1]))
        {
            return null;
        }

        if (afterKeyword < content.Length && content[afterKeyword] == '\r')
        {
            afterKeyword++;
        }

        if (afterKeyword < content.Length && content[afterKeyword] == '\n')
        {
            return afterKeyword + 1;
        }

        return afterKeyword > 0 && content[afterKeyword - 1] == '\r' ? afterKeyword : null;
    }

    private static bool IsRegular(byte b) => b is not ((byte)' ' or (byte)'\r' or (byte)'\n' or (byte)'\t' or (byte)'\f' or 0 or (byte)'>');

    private static ReadOnlySpan<byte> DictionaryBefore(byte[] content, int keyword)
    {
        var from = Math.Max(0, keyword - MaxDictionaryBytes);
        var window = content.AsSpan(from, keyword - from);
        var obj = window.LastIndexOf("obj"u8);
        return obj < 0 ? window : window[obj..];
    }

    private static int Occurrences(ReadOnlySpan<byte> text, ReadOnlySpan<byte> value)
    {
        var count = 0;
        for (var at = text.IndexOf(value); at >= 0; at = text.IndexOf(value))
        {
            count++;
            text = text[(at + value.Length)..];
        }

        return count;
    }

    private static void Inflate(byte[] content, int dataStart, int layers, ExpansionBudget budget, byte[] buffer, CancellationToken cancellationToken)
    {
        // Every layer's output counts: PdfPig holds each one in memory while it decodes the next.
        Stream stream = new MemoryStream(content, dataStart, content.Length - dataStart, writable: false);
        for (var layer = 0; layer < layers; layer++)
        {
            stream = new CountingStream(new ZLibStream(stream, CompressionMode.Decompress), budget, cancellationToken);
        }

        using (stream)
        {
            try
            {
                // Deflate data ends by itself, so the stream's /Length (often an indirect reference) is not needed.
                while (stream.Read(buffer) > 0)
                {
                }
            }
            catch (InvalidDataException)
            {
                // Damaged or encrypted data: PdfPig reports it, or skips the stream, when it gets there.
            }
        }
    }
}
