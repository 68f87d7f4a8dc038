using AspireAi.Core.Common;
using System.Diagnostics;
using System.Globalization;
using AspireAi.Core.Llm;
using AspireAi.Offline;
using Microsoft.Extensions.AI;

namespace AspireAi.Bench.Embeddings;

/// <summary>
/// <c>embed [--threads N] [--queries N] [--batches N] [--int8]</c>: the local embedding model's load time and RSS,
/// single-query latency, the CPU per chat question by questions per run and by concurrent callers, batch throughput
/// (32 per batch), and recall@5 and the cosine range of labelled and other pairs
/// on <see cref="RecallPairs"/> against the hashing embedder; <c>--int8</c> measures the quantized model and compares
/// its vectors with the float model's.
/// </summary>
internal static class EmbeddingBenchHarness
{
    private const int BatchSize = 32;
    private const int K = 5;

    public static async Task<int> RunAsync(string[] args)
    {
        var threads = Option(args, "--threads", 1);
        var queries = Option(args, "--queries", 1000);
        var batches = Option(args, "--batches", 30);
        Console.WriteLine($"embed: MiniLM, intra-op threads {threads}, {Environment.ProcessorCount} cores, {queries} queries, {batches} batches of {BatchSize}");

        var rssBefore = Rss();
        var int8 = args.Contains("--int8");
        using var miniLm = new MiniLmEmbeddingGenerator(
            new OfflineLlmOptions { EmbeddingThreads = threads, Embedder = int8 ? OfflineEmbedder.MiniLMInt8 : OfflineEmbedder.MiniLM }, BatchSize);
        Console.WriteLine(int8 ? "weights: int8 (dynamically quantized MatMuls)" : "weights: float32");
        var load = Stopwatch.StartNew();
        miniLm.WarmUp();
        load.Stop();
        Console.WriteLine($"load + warm-up: {load.Elapsed.TotalMilliseconds:0} ms; RSS {rssBefore / 1048576.0:0} MB before, {Rss() / 1048576.0:0} MB after load");

        // Short user questions as the chat sends them (9-14 word pieces).
        var texts = RecallPairs.All.Select(p => p.Query).ToArray();
        for (var i = 0; i < 50; i++)
        {
            await miniLm.GenerateAsync([texts[i % texts.Length]]);
        }

        var latencies = new double[queries];
        for (var i = 0; i < queries; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await miniLm.GenerateAsync([texts[i % texts.Length]]);
            latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }

        Array.Sort(latencies);
        Console.WriteLine($"query latency: p50 {Percentile(latencies, 0.50):0.00} ms, p95 {Percentile(latencies, 0.95):0.00} ms, p99 {Percentile(latencies, 0.99):0.00} ms");

        // The chat's question, several in one run: what a run costs per question if concurrent turns shared it.
        const string chatQuestion = "Benchmark request {0}: what should I pack for a weekend in Lisbon in spring?";
        foreach (var together in new[] { 1, 2, 4, 8, 16 })
        {
            var runs = Math.Max(20, queries / together / 4);
            var group = Enumerable.Range(0, together).Select(i => string.Format(CultureInfo.InvariantCulture, chatQuestion, i)).ToArray();
            var (wall, cpu) = await MeasureAsync(async () =>
            {
                for (var i = 0; i < runs; i++)
                {
                    await miniLm.GenerateAsync(group);
                }
            });
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{together,2} questions per run: {wall.TotalMilliseconds / runs:0.00} ms a run, {cpu.TotalMilliseconds / runs / together:0.00} ms CPU per question"));
        }

        // The same question from several callers at once, one question per run each, as concurrent chat turns call it.
        foreach (var callers in new[] { 1, 2, 4, 8 })
        {
            var each = Math.Max(10, queries / 8);
            var (wall, cpu) = await MeasureAsync(() => Task.WhenAll(Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
            {
                for (var i = 0; i < each; i++)
                {
                    await miniLm.GenerateAsync([string.Format(CultureInfo.InvariantCulture, chatQuestion, c * each + i)]);
                }
            }))));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{callers} concurrent callers: {callers * each / wall.TotalSeconds:0} questions/s, {cpu.TotalMilliseconds / (callers * each):0.00} ms CPU per question"));
        }

        // Memory-sized texts (the facts, 8-20 word pieces) in batches of 32.
        var memories = RecallPairs.All.Select(p => p.Memory).ToArray();
        var batch = Enumerable.Range(0, BatchSize).Select(i => memories[i % memories.Length]).ToArray();
        var throughput = Stopwatch.StartNew();
        for (var i = 0; i < batches; i++)
        {
            await miniLm.GenerateAsync(batch);
        }

        throughput.Stop();
        Console.WriteLine($"throughput: {batches * BatchSize / throughput.Elapsed.TotalSeconds:0} embeddings/s (batches of {BatchSize}); RSS {Rss() / 1048576.0:0} MB");

        var overlapping = RecallPairs.All.Count(p => SharedWords(p.Memory, p.Query).Count > 0);
        Console.WriteLine($"recall@{K}: {RecallPairs.All.Length} pairs, {overlapping} sharing a content word");
        foreach (var pair in RecallPairs.All.Where(p => SharedWords(p.Memory, p.Query).Count > 0))
        {
            Console.WriteLine($"  shares [{string.Join(", ", SharedWords(pair.Memory, pair.Query))}]: {pair.Query}");
        }

        if (int8)
        {
            // How far the quantized vectors are from the float model's, text by text.
            using var reference = new MiniLmEmbeddingGenerator(new OfflineLlmOptions { EmbeddingThreads = threads }, BatchSize);
            var all = RecallPairs.All.SelectMany(p => new[] { p.Query, p.Memory }).ToArray();
            var a = await miniLm.GenerateAsync(all);
            var b = await reference.GenerateAsync(all);
            var cosines = a.Zip(b, (x, y) => (double)OfflineEmbeddingGenerator.CosineSimilarity(x.Vector.ToArray(), y.Vector.ToArray())).Order().ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"cosine between int8 and float32 vectors of the same text ({cosines.Length} texts): min {cosines[0]:0.0000}, p5 {Percentile(cosines, 0.05):0.0000}, p50 {Percentile(cosines, 0.50):0.0000}"));
        }

        using var hashing = new OfflineEmbeddingGenerator();
        foreach (var generator in new IEmbeddingGenerator<string, Embedding<float>>[] { miniLm, hashing })
        {
            var (recall, mrr, labelled, others) = await RecallAsync(generator);
            var model = generator.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelId;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {model}: recall@{K} {recall:0.000}, MRR {mrr:0.000}"));
            // The similarity range, for thresholds such as Memory:MinScore and Documents:Retrieval:MinSimilarity.
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"    cosine of labelled pairs: p5 {Percentile(labelled, 0.05):0.000}, p10 {Percentile(labelled, 0.10):0.000}, p50 {Percentile(labelled, 0.50):0.000}; of other pairs: p95 {Percentile(others, 0.95):0.000}, p99 {Percentile(others, 0.99):0.000}, max {others[^1]:0.000}"));
        }

        return 0;
    }

    private static async Task<(double Recall, double Mrr, double[] Labelled, double[] Others)> RecallAsync(IEmbeddingGenerator<string, Embedding<float>> generator)
    {
        var pairs = RecallPairs.All;
        var memories = (await generator.GenerateAsync(pairs.Select(p => p.Memory))).Select(e => e.Vector.ToArray()).ToArray();
        var queries = (await generator.GenerateAsync(pairs.Select(p => p.Query))).Select(e => e.Vector.ToArray()).ToArray();
        var hits = 0;
        var reciprocal = 0.0;
        var labelled = new List<double>();
        var others = new List<double>();
        for (var q = 0; q < queries.Length; q++)
        {
            var target = OfflineEmbeddingGenerator.CosineSimilarity(queries[q], memories[q]);
            labelled.Add(target);
            others.AddRange(memories.Where((_, i) => i != q).Select(m => (double)OfflineEmbeddingGenerator.CosineSimilarity(queries[q], m)));
            // Rank of the labelled memory among all memories (1 = best).
            var rank = 1 + memories.Where((m, i) => i != q && OfflineEmbeddingGenerator.CosineSimilarity(queries[q], m) > target).Count();
            hits += rank <= K ? 1 : 0;
            reciprocal += 1.0 / rank;
        }

        labelled.Sort();
        others.Sort();
        return ((double)hits / queries.Length, reciprocal / queries.Length, [.. labelled], [.. others]);
    }

    private static List<string> SharedWords(string left, string right) =>
        [.. TextNormalizer.ContentWords(left).Select(TextNormalizer.Stem).Intersect(TextNormalizer.ContentWords(right).Select(TextNormalizer.Stem))];

    internal static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static async Task<(TimeSpan Wall, TimeSpan Cpu)> MeasureAsync(Func<Task> work)
    {
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        await work();
        wall.Stop();
        process.Refresh();
        return (wall.Elapsed, process.TotalProcessorTime - cpuBefore);
    }

    private static long Rss()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }

    internal static int Option(string[] args, string name, int fallback)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
