using AspireAi.Core.Llm;
using AspireAi.Offline;
using Microsoft.Extensions.AI;

namespace AspireAi.Tests.Llm;

public sealed class MiniLmEmbeddingGeneratorTests
{
    private static MiniLmEmbeddingGenerator Create(int batchSize = 32, int maxTokens = 256) =>
        new(new OfflineLlmOptions { EmbeddingMaxTokens = maxTokens }, batchSize);

    private static async Task<float[][]> EmbedAsync(MiniLmEmbeddingGenerator generator, params string[] texts) =>
        [.. (await generator.GenerateAsync(texts)).Select(e => e.Vector.ToArray())];

    private static float Cosine(float[] left, float[] right) => OfflineEmbeddingGenerator.CosineSimilarity(left, right);

    [Fact]
    public async Task Related_sentences_are_close_and_unrelated_ones_far_even_without_shared_words()
    {
        using var generator = Create();

        var v = await EmbedAsync(generator,
            "I live in Lisbon", "Where does the user live? Lisbon, Portugal", "My favourite food is sushi",
            "My daughter started kindergarten", "Does the user have children?", "The quarterly tax report is due Friday");

        // Figures from the model's reference implementation (ENVIRONMENT.md): 0.71 vs 0.09.
        Assert.InRange(Cosine(v[0], v[1]), 0.65f, 0.8f);
        Assert.InRange(Cosine(v[0], v[2]), -0.05f, 0.2f);
        // No word in common, but the same topic: a child, the user's children.
        Assert.True(Cosine(v[3], v[4]) > Cosine(v[3], v[5]) + 0.2f, $"{Cosine(v[3], v[4])} vs {Cosine(v[3], v[5])}");
    }

    [Fact]
    public async Task Vectors_are_unit_length_384_wide_and_carry_the_model_id()
    {
        using var generator = Create();

        var result = await generator.GenerateAsync(["How do I reset my password?", "", "!!!"]);

        Assert.All(result, embedding =>
        {
            Assert.Equal(EmbeddingDefaults.Dimensions, embedding.Vector.Length);
            Assert.Equal(1.0, Math.Sqrt(embedding.Vector.ToArray().Sum(x => (double)x * x)), 4);
            Assert.Equal(OfflineModels.EmbeddingModelId, embedding.ModelId);
        });
        var metadata = generator.GetService<EmbeddingGeneratorMetadata>();
        Assert.Equal((OfflineModels.EmbeddingModelId, 384), (metadata?.DefaultModelId, metadata?.DefaultModelDimensions));
        Assert.True(result.Usage?.InputTokenCount >= 6);
    }

