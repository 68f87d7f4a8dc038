using System.Diagnostics;
using Microsoft.Extensions.AI;

namespace AspireAi.Core.Llm.Pipeline;

/// <summary>
/// An <c>embeddings {model}</c> client span plus the GenAI duration and input-token metrics per call, like
/// <see cref="TelemetryChatClient"/> does for chat. The texts are never recorded.
/// </summary>
public sealed class TelemetryEmbeddingGenerator(IEmbeddingGenerator<string, Embedding<float>> innerGenerator)
    : DelegatingEmbeddingGenerator<string, Embedding<float>>(innerGenerator)
{
    private const string Operation = "embeddings";

    /// <inheritdoc />
    public override async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var metadata = InnerGenerator.GetService<EmbeddingGeneratorMetadata>();
        var model = options?.ModelId ?? metadata?.DefaultModelId ?? "unknown";
        var provider = metadata?.ProviderName ?? "unknown";
        var tags = new TagList
        {
            { LlmTelemetry.Attributes.OperationName, Operation },
            { LlmTelemetry.Attributes.ProviderName, provider },
            { LlmTelemetry.Attributes.RequestModel, model },
        };

        using var activity = LlmTelemetry.ActivitySource.StartActivity($"{Operation} {model}", ActivityKind.Client);
        activity?.SetTag(LlmTelemetry.Attributes.OperationName, Operation);
        activity?.SetTag(LlmTelemetry.Attributes.ProviderName, provider);
        activity?.SetTag(LlmTelemetry.Attributes.System, provider);
        activity?.SetTag(LlmTelemetry.Attributes.RequestModel, model);
        activity?.SetTag(LlmTelemetry.Attributes.RequestEmbeddingDimensions, options?.Dimensions ?? EmbeddingDefaults.Dimensions);

        var started = Stopwatch.GetTimestamp();
        try
        {
            var result = await base.GenerateAsync(values, options, cancellationToken).ConfigureAwait(false);
            if (result.Usage?.InputTokenCount is { } input)
            {
                activity?.SetTag(LlmTelemetry.Attributes.InputTokens, input);
                var tokenTags = tags;
                tokenTags.Add(LlmTelemetry.Attributes.TokenType, "input");
                LlmTelemetry.TokenUsage.Record(input, tokenTags);
            }

            LlmTelemetry.OperationDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
            return result;
        }
        catch (Exception exception)
        {
            var errorType = exception.GetType().FullName;
            tags.Add(LlmTelemetry.Attributes.ErrorType, errorType);
            LlmTelemetry.OperationDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
            activity?.SetTag(LlmTelemetry.Attributes.ErrorType, errorType);
            activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
            throw;
        }
    }
}
