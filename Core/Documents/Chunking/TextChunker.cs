using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;
using AspireAi.Core.Llm;

namespace AspireAi.Core.Documents.Chunking;

/// <summary>How documents are cut into chunks (<c>Documents:Chunking</c>).</summary>
public sealed class ChunkingOptions
{
    /// <summary>Largest chunk, in estimated tokens (<see cref="TokenCounter"/>).</summary>
    [Range(16, 8192)]
    public int MaxTokens { get; set; } = 256;

    /// <summary>Tokens of trailing sentences repeated at the start of the next chunk of the same section.</summary>
    [Range(0, 4096)]
    public int OverlapTokens { get; set; } = 40;
}

/// <summary>One chunk of a document.</summary>
/// <param name="Ordinal">Position in the document, from 0.</param>
/// <param name="Heading">The section's heading path ("Setup › Linux"), or null before the first heading.</param>
/// <param name="Content">The chunk's text: <c>text[Start..End]</c> of the cleaned document.</param>
/// <param name="TokenCount">Estimated tokens of <paramref name="Content"/>.</param>
/// <param name="Start">Offset of the first character in the cleaned text.</param>
/// <param name="End">Offset just past the last character.</param>
/// <param name="SplitSentence">True when the chunk is a piece of one sentence longer than a chunk.</param>
public sealed record TextChunk(int Ordinal, string? Heading, string Content, int TokenCount, int Start, int End, bool SplitSentence);

/// <summary>
/// Cuts cleaned document text (headings as markdown <c>#</c> lines, see <see cref="Parsing.DocumentParser"/>) into
/// chunks that follow headings and sentence boundaries: a heading always starts a new chunk, sentences are packed
/// whole up to <see cref="ChunkingOptions.MaxTokens"/>, and each chunk after the first of a section repeats up to
/// <see cref="ChunkingOptions.OverlapTokens"/> of the previous chunk's last sentences. Only a sentence longer than a
/// whole chunk is cut, at word boundaries. No text is lost: every sentence lies whole in at least one chunk.
/// </summary>
public static partial class TextChunker
{
    private const string HeadingSeparator = " › ";

    public static IReadOnlyList<TextChunk> Chunk(string text, ChunkingOptions options)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(options);
        var chunks = new List<TextChunk>();
        foreach (var section in Sections(text))
        {
            ChunkSection(text, section, options, chunks);
        }

        return chunks;
    }

    // Sizes are measured with the tokenizer the budgets use, on the exact text a chunk will hold.
    private static int Tokens(string text, int start, int end) => TokenCounter.Count(text.AsSpan(start, end - start));

    private static void ChunkSection(string text, Section section, ChunkingOptions options, List<TextChunk> chunks)
    {
        var maxTokens = options.MaxTokens;
        var sentences = SentenceSplitter.Split(text, section.Start, section.End);
        var current = new List<TextSpan>();
        foreach (var sentence in sentences)
        {
            if (Tokens(text, sentence.Start, sentence.End) > maxTokens)
            {
                Emit(text, section, current, chunks);
                current.Clear();
                foreach (var piece in SplitLongSentence(text, sentence, maxTokens))
                {
                    chunks.Add(NewChunk(text, section, piece.Start, piece.End, chunks.Count, splitSentence: true));
                }

                continue;
            }

            if (current.Count > 0 && Tokens(text, current[0].Start, sentence.End) > maxTokens)
            {
                Emit(text, section, current, chunks);
                var overlap = Overlap(text, current, options.OverlapTokens);
                current.Clear();
                current.AddRange(overlap);
                // The overlap must leave room for the sentence that did not fit.
                while (current.Count > 0 && Tokens(text, current[0].Start, sentence.End) > maxTokens)
                {
                    current.RemoveAt(0);
                }
            }

            current.Add(sentence);
        }

        Emit(text, section, current, chunks);
    }

    // The trailing sentences of a full chunk that fit the overlap budget; never the whole chunk, or nothing advances.
    private static List<TextSpan> Overlap(string text, List<TextSpan> chunk, int overlapTokens)
    {
        var overlap = new List<TextSpan>();
        if (overlapTokens <= 0)
        {
            return overlap;
        }

        for (var i = chunk.Count - 1; i >= 1; i--)
        {
            if (Tokens(text, chunk[i].Start, chunk[^1].End) > overlapTokens)
            {
                break;
            }

            overlap.Insert(0, chunk[i]);
        }

        return overlap;
    }

    private static void Emit(string text, Section section, List<TextSpan> sentences, List<TextChunk> chunks)
    {
        if (sentences.Count > 0)
        {
            chunks.Add(NewChunk(text, section, sentences[0].Start, sentences[^1].End, chunks.Count, splitSentence: false));
        }
    }

    private static TextChunk NewChunk(string text, Section section, int start, int end, int ordinal, bool splitSentence)
    {
        var content = text[start..end];
        return new TextChunk(ordinal, section.Heading, content, TokenCounter.Count(content), start, end, splitSentence);
    }

    // Pieces of at most maxTokens, cut after white space where there is any, otherwise at a token boundary.
    private static IEnumerable<TextSpan> SplitLongSentence(string text, TextSpan sentence, int maxTokens)
    {
        var start = sentence.Start;
        while (start < sentence.End)
        {
            // At least one character, so a single token longer than the budget still advances.
            var end = start + Math.Max(1, TokenCounter.PrefixLength(text.AsSpan(start, sentence.End - start), maxTokens));
            if (end < sentence.End)
            {
                var cut = end;
                while (cut > start && !char.IsWhiteSpace(text[cut]))
                {
                    cut--;
                }

                if (cut > start)
                {
                    end = cut;
                }
            }

            var pieceEnd = end;
            while (pieceEnd > start && char.IsWhiteSpace(text[pieceEnd - 1]))
            {
                pieceEnd--;
            }

            yield return new TextSpan(start, pieceEnd);
            start = end;
            while (start < sentence.End && char.IsWhiteSpace(text[start]))
            {
                start++;
            }
        }
    }

    private sealed record Section(string? Heading, int Start, int End);

    // Splits at markdown ATX heading lines (outside code fences) and tracks the heading path by level.
    private static List<Section> Sections(string text)
    {
        var sections = new List<Section>();
        var path = new string?[7];
        string? heading = null;
        var bodyStart = 0;
        var inFence = false;
        var lineStart = 0;
        while (lineStart <= text.Length)
        {
            var lineEnd = text.IndexOf('\n', lineStart);
            if (lineEnd < 0)
            {
                lineEnd = text.Length;
            }

            var line = text.AsSpan(lineStart, lineEnd - lineStart);
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                inFence = !inFence;
            }
            else if (!inFence && HeadingLine().Match(text, lineStart, lineEnd - lineStart) is { Success: true } match)
            {
                sections.Add(new Section(heading, bodyStart, lineStart));
                var level = match.Groups[1].Length;
                path[level] = match.Groups[2].Value.Trim();
                for (var deeper = level + 1; deeper < path.Length; deeper++)
                {
                    path[deeper] = null;
                }

                heading = string.Join(HeadingSeparator, path.Where(p => p is not null));
                bodyStart = Math.Min(lineEnd + 1, text.Length);
            }

            lineStart = lineEnd + 1;
        }

        sections.Add(new Section(heading, bodyStart, text.Length));
        return sections;
    }

    [GeneratedRegex(@"\G {0,3}(#{1,6})[ \t]+(.*?\S)(?:[ \t]+#+)?[ \t]*$", RegexOptions.Multiline | RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex HeadingLine();
}
