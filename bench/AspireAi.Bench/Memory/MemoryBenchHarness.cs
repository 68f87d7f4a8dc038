namespace AspireAi.Bench.Memory;

/// <summary>
/// <c>memory search [--total N] [--scope N] [--per-user N] [--queries N] [--data-dir DIR] [--keep] [--embedder hashing|minilm]
/// [--pool N] [--jitter S] [--recall-probes N] [--sweep [--sweep-settings ef:mode:max_scan_tuples:overfetch,...] [--sweep-queries N]]
/// [--set Memory:Key=value]</c>: search latency and the semantic leg's recall at scale.
/// <c>memory tokens [--turns N] [--window N]</c>: prompt tokens per turn, memory against full history.
/// </summary>
internal static class MemoryBenchHarness
{
    public static Task<int> RunAsync(string[] args) => args switch
    {
        ["search", .. var rest] => MemorySearchHarness.RunAsync(rest),
        ["tokens", .. var rest] => MemoryTokenHarness.RunAsync(rest),
        _ => Usage(),
    };

    private static Task<int> Usage()
    {
        Console.Error.WriteLine("usage: memory search [--total 1000000] [--scope 100000] [--per-user 100] [--queries 1000] [--data-dir DIR] [--keep]");
        Console.Error.WriteLine("         [--embedder hashing|minilm] [--pool 50000] [--jitter 0.01] [--recall-probes 200] [--sweep] [--sweep-settings 200:relaxed:20000:1,...]");
        Console.Error.WriteLine("         [--sweep-queries 300] [--set Memory:HnswEfSearch=200]");
        Console.Error.WriteLine("       memory tokens [--turns 300] [--window 2]");
        return Task.FromResult(2);
    }
}
