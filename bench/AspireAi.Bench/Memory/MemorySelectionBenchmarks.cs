using AspireAi.Core.Llm;
using AspireAi.Core.Memory;
using BenchmarkDotNet.Attributes;

namespace AspireAi.Bench.Memory;

/// <summary>
/// The chat's memory block under its token budget, once per turn: <see cref="MemoryContextProvider.Select"/> against
/// the way it chose before (the whole block formatted and tokenized again for every candidate), for the ten candidates
/// a search returns and the default budget of 200 tokens.
/// </summary>
[MemoryDiagnoser]
public class MemorySelectionBenchmarks
{
    private const int Budget = 200;

    private static readonly string[] Facts =
    [
        "Lives in Lisbon with their partner and works from home most days of the week.",
        "Works at Hooli as a product designer on the payments team since 2022.",
        "Is allergic to peanuts and shellfish and always carries an EpiPen when travelling.",
        "Prefers answers in metric units, short paragraphs and no emojis.",
        "Has two daughters, Ana (7) and Rita (10), who both play the violin.",
        "Uses Neovim with a long configuration and a Framework 13 laptop running Fedora.",
        "Runs five kilometres every Tuesday and Thursday morning before work.",
        "Is learning Japanese and practises with a tutor every Sunday evening.",
        "Their dog is a beagle called Biscuit who is afraid of thunderstorms.",
        "Moved from São Paulo to Porto in March 2024 after twelve years in Brazil.",
    ];

    private readonly List<ScoredMemory> _ranked = [.. Facts.Select(Memory)];

    [Benchmark]
    public int LineByLine() => MemoryContextProvider.Select(_ranked, Budget).Chosen.Count;

    [Benchmark(Baseline = true)]
    public int WholeBlockPerCandidate()
    {
        var items = new List<PromptBlockItem>();
        foreach (var memory in _ranked)
        {
            var item = new PromptBlockItem("m-" + memory.Id.ToString("N")[^8..], memory.Text);
            var block = LlmPromptBlocks.Format(LlmPromptBlocks.MemoriesHeading, [.. items, item], LlmPromptBlocks.MemoriesInstruction);
            if (TokenCounter.Count(block) <= Budget)
            {
                items.Add(item);
            }
        }
        return items.Count;
    }

    private static ScoredMemory Memory(string text)
    {
        var at = DateTimeOffset.UtcNow;
        return new ScoredMemory(Guid.CreateVersion7(), MemoryScope.User, MemoryType.Semantic, text, 0.5f, null, null, at, at, null, 1,
            new MemoryScoreBreakdown(1, 0, 0, 1, 1, 1, 1, 1, null, null, 0, 0, 0, []));
    }
}