    [Fact]
    public async Task The_int8_model_keeps_the_float_models_space_and_reports_its_own_id()
    {
        var cache = Directory.CreateTempSubdirectory("aspireai-int8-").FullName;
        try
        {
            using var quantized = new MiniLmEmbeddingGenerator(new OfflineLlmOptions { Embedder = OfflineEmbedder.MiniLMInt8, ModelCacheDirectory = cache }, 32);
            using var full = Create();
            string[] texts =
            [
                "I live in Lisbon", "Where does the user live? Lisbon, Portugal", "My favourite food is sushi",
                "My daughter started kindergarten", "Does the user have children?", "The quarterly tax report is due Friday",
            ];

            var result = await quantized.GenerateAsync(texts);
            var q = result.Select(e => e.Vector.ToArray()).ToArray();
            var f = await EmbedAsync(full, texts);

            Assert.All(result, embedding =>
            {
                Assert.Equal(OfflineModels.QuantizedEmbeddingModelId, embedding.ModelId);
                Assert.Equal(EmbeddingDefaults.Dimensions, embedding.Vector.Length);
                Assert.Equal(1.0, Math.Sqrt(embedding.Vector.ToArray().Sum(x => (double)x * x)), 4);
            });
            Assert.Equal(OfflineModels.QuantizedEmbeddingModelId, quantized.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelId);
            // The same text lands next to its float vector, and the neighbourhoods are the float model's.
            Assert.All(Enumerable.Range(0, texts.Length), i => Assert.InRange(Cosine(q[i], f[i]), 0.97f, 1.0f));
            Assert.InRange(Cosine(q[0], q[1]), 0.6f, 0.85f);
            Assert.InRange(Cosine(q[0], q[2]), -0.1f, 0.25f);
            Assert.True(Cosine(q[3], q[4]) > Cosine(q[3], q[5]) + 0.2f, $"{Cosine(q[3], q[4])} vs {Cosine(q[3], q[5])}");
            // The rewritten graph is cached beside the extracted float model, its weight matrices a quarter of their float size.
            var file = Assert.Single(Directory.GetFiles(cache, "all-MiniLM-L6-v2-int8-*.onnx"));
            var floatFile = Assert.Single(Directory.GetFiles(cache, "all-MiniLM-L6-v2-2*.onnx"));
            Assert.InRange(new FileInfo(file).Length, new FileInfo(floatFile).Length / 2, new FileInfo(floatFile).Length * 3 / 4);
            var bytes = await File.ReadAllBytesAsync(file);
            Assert.True(bytes.AsSpan().IndexOf("DynamicQuantizeMatMul"u8) >= 0);
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    [Fact]
    public async Task A_batch_gives_the_same_vectors_as_single_calls_whatever_the_batch_size_and_padding()
    {
        string[] texts =
        [
            "Short.", "A noticeably longer sentence about booking a flight to Tokyo next spring with two children.",
            "I am allergic to peanuts", "Meeting moved to Thursday", "ok",
        ];
        using var batched = Create(batchSize: 2);
        using var whole = Create(batchSize: 64);

        var inBatches = await EmbedAsync(batched, texts);
        var together = await EmbedAsync(whole, texts);
        for (var i = 0; i < texts.Length; i++)
        {
            var single = (await EmbedAsync(whole, texts[i]))[0];
            Assert.True(Cosine(single, together[i]) > 0.9999f, $"{texts[i]}: {Cosine(single, together[i])}");
            Assert.True(Cosine(single, inBatches[i]) > 0.9999f, $"{texts[i]}: {Cosine(single, inBatches[i])}");
        }
    }

    [Fact]
    public async Task Long_inputs_are_truncated_to_the_token_limit()
    {
        var head = string.Join(' ', Enumerable.Repeat("The warranty covers the battery for two years.", 10));
        var tail = string.Join(' ', Enumerable.Repeat("Bananas are rich in potassium.", 400));
        using var generator = Create(maxTokens: 64);

        var result = await generator.GenerateAsync([head, head + " " + tail, string.Join(' ', Enumerable.Repeat("word", 5000))]);

        // Both start with the same 64 word pieces, so what comes after is never seen.
        Assert.True(Cosine(result[0].Vector.ToArray(), result[1].Vector.ToArray()) > 0.9999f);
        // Truncation stops at a whole word, so a text may keep a few word pieces fewer than the limit, never more.
        Assert.InRange(result.Usage?.InputTokenCount ?? 0, 3 * 56, 3 * 64);
    }

    [Fact]
    public async Task Concurrent_calls_give_the_same_vectors_as_sequential_ones()
    {
        using var generator = Create();
        var texts = Enumerable.Range(0, 24).Select(i => $"Fact number {i}: the user's locker code is on card {i * 7}.").ToArray();
        var expected = await EmbedAsync(generator, texts);

        var concurrent = await Task.WhenAll(texts.Select((text, i) => Task.Run(async () => (i, (await EmbedAsync(generator, text))[0]))));

        Assert.All(concurrent, r => Assert.True(Cosine(expected[r.i], r.Item2) > 0.9999f));
    }

    [Fact]
    public void Long_texts_run_fewer_to_an_inference_run_and_short_ones_up_to_the_batch_size()
    {
        // Lengths in word pieces, sorted as the generator sorts them: 40 queries, then 20 passages of 256.
        IReadOnlyList<int>[] ids = [.. Enumerable.Repeat(12, 40).Concat(Enumerable.Repeat(256, 20)).Select(n => new int[n])];
        var order = Enumerable.Range(0, ids.Length).ToArray();

        var runs = MiniLmEmbeddingGenerator.Batches(order, ids, maxRows: 32, maxTokens: 2048).ToList();

        // Every text exactly once, in order.
        Assert.Equal(order, runs.SelectMany(r => r));
        // Padded positions (rows x the longest row) stay within the budget, and no run exceeds the row limit.
        Assert.All(runs, r => Assert.True(r.Length <= 32 && r.Length * r.Max(i => ids[i].Count) <= 2048, $"{r.Length} rows"));
        // Short texts fill runs to the row limit; passages of 256 go 8 at a time.
        Assert.Equal([32, 8, 8, 8, 4], runs.Select(r => r.Length));
    }

    [Fact]
    public void A_text_longer_than_the_budget_still_runs_on_its_own()
    {
        IReadOnlyList<int>[] ids = [new int[100], new int[300], new int[300]];

        var runs = MiniLmEmbeddingGenerator.Batches([0, 1, 2], ids, maxRows: 64, maxTokens: 256).ToList();

        Assert.Equal([0, 1, 2], runs.SelectMany(r => r));
        Assert.All(runs, r => Assert.Single(r));
    }

    [Fact]
    public async Task The_budget_of_positions_per_run_does_not_change_the_vectors()
    {
        var passage = string.Join(' ', Enumerable.Repeat("The warranty covers the battery and the charger for two years after purchase.", 12));
        string[] texts = [passage, "Meeting moved to Thursday", passage + " Keep the receipt.", "ok", passage.ToUpperInvariant()];
        using var tight = new MiniLmEmbeddingGenerator(new OfflineLlmOptions(), 64, tokensPerRun: 16);
        using var loose = new MiniLmEmbeddingGenerator(new OfflineLlmOptions(), 64, tokensPerRun: 64 * 512);

        var separately = await EmbedAsync(tight, texts);
        var together = await EmbedAsync(loose, texts);

        for (var i = 0; i < texts.Length; i++)
        {
            Assert.True(Cosine(separately[i], together[i]) > 0.9999f, $"{i}: {Cosine(separately[i], together[i])}");
        }
    }
}
