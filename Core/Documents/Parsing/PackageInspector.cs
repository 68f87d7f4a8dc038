using System.IO.Compression;
using System.Xml;

namespace AspireAi.Core.Documents.Parsing;

/// <summary>
/// Reads every entry of a ZIP-based document (.docx) once, streaming, before any library loads it: the expanded
/// size is counted as it is read and the file is refused the moment it crosses the cap (absolute, or relative to
/// the compressed size), and every XML part is walked with an <see cref="XmlReader"/> (constant stack) to refuse
/// nesting deeper than <see cref="DocumentParseLimits.MaxXmlDepth"/>. OpenXml's loader recurses once per element
/// level; a stack overflow cannot be caught and would take the whole Workers process down with every job it holds.
/// </summary>
internal static class PackageInspector
{
    private const int BufferSize = 16 * 1024;

    public static void Inspect(byte[] content, DocumentParseLimits limits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(limits);
        using var archive = OpenArchive(content);
        if (archive.Entries.Count > limits.MaxArchiveEntries)
        {
            throw new DocumentParseException(
                $"The package holds {archive.Entries.Count:N0} parts; the limit is {limits.MaxArchiveEntries:N0} (Documents:Limits:MaxArchiveEntries).");
        }

        var budget = ExpansionBudget.For(content.Length, limits);
        var buffer = new byte[BufferSize];
        foreach (var entry in archive.Entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var stream = new CountingStream(OpenEntry(entry), budget, cancellationToken);
            if (IsXml(entry.FullName))
            {
                CheckDepth(stream, entry.FullName, limits.MaxXmlDepth);
            }

            // Whatever the XML reader left unread (and every non-XML part) still counts towards the cap.
            while (Read(stream, buffer) > 0)
            {
            }
        }
    }

    private static ZipArchive OpenArchive(byte[] content)
    {
        try
        {
            return new ZipArchive(new MemoryStream(content, writable: false), ZipArchiveMode.Read);
        }
        catch (InvalidDataException ex)
        {
            throw new DocumentParseException($"The file is not a valid .docx document: {ex.Message}", ex);
        }
    }

    private static Stream OpenEntry(ZipArchiveEntry entry)
    {
        try
        {
            return entry.Open();
        }
        catch (Exception ex) when (ex is InvalidDataException or NotSupportedException or IOException)
        {
            throw new DocumentParseException($"The file is not a valid .docx document: part '{entry.FullName}' cannot be read ({ex.Message}).", ex);
        }
    }

    private static int Read(Stream stream, byte[] buffer)
    {
        try
        {
            return stream.Read(buffer);
        }
        catch (InvalidDataException ex)
        {
            throw new DocumentParseException($"The file is not a valid .docx document: {ex.Message}", ex);
        }
    }

    private static bool IsXml(string name) =>
        name.EndsWith(".xml", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".rels", StringComparison.OrdinalIgnoreCase);

    private static void CheckDepth(Stream stream, string part, int maxDepth)
    {
        // No DTD (entity expansion is the other XML bomb) and no resolver: nothing outside the part is ever read.
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            IgnoreComments = true,
            IgnoreWhitespace = true,
            CloseInput = false,
        };
        try
        {
            using var reader = XmlReader.Create(stream, settings);
            while (reader.Read())
            {
                if (reader.NodeType == XmlNodeType.Element && reader.Depth >= maxDepth)
                {
                    throw new DocumentParseException(
                        $"The document's XML ('{part}') is nested more than {maxDepth:N0} levels deep (Documents:Limits:MaxXmlDepth); it is refused unread.");
                }
            }
        }
        catch (XmlException ex)
        {
            throw new DocumentParseException($"The file is not a valid .docx document: part '{part}' is not well-formed XML ({ex.Message}).", ex);
        }
        catch (InvalidDataException ex)
        {
            throw new DocumentParseException($"The file is not a valid .docx document: {ex.Message}", ex);
        }
    }
}
