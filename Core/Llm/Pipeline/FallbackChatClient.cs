using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace AspireAi.Core.Llm.Pipeline;

/// <summary>
/// Sends a call to the fallback model when the primary fails before answering: an error from the server (after
/// the HTTP resilience handler's retries), a timeout, an open circuit (Polly's BrokenCircuitException), a
/// connection failure. A streamed call switches only while nothing but metadata has arrived; once text or a tool
/// call has been passed on, a failure is surfaced as it is, since the caller has already shown part of an answer.
/// The response's ModelId names the model that answered; each switch is logged and counted
/// (<c>aspireai.llm.fallbacks</c>). A cancellation by the caller never falls back.
/// </summary>
public sealed partial class FallbackChatClient(IChatClient primary, IChatClient fallback, ILogger<FallbackChatClient> logger)
    : DelegatingChatClient(primary)
{
    /// <summary>Key in ChatResponse.AdditionalProperties naming the primary model a fallback answer replaced.</summary>
    public const string FallbackFromProperty = "aspireai.fallback_from";

    /// <summary>The client used when the primary fails.</summary>
    public IChatClient Fallback { get; } = fallback ?? throw new ArgumentNullException(nameof(fallback));

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = messages as IReadOnlyList<ChatMessage> ?? [.. messages];
        try
        {
            return await base.GetResponseAsync(list, options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (ShouldFallBack(exception, cancellationToken))
        {
            var primaryModel = Record(exception, options);
            var response = await Fallback.GetResponseAsync(list, ForFallback(options), cancellationToken).ConfigureAwait(false);
            (response.AdditionalProperties ??= [])[FallbackFromProperty] = primaryModel;
            return response;
        }
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var list = messages as IReadOnlyList<ChatMessage> ?? [.. messages];

        // Updates carrying only metadata (role, ids) are held back until something substantive arrives, so that a
        // failure right after them can still switch providers without the caller seeing two responses.
        var held = new List<ChatResponseUpdate>();
        var committed = false;
        Exception? failure = null;
        IAsyncEnumerator<ChatResponseUpdate>? updates = null;
        try
        {
            try
            {
                updates = base.GetStreamingResponseAsync(list, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
            }
            catch (Exception exception) when (ShouldFallBack(exception, cancellationToken))
            {
                failure = exception;
            }

            while (updates is not null && failure is null)
            {
                bool moved;
                try
                {
                    moved = await updates.MoveNextAsync().ConfigureAwait(false);
                }
                catch (Exception exception) when (!committed && ShouldFallBack(exception, cancellationToken))
                {
                    failure = exception;
                    break;
                }

                if (!moved)
                {
                    break;
                }

                var update = updates.Current;
                if (!committed)
                {
                    if (!IsSubstantive(update))
                    {
                        held.Add(update);
                        continue;
                    }

                    committed = true;
                    foreach (var early in held)
                    {
                        yield return early;
                    }

                    held.Clear();
                }

                yield return update;
            }

            if (failure is null)
            {
                // A stream that ended with metadata only: pass it on as it is.
                foreach (var early in held)
                {
                    yield return early;
                }
            }
        }
        finally
        {
            if (updates is not null)
            {
                await updates.DisposeAsync().ConfigureAwait(false);
            }
        }

        if (failure is null)
        {
            yield break;
        }

        Record(failure, options);
        await foreach (var update in Fallback.GetStreamingResponseAsync(list, ForFallback(options), cancellationToken).ConfigureAwait(false))
        {
            yield return update;
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Fallback.Dispose();
        }

        base.Dispose(disposing);
    }

    private static bool IsSubstantive(ChatResponseUpdate update) =>
        update.FinishReason is not null || update.Contents.Any(content => content is not UsageContent && content is not TextContent { Text.Length: 0 });

    private static bool ShouldFallBack(Exception exception, CancellationToken cancellationToken) =>
        !(exception is OperationCanceledException && cancellationToken.IsCancellationRequested)
        && exception is not ArgumentException;

    // A model id chosen for the primary means nothing to the fallback server.
    private static ChatOptions? ForFallback(ChatOptions? options)
    {
        if (options?.ModelId is null)
        {
            return options;
        }

        var clone = options.Clone();
        clone.ModelId = null;
        return clone;
    }

    private string Record(Exception exception, ChatOptions? options)
    {
        var primaryModel = options?.ModelId ?? InnerClient.GetService<ChatClientMetadata>()?.DefaultModelId ?? "unknown";
        var fallbackModel = Fallback.GetService<ChatClientMetadata>()?.DefaultModelId ?? "unknown";
        var errorType = exception.GetType().FullName ?? exception.GetType().Name;
        LlmTelemetry.Fallbacks.Add(1, new TagList
        {
            { LlmTelemetry.Attributes.RequestModel, primaryModel },
            { "aspireai.llm.fallback_model", fallbackModel },
            { LlmTelemetry.Attributes.ErrorType, errorType },
        });
        Activity.Current?.AddEvent(new ActivityEvent("aspireai.llm.fallback", tags: new ActivityTagsCollection
        {
            [LlmTelemetry.Attributes.ErrorType] = errorType,
            ["aspireai.llm.fallback_model"] = fallbackModel,
        }));
        var status = exception is LlmProviderException { StatusCode: { } code } ? code : (int?)null;
        LogFallback(primaryModel, exception.GetType().Name, status, fallbackModel, exception.Message);
        return primaryModel;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "LLM {PrimaryModel} failed with {ErrorType} (HTTP {StatusCode}); answering with fallback {FallbackModel}. {Reason}")]
    private partial void LogFallback(string primaryModel, string errorType, int? statusCode, string fallbackModel, string reason);
}
