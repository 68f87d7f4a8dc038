using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using AspireAi.Core.Llm;
using AspireAi.Core.Llm.Json;
using Microsoft.Extensions.AI;

namespace AspireAi.Offline;

/// <summary>
/// The deterministic model (<c>offline-chat-1</c>) that answers when no LLM is configured. It never calls the
/// network and needs no key. Per request it does one of three things:
/// <list type="bullet">
/// <item>asks for a tool, when an offered tool's name/description words match the last user message
/// (<c>"what time is it?"</c> → <c>current_time</c>; <c>"search my documents for X"</c> → <c>search_documents {"query":"X"}</c>);</item>
/// <item>answers in JSON, when <c>ChatOptions.ResponseFormat</c> is a JSON schema: by the
/// <see cref="IOfflineStructuredResponder"/> registered for the schema name, else by generic schema filling;</item>
/// <item>answers in text, starting with <c>(offline model)</c>, from this turn's tool results and the memories and
/// sources blocks (<see cref="LlmPromptBlocks"/>) relevant to the question, citing their ids as <c>[id]</c>. Memories
/// are matched by meaning when a local embedder is given ("Where is home these days?" finds "Lives in Porto"), else by
/// shared words.</item>
/// </list>
/// Streaming yields the answer word by word (optionally <see cref="OfflineLlmOptions.TokenDelayMs"/> apart), then a
/// usage update with estimated tokens (about characters / 4, never 0).
/// </summary>
public sealed class OfflineChatClient : IChatClient
{
    private readonly Dictionary<string, IOfflineStructuredResponder> _responders;
    private readonly OfflineLlmOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly IEmbeddingGenerator<string, Embedding<float>>? _embedder;
    private readonly ChatClientMetadata _metadata = new(OfflineModels.ProviderName, providerUri: null, OfflineModels.ChatModelId);

    /// <summary>Creates the client.</summary>
    /// <param name="responders">Structured-output rules, one per schema name.</param>
    /// <param name="options">Offline settings (streaming delay).</param>
    /// <param name="timeProvider">Clock for timestamps.</param>
    /// <param name="embedder">A local embedder to match memories to the question by meaning; null matches by words.</param>
    public OfflineChatClient(
        IEnumerable<IOfflineStructuredResponder>? responders = null, OfflineLlmOptions? options = null, TimeProvider? timeProvider = null,
        IEmbeddingGenerator<string, Embedding<float>>? embedder = null)
    {
        _responders = new Dictionary<string, IOfflineStructuredResponder>(StringComparer.OrdinalIgnoreCase);
        foreach (var responder in responders ?? [])
        {
            if (!_responders.TryAdd(responder.SchemaName, responder))
            {
                throw new InvalidOperationException($"Two offline structured responders claim the schema '{responder.SchemaName}'.");
            }
        }

        _options = options ?? new OfflineLlmOptions();
        _timeProvider = timeProvider ?? TimeProvider.System;
        _embedder = embedder;
    }

    /// <inheritdoc />
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        cancellationToken.ThrowIfCancellationRequested();
        var reply = await AnswerAsync(messages, options, cancellationToken).ConfigureAwait(false);
        var message = new ChatMessage(ChatRole.Assistant, [reply.Content]) { MessageId = reply.MessageId, CreatedAt = reply.CreatedAt };
        return new ChatResponse(message)
        {
            ResponseId = reply.ResponseId,
            ModelId = OfflineModels.ChatModelId,
            CreatedAt = reply.CreatedAt,
            FinishReason = reply.FinishReason,
            Usage = reply.Usage,
        };
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        cancellationToken.ThrowIfCancellationRequested();
        var reply = await AnswerAsync(messages, options, cancellationToken).ConfigureAwait(false);

        IEnumerable<AIContent> chunks = reply.Content is TextContent text ? Chunk(text.Text).Select(chunk => new TextContent(chunk)) : [reply.Content];
        var first = true;
        foreach (var chunk in chunks)
        {
            if (!first && _options.TokenDelayMs > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(_options.TokenDelayMs), _timeProvider, cancellationToken).ConfigureAwait(false);
            }

