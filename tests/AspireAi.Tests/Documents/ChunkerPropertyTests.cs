using System.Text;
using AspireAi.Core.Documents.Chunking;
using AspireAi.Core.Llm;

namespace AspireAi.Tests.Documents;

/// <summary>
/// Properties of the chunker over random documents (many seeds, several chunk sizes): no sentence is lost, sentences
/// appear in order, a sentence is cut only when it is longer than a chunk, chunks respect the size and headings.
/// </summary>
public sealed class ChunkerPropertyTests
{
    private static readonly string[] Words =
    [
        "alpha", "river", "cloud", "engine", "garden", "silver", "window", "market", "planet", "signal", "harbor", "copper",
        "meadow", "lantern", "orbit", "canyon", "velvet", "summit", "pepper", "quartz", "the", "of", "and", "to", "in",
        "2024", "v2", "x-ray", "e-mail", "naïve", "café", "straße", "東京", "data", "model", "token", "vector", "index",
    ];

    public static TheoryData<int, int, int> Seeds()
    {
        var data = new TheoryData<int, int, int>();
        var sizes = new (int Max, int Overlap)[] { (16, 0), (32, 8), (64, 16), (256, 40), (100, 99) };
        for (var seed = 1; seed <= 60; seed++)
        {
            var (max, overlap) = sizes[seed % sizes.Length];
            data.Add(seed, max, overlap);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void No_sentence_is_lost_or_reordered_and_only_oversized_sentences_are_cut(int seed, int maxTokens, int overlapTokens)
    {
        var random = new Random(seed);
        var document = RandomDocument(random);
        var options = new ChunkingOptions { MaxTokens = maxTokens, OverlapTokens = overlapTokens };

        var chunks = TextChunker.Chunk(document.Text, options);

        // Every chunk is its span of the text, within the size limit, ordinals in order.
        Assert.Equal(Enumerable.Range(0, chunks.Count), chunks.Select(c => c.Ordinal));
        foreach (var chunk in chunks)
        {
            Assert.Equal(document.Text[chunk.Start..chunk.End], chunk.Content);
            Assert.True(chunk.TokenCount <= maxTokens, $"seed {seed}: chunk {chunk.Ordinal} has {chunk.TokenCount} tokens > {maxTokens}");
            Assert.Equal(chunk.Content.Trim(), chunk.Content);
        }

        // Chunks advance: each starts after the previous one's start.
        for (var i = 1; i < chunks.Count; i++)
        {
            Assert.True(chunks[i].Start > chunks[i - 1].Start, $"seed {seed}: chunk {i} does not advance");
        }

        var lastChunk = -1;
        foreach (var sentence in document.Sentences)
        {
            if (TokenCounter.Count(sentence.Text) > maxTokens)
            {
                // Cut at word boundaries: its pieces cover it, in order, and each is a run of whole words.
                var pieces = chunks.Where(c => c.SplitSentence && c.Start >= sentence.Start && c.End <= sentence.End).ToList();
                Assert.NotEmpty(pieces);
                Assert.Equal(Squash(sentence.Text), Squash(string.Concat(pieces.Select(p => p.Content))));
                Assert.All(pieces, p => Assert.True(p.Start == sentence.Start || char.IsWhiteSpace(document.Text[p.Start - 1]),
                    $"seed {seed}: a piece starts mid-word"));
                lastChunk = pieces[^1].Ordinal;
                continue;
            }

            // Whole in a chunk, and the first such chunk is not before the previous sentence's.
            var holder = chunks.FirstOrDefault(c => c.Ordinal >= lastChunk && c.Start <= sentence.Start && c.End >= sentence.End)
                ?? chunks.FirstOrDefault(c => c.Start <= sentence.Start && c.End >= sentence.End);
            Assert.True(holder is not null, $"seed {seed}: sentence at {sentence.Start} is not whole in any chunk: \"{sentence.Text}\"");
            Assert.True(holder.Ordinal >= lastChunk, $"seed {seed}: sentence at {sentence.Start} appears out of order");
            Assert.Equal(sentence.Heading, holder.Heading);
            Assert.False(holder.SplitSentence);
            lastChunk = holder.Ordinal;
        }

        // No text is lost: every non-white character outside heading lines lies in a chunk.
        var covered = new bool[document.Text.Length];
        foreach (var chunk in chunks)
        {
            Array.Fill(covered, true, chunk.Start, chunk.End - chunk.Start);
        }

        foreach (var (start, end) in document.HeadingLines)
        {
            Array.Fill(covered, true, start, end - start);
        }

        for (var i = 0; i < document.Text.Length; i++)
        {
            Assert.True(covered[i] || char.IsWhiteSpace(document.Text[i]), $"seed {seed}: character {i} ('{document.Text[i]}') is in no chunk");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Consecutive_chunks_of_a_section_overlap_by_whole_sentences_within_the_budget(int seed)
    {
        var random = new Random(seed);
        var sentences = Enumerable.Range(0, 200).Select(_ => RandomSentence(random, 2, 6)).ToList();
        var text = string.Join(' ', sentences);
        var options = new ChunkingOptions { MaxTokens = 64, OverlapTokens = 20 };

        var chunks = TextChunker.Chunk(text, options);

        Assert.True(chunks.Count > 5);
        for (var i = 1; i < chunks.Count; i++)
        {
            var overlap = chunks[i - 1].End - chunks[i].Start;
            Assert.True(overlap > 0, "chunks of one section overlap");
            var overlapTokens = TokenCounter.Count(text.AsSpan(chunks[i].Start, overlap));
            Assert.True(overlapTokens <= options.OverlapTokens, $"overlap of {overlapTokens} tokens exceeds the budget");
            // The overlap starts at a sentence start.
            Assert.Contains(sentences, s => chunks[i].Content.StartsWith(s, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Headings_start_new_chunks_and_give_their_path_and_code_fences_are_not_headings()
    {
        const string text = """
            Intro sentence before any heading.

            # Installation

            Download the package. Run the installer.

            ## Linux

            Use the tarball.

            ```
            # not a heading, a shell comment
            ```

            # Usage

            Start it.
            """;

        var chunks = TextChunker.Chunk(text, new ChunkingOptions { MaxTokens = 256, OverlapTokens = 0 });

        Assert.Equal(
            [(null, "Intro sentence before any heading."), ("Installation", "Download the package. Run the installer."),
             ("Installation › Linux", "Use the tarball.\n\n```\n# not a heading, a shell comment\n```"), ("Usage", "Start it.")],
            chunks.Select(c => (c.Heading, c.Content)));
    }

    [Theory]
    [InlineData("Dr. Smith met Mr. Jones at 3.30 p.m. yesterday. They talked.", 2)]
    [InlineData("See e.g. the manual. Then call J. R. Tolkien's agent! Done?", 3)]
    [InlineData("Visit example.com today. The price is 3.14 dollars.", 2)]
    [InlineData("Items:\n- first item\n- second item\n1. numbered", 4)]
    [InlineData("A quote: \"Stop.\" Then go.", 2)]
    public void Sentences_are_split_at_real_boundaries(string text, int expected)
    {
        var spans = SentenceSplitter.Split(text, 0, text.Length);
        Assert.Equal(expected, spans.Count);
        Assert.Equal(Squash(text), Squash(string.Concat(spans.Select(s => text[s.Start..s.End]))));
    }

    [Fact]
    public void Empty_and_blank_text_make_no_chunks()
    {
        Assert.Empty(TextChunker.Chunk("", new ChunkingOptions()));
        Assert.Empty(TextChunker.Chunk("  \n\n  ", new ChunkingOptions()));
        Assert.Empty(TextChunker.Chunk("# Only a heading", new ChunkingOptions()));
    }

    private sealed record Sentence(string Text, int Start, int End, string? Heading);

    private sealed record RandomText(string Text, List<Sentence> Sentences, List<(int Start, int End)> HeadingLines);

    // Paragraphs of sentences (some very long), separated by spaces, line breaks or blank lines, under random headings.
    private static RandomText RandomDocument(Random random)
    {
        var text = new StringBuilder();
        var sentences = new List<Sentence>();
        var headingLines = new List<(int, int)>();
        var path = new string?[7];
        string? heading = null;
        var sections = random.Next(1, 6);
        for (var s = 0; s < sections; s++)
        {
            if (s > 0 || random.Next(2) == 0)
            {
                var level = random.Next(1, 4);
                var title = $"Section {s} {Words[random.Next(Words.Length)]}";
                if (text.Length > 0)
                {
                    text.Append("\n\n");
                }

                var start = text.Length;
                text.Append('#', level).Append(' ').Append(title);
                headingLines.Add((start, text.Length));
                text.Append("\n\n");
                path[level] = title;
                for (var deeper = level + 1; deeper < path.Length; deeper++)
                {
                    path[deeper] = null;
                }

                heading = string.Join(" › ", path.Where(p => p is not null));
            }

            var count = random.Next(1, 40);
            for (var i = 0; i < count; i++)
            {
                if (i > 0)
                {
                    text.Append(random.Next(10) switch { 0 => "\n\n", 1 => "\n", _ => " " });
                }

                var sentence = random.Next(25) == 0 ? RandomSentence(random, 150, 400) : RandomSentence(random, 1, 30);
                var start = text.Length;
                text.Append(sentence);
                sentences.Add(new Sentence(sentence, start, text.Length, heading));
            }
        }

        return new RandomText(text.ToString(), sentences, headingLines);
    }

    private static string RandomSentence(Random random, int minWords, int maxWords)
    {
        var count = random.Next(minWords, maxWords + 1);
        var words = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            var word = Words[random.Next(Words.Length)];
            words.Add(i == 0 ? char.ToUpperInvariant(word[0]) + word[1..] : word);
            if (i < count - 1 && random.Next(12) == 0)
            {
                words[^1] += ",";
            }
        }

        var end = random.Next(10) switch { 0 => "!", 1 => "?", 2 => "...", _ => "." };
        return string.Join(' ', words) + end;
    }

    private static string Squash(string text) => new([.. text.Where(c => !char.IsWhiteSpace(c))]);
}
