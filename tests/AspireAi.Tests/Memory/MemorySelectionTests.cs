using AspireAi.Core.Llm;
using AspireAi.Core.Memory;

namespace AspireAi.Tests.Memory;

/// <summary>
/// The chat's memory block under its token budget (<see cref="MemoryContextProvider.Select"/>): each candidate's line
/// is tokenized once, and the choice is the one that counting the whole block for every candidate makes.
/// </summary>
public sealed class MemorySelectionTests
{
    private static readonly string[] Texts =
    [
        "Lives in Lisbon.",
        "Works at Hooli as a designer",
        "Is allergic to peanuts and shellfish; carries an EpiPen.",
        "Prefers answers in metric units (km, kg, °C).",
        "Has two daughters, Ana (7) and Rita (10), who both play the violin!",
        "Favourite editor: Neovim — with a config of 1,204 lines.",
        "Runs 5k every Tuesday & Thursday at 06:30",
        "Is learning Japanese: 日本語を勉強しています。",
        "Their dog's name is \"Biscuit\"...",
        "Moved from São Paulo to Porto in March 2024, after 12 years in Brazil; rents a flat near the river and cycles to work most days.",
        "Vegetarian",
        "Asked to be called Sam, not Samuel.",
        "Birthday: 14/02/1990",
        "Uses a Framework 13 laptop with Fedora 41 and a 4K monitor.",
        "Dislikes meetings before 10am?",
        "Supports Benfica.",
    ];

    [Fact]
    public void Chooses_what_counting_the_whole_block_for_every_candidate_chooses_and_never_exceeds_the_budget()
    {
        var random = new Random(17);
        for (var round = 0; round < 60; round++)
        {
            // Candidates in a random order (the ranking); some texts twice, as one fact kept in two scopes would be.
            var ranked = Enumerable.Range(0, random.Next(1, 24))
                .Select(_ => Memory(Texts[random.Next(Texts.Length)]))
                .ToList();
            var budget = random.Next(20, 420);

            var (text, chosen, tokens) = MemoryContextProvider.Select(ranked, budget);
            var (expectedText, expectedChosen) = SelectByWholeBlocks(ranked, budget);

            Assert.Equal(expectedChosen.Select(m => m.Id), chosen.Select(m => m.Id));
            Assert.Equal(expectedText, text);
            if (text is not null)
            {
                Assert.InRange(TokenCounter.Count(text), 1, budget);
                Assert.Equal(TokenCounter.Count(text), tokens);
                Assert.Equal(chosen.Count, LlmPromptBlocks.Parse(text)!.Value.Items.Count);
            }
        }
    }

    [Fact]
    public void A_memory_too_long_for_what_is_left_is_skipped_and_shorter_ones_after_it_still_go_in()
    {
        var first = Memory("Lives in Lisbon.");
        var tooLong = Memory(string.Join(' ', Enumerable.Repeat("Collects vintage fountain pens from the nineteen twenties.", 12)));
        var last = Memory("Supports Benfica.");

        var (text, chosen, _) = MemoryContextProvider.Select([first, tooLong, last], tokenBudget: 80);

        Assert.Equal([first.Id, last.Id], chosen.Select(m => m.Id));
        Assert.Contains("Supports Benfica.", text, StringComparison.Ordinal);
        Assert.DoesNotContain("fountain pens", text, StringComparison.Ordinal);
        var (nothing, none, noTokens) = MemoryContextProvider.Select([tooLong], tokenBudget: 20);
        Assert.Null(nothing);
        Assert.Empty(none);
        Assert.Equal(0, noTokens);
    }

    // The selection as it was: the whole block formatted and counted again for every candidate. Under an unlimited
    // budget every candidate goes in, so Select then gives the block of those memories exactly as the chat writes it.
    private static (string? Text, List<ScoredMemory> Chosen) SelectByWholeBlocks(List<ScoredMemory> ranked, int budget)
    {
        var chosen = new List<ScoredMemory>();
        string? text = null;
        foreach (var memory in ranked)
        {
            var block = MemoryContextProvider.Select([.. chosen, memory], int.MaxValue).Text!;
            if (TokenCounter.Count(block) > budget)
            {
                continue;
            }
            chosen.Add(memory);
            text = block;
        }
        return (text, chosen);
    }

    private static ScoredMemory Memory(string text)
    {
        var at = DateTimeOffset.UtcNow;
        return new ScoredMemory(Guid.CreateVersion7(), MemoryScope.User, MemoryType.Semantic, text, 0.5f, null, null, at, at, null, 1,
            new MemoryScoreBreakdown(1, 0, 0, 1, 1, 1, 1, 1, null, null, 0, 0, 0, []));
    }
}