            cancellationToken.ThrowIfCancellationRequested();
            first = false;
            yield return Update(reply, [chunk]);
        }

        cancellationToken.ThrowIfCancellationRequested();
        var last = Update(reply, [new UsageContent(reply.Usage)]);
        last.FinishReason = reply.FinishReason;
        yield return last;
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(ChatClientMetadata) ? _metadata
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private async Task<OfflineReply> AnswerAsync(IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        var conversation = OfflineConversation.From(messages);
        var now = _timeProvider.GetUtcNow();
        AIContent content;
        ChatFinishReason finishReason;

        if (OfflineToolPlanner.Plan(conversation, options, now) is { } call)
        {
            content = call;
            finishReason = ChatFinishReason.ToolCalls;
        }
        else if (options?.ResponseFormat is ChatResponseFormatJson json)
        {
            content = new TextContent(await StructuredAnswerAsync(conversation, json, now, cancellationToken).ConfigureAwait(false));
            finishReason = ChatFinishReason.Stop;
        }
        else
        {
            var similarity = await MemorySimilarityAsync(conversation, cancellationToken).ConfigureAwait(false);
            var answer = OfflineAnswerComposer.Compose(conversation, similarity);
            finishReason = ChatFinishReason.Stop;

            // Honour a token cap the way a real model does: cut the answer and say so in the finish reason.
            if (options?.MaxOutputTokens is { } maxTokens && TokenCounter.Count(answer) > maxTokens)
            {
                answer = answer[..Math.Max(1, Math.Min(answer.Length, maxTokens * 4))];
                finishReason = ChatFinishReason.Length;
            }

            content = new TextContent(answer);
        }

        var input = Math.Max(1, TokenCounter.Count(conversation.Messages));
        var output = Math.Max(1, TokenCounter.Count(LlmContent.ToPromptText(content)));
        var usage = new UsageDetails { InputTokenCount = input, OutputTokenCount = output, TotalTokenCount = input + output };
        var id = Guid.NewGuid().ToString("N");
        return new OfflineReply("offline-" + id, "msg-" + id, now, content, finishReason, usage);
    }

    // Cosine similarity of the question to each injected memory (same order), or null without an embedder.
    private async Task<IReadOnlyList<double>?> MemorySimilarityAsync(OfflineConversation conversation, CancellationToken cancellationToken)
    {
        if (_embedder is null || conversation.Memories.Count == 0 || string.IsNullOrWhiteSpace(conversation.UserText))
        {
            return null;
        }
        var vectors = await _embedder.GenerateAsync([conversation.UserText, .. conversation.Memories.Select(m => m.Text)], cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        var question = vectors[0].Vector;
        return [.. vectors.Skip(1).Select(v => (double)OfflineEmbeddingGenerator.CosineSimilarity(question.Span, v.Vector.Span))];
    }

    private async Task<string> StructuredAnswerAsync(OfflineConversation conversation, ChatResponseFormatJson format, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (format.Schema is not { } schema)
        {
            // JSON mode without a schema: any object will do, so wrap the ordinary answer.
            return new JsonObject { ["answer"] = OfflineAnswerComposer.Compose(conversation, null) }.ToJsonString();
        }

        JsonNode? node = null;
        if (format.SchemaName is { } name && _responders.TryGetValue(name, out var responder))
        {
            node = await responder.RespondAsync(new OfflineStructuredRequest
            {
                SchemaName = name,
                Schema = schema,
                Messages = conversation.Messages,
                UserText = conversation.UserText,
                SystemTexts = conversation.SystemTexts,
                Memories = conversation.Memories,
                Sources = conversation.Sources,
                Now = now,
            }, cancellationToken).ConfigureAwait(false);

            if (node is not null)
            {
                var errors = JsonSchemaValidator.Validate(schema, JsonSerializer.SerializeToElement(node, AIJsonUtilities.DefaultOptions));
                if (errors.Count > 0)
                {
                    throw new InvalidOperationException(
                        $"Offline responder {responder.GetType().Name} returned JSON that does not match schema '{name}': {string.Join(" ", errors)}");
                }
            }
        }

        node ??= new OfflineJsonFiller(conversation.UserText, now).Fill(schema, schema);
        return node?.ToJsonString() ?? "null";
    }

    private static ChatResponseUpdate Update(OfflineReply reply, IList<AIContent> contents) => new(ChatRole.Assistant, contents)
    {
        ResponseId = reply.ResponseId,
        MessageId = reply.MessageId,
        ModelId = OfflineModels.ChatModelId,
        CreatedAt = reply.CreatedAt,
    };

    // Word-sized chunks with their trailing whitespace, so concatenating the chunks gives the answer back exactly.
    internal static IEnumerable<string> Chunk(string text)
    {
        var start = 0;
        while (start < text.Length)
        {
            var end = start;
            while (end < text.Length && !char.IsWhiteSpace(text[end]))
            {
                end++;
            }

            while (end < text.Length && char.IsWhiteSpace(text[end]))
            {
                end++;
            }

            yield return text[start..end];
            start = end;
        }
    }

    private sealed record OfflineReply(
        string ResponseId, string MessageId, DateTimeOffset CreatedAt, AIContent Content, ChatFinishReason FinishReason, UsageDetails Usage);
}
