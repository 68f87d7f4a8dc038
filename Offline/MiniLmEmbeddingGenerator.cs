using AspireAi.Core.Llm;
using Microsoft.Extensions.AI;
using Microsoft.ML.OnnxRuntime;

namespace AspireAi.Offline;

/// <summary>
/// all-MiniLM-L6-v2 in process (384 dimensions, no network): BERT word pieces, the ONNX transformer, mean pooling
/// over the attention mask and L2 normalisation, as sentence-transformers does. Texts longer than
/// <see cref="OfflineLlmOptions.EmbeddingMaxTokens"/> word pieces are truncated (the model was trained on 256; its
/// position table ends at 512). The model is loaded on first use and shared by the whole process; calls are thread-safe.
/// With <see cref="OfflineEmbedder.MiniLMInt8"/> the same model runs with int8 matrix products (<see cref="MiniLmQuantizer"/>).
/// </summary>
public sealed class MiniLmEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private static readonly string[] OutputNames = ["last_hidden_state"];

    /// <summary>
    /// Padded positions per inference run. A run's activations grow with rows × width (its attention scores with
    /// rows × width²) and stop fitting the core's cache: passages of 256 word pieces ran ~1.8 times faster two to a run
    /// than 64 to a run on the 2-core machine (docs/benchmarks.md, "Ingestion with the local model"), while short
    /// queries and memories (~12 word pieces) still go ~40 to a run.
    /// </summary>
    internal const int TokensPerRun = 512;

    private readonly int _batchSize;
    private readonly int _tokensPerRun;
    private readonly int _maxTokens;
    private readonly int _threads;
    private readonly string _cacheDirectory;
    private readonly bool _quantized;
    private readonly string _modelId;
    private readonly EmbeddingGeneratorMetadata _metadata;

    /// <summary>Creates the generator; nothing is loaded until the first call (or <see cref="WarmUp"/>).</summary>
    /// <param name="options">Thread count, truncation length and cache folder.</param>
    /// <param name="batchSize">Most texts per inference run (<see cref="LlmOptions.EmbeddingBatchSize"/>); long texts go in
    /// smaller runs (<see cref="TokensPerRun"/>).</param>
    public MiniLmEmbeddingGenerator(OfflineLlmOptions options, int batchSize)
        : this(options, batchSize, TokensPerRun)
    {
    }

    /// <summary>With another budget of padded positions per run (the benchmark compares them).</summary>
    internal MiniLmEmbeddingGenerator(OfflineLlmOptions options, int batchSize, int tokensPerRun)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.EmbeddingMaxTokens, 3, nameof(options));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.EmbeddingMaxTokens, MiniLmModel.HardMaxTokens, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.EmbeddingThreads, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(tokensPerRun, 1);
        _batchSize = batchSize;
        _tokensPerRun = tokensPerRun;
        _maxTokens = options.EmbeddingMaxTokens;
        _threads = options.EmbeddingThreads;
        _cacheDirectory = options.ResolveModelCacheDirectory();
        _quantized = options.Embedder == OfflineEmbedder.MiniLMInt8;
        _modelId = _quantized ? OfflineModels.QuantizedEmbeddingModelId : OfflineModels.EmbeddingModelId;
        _metadata = new(OfflineModels.ProviderName, providerUri: null, _modelId, EmbeddingDefaults.Dimensions);
    }

    private MiniLmModel Model => MiniLmModel.Get(_cacheDirectory, _threads, _quantized);

    /// <summary>Loads the model (extracting it on a cold cache) and runs one inference, so the first request is not slow.</summary>
    public void WarmUp() => Embed(["warm-up"], CancellationToken.None);

    /// <inheritdoc />
    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (options?.Dimensions is { } dimensions && dimensions != EmbeddingDefaults.Dimensions)
        {
            throw new NotSupportedException($"{_modelId} produces {EmbeddingDefaults.Dimensions} dimensions, not {dimensions}.");
        }

        var texts = values.ToList();
        var (vectors, tokens) = Embed(texts, cancellationToken);
        var now = DateTimeOffset.UtcNow;
        var result = new GeneratedEmbeddings<Embedding<float>>(vectors.Select(v => new Embedding<float>(v)
        {
            ModelId = _modelId,
            CreatedAt = now,
        }))
        {
            Usage = new UsageDetails { InputTokenCount = tokens, TotalTokenCount = tokens },
        };
        return Task.FromResult(result);
    }

    private (float[][] Vectors, long Tokens) Embed(List<string> texts, CancellationToken cancellationToken)
    {
        var model = Model;
        var ids = new IReadOnlyList<int>[texts.Count];
        long tokens = 0;
        for (var i = 0; i < texts.Count; i++)
        {
            ArgumentNullException.ThrowIfNull(texts[i], nameof(texts));
            // The limit counts [CLS] and [SEP], so the model never sees more positions than it supports.
            ids[i] = model.Tokenizer.EncodeToIds(texts[i], _maxTokens, addSpecialTokens: true, out _, out _);
            tokens += ids[i].Count;
        }

        // Batches of similar lengths: every row is padded to the longest in its batch, so sorting first avoids
        // running a short query padded to a long passage's length.
        var order = Enumerable.Range(0, texts.Count).OrderBy(i => ids[i].Count).ToArray();
        var vectors = new float[texts.Count][];
        foreach (var batch in Batches(order, ids, _batchSize, _tokensPerRun))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var pooled = Run(model, [.. batch.Select(i => ids[i])]);
            for (var row = 0; row < batch.Length; row++)
            {
                vectors[batch[row]] = pooled[row];
            }
        }

        return (vectors, tokens);
    }

    /// <summary>
    /// Consecutive runs of <paramref name="order"/> (sorted by length) of at most <paramref name="maxRows"/> texts and
    /// <paramref name="maxTokens"/> padded positions, whichever is reached first (a single longer text still runs).
    /// </summary>
    internal static IEnumerable<int[]> Batches(int[] order, IReadOnlyList<int>[] ids, int maxRows, int maxTokens)
    {
        var start = 0;
        while (start < order.Length)
        {
            var end = start + 1;
            // Sorted ascending, so the row being added sets the batch's padded width.
            while (end < order.Length && end - start < maxRows && (end - start + 1) * ids[order[end]].Count <= maxTokens)
            {
                end++;
            }

            yield return order[start..end];
            start = end;
        }
    }

    private static float[][] Run(MiniLmModel model, IReadOnlyList<int>[] batch)
    {
        var rows = batch.Length;
        var width = batch.Max(ids => ids.Count);
        var inputIds = new long[rows * width];
        var mask = new long[rows * width];
        for (var row = 0; row < rows; row++)
        {
            var ids = batch[row];
            for (var t = 0; t < ids.Count; t++)
            {
                inputIds[row * width + t] = ids[t];
                mask[row * width + t] = 1;
            }
        }

        long[] shape = [rows, width];
        using var inputIdsValue = OrtValue.CreateTensorValueFromMemory(inputIds, shape);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, shape);
        // One sentence per row: every token type is 0.
        using var typesValue = OrtValue.CreateTensorValueFromMemory(new long[rows * width], shape);
        var inputs = new Dictionary<string, OrtValue>(StringComparer.Ordinal)
        {
            ["input_ids"] = inputIdsValue,
            ["attention_mask"] = maskValue,
            ["token_type_ids"] = typesValue,
        };
        using var runOptions = new RunOptions();
        using var outputs = model.Session.Run(runOptions, inputs, OutputNames);
        var hidden = outputs[0].GetTensorDataAsSpan<float>();

        const int dimensions = EmbeddingDefaults.Dimensions;
        var result = new float[rows][];
        for (var row = 0; row < rows; row++)
        {
            // Mean over the real tokens only: padding positions carry activations too, and must not count.
            var vector = new float[dimensions];
            var count = batch[row].Count;
            for (var t = 0; t < count; t++)
            {
                var token = hidden.Slice((row * width + t) * dimensions, dimensions);
                for (var d = 0; d < dimensions; d++)
                {
                    vector[d] += token[d];
                }
            }

            var norm = 0f;
            for (var d = 0; d < dimensions; d++)
            {
                norm += vector[d] * vector[d];
            }

            // The mean's 1/count cancels in the normalisation, so the sum is normalised directly.
            norm = MathF.Sqrt(norm);
            for (var d = 0; d < dimensions; d++)
            {
                vector[d] /= norm;
            }

            result[row] = vector;
        }

        return result;
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(EmbeddingGeneratorMetadata) ? _metadata
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // The model belongs to the process (MiniLmModel.Get), not to this generator.
    }
}
