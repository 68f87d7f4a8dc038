using System.ClientModel;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.AI;
using OpenAI.Chat;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using OpenAiChatClientCore = OpenAI.Chat.ChatClient;

namespace AspireAi.Core.Llm.OpenAi;

/// <summary>
/// <see cref="IChatClient"/> over the OpenAI .NET SDK's chat-completions client, for OpenAI, Azure OpenAI's v1
/// endpoint and OpenAI-compatible servers (Ollama, vLLM ...). Streamed tool-call deltas are assembled by their
/// index, so parallel calls never merge; streamed requests ask for usage (<c>stream_options.include_usage</c>,
/// which the SDK always sends) and the final chunk's usage becomes a <see cref="UsageContent"/>. Failures reported
/// by the server surface as <see cref="LlmProviderException"/> with the status code and Retry-After hint after the
/// HttpClient's resilience handler has spent its retries.
/// </summary>
public sealed class OpenAiChatClient : IChatClient
{
    private readonly OpenAiConnection _connection;
    private readonly string _model;
    private readonly int? _defaultMaxOutputTokens;
    private readonly ChatClientMetadata _metadata;
    private readonly ConcurrentDictionary<string, OpenAiChatClientCore> _clients = new(StringComparer.Ordinal);

    /// <summary>Creates the client.</summary>
    /// <param name="provider">Server, model and key (<see cref="LlmProvider.Offline"/> is not accepted).</param>
    /// <param name="httpClient">Client with the <c>llm</c> resilience handler, from IHttpClientFactory.</param>
    /// <param name="defaultMaxOutputTokens">Cap on generated tokens when a request sets none.</param>
    /// <param name="networkTimeout">Longest wait for a non-streamed body or between two streamed chunks.</param>
    public OpenAiChatClient(LlmProviderOptions provider, HttpClient httpClient, int? defaultMaxOutputTokens = null, TimeSpan? networkTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(provider);
        _connection = new OpenAiConnection(provider, httpClient, networkTimeout);
        _model = provider.ResolveChatModel();
        _defaultMaxOutputTokens = defaultMaxOutputTokens;
        _metadata = new ChatClientMetadata(_connection.ProviderName, _connection.Endpoint, _model);
    }

    /// <inheritdoc />
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AiChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var model = options?.ModelId ?? _model;
        var client = ClientFor(model);
        var request = OpenAiMapping.ToOpenAi(messages, options?.Instructions);
        var settings = OpenAiMapping.ToOpenAi(options, _defaultMaxOutputTokens);
        try
        {
            var completion = await client.CompleteChatAsync(request, settings, cancellationToken).ConfigureAwait(false);
            return OpenAiMapping.FromOpenAi(completion.Value);
        }
        catch (ClientResultException exception)
        {
            throw OpenAiConnection.Wrap(exception, model);
        }
        catch (OperationCanceledException exception) when (!cancellationToken.IsCancellationRequested)
        {
            throw NetworkTimeout(model, exception);
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<AiChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var model = options?.ModelId ?? _model;
        var client = ClientFor(model);
        var request = OpenAiMapping.ToOpenAi(messages, options?.Instructions);
        var settings = OpenAiMapping.ToOpenAi(options, _defaultMaxOutputTokens);

        // Tool calls arrive as deltas keyed by index: id and name in the first, argument fragments after, and
        // the deltas of parallel calls interleave. Each index gets its own builder, emitted when the choice ends.
        var toolCalls = new SortedDictionary<int, ToolCallBuilder>();
        string? responseId = null;
        string? modelId = null;
        DateTimeOffset? createdAt = null;

        var updates = client.CompleteChatStreamingAsync(request, settings, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                StreamingChatCompletionUpdate chunk;
                try
                {
                    if (!await updates.MoveNextAsync().ConfigureAwait(false))
                    {
                        break;
                    }

                    chunk = updates.Current;
                }
                catch (ClientResultException exception)
                {
                    throw OpenAiConnection.Wrap(exception, model);
                }
                catch (OperationCanceledException exception) when (!cancellationToken.IsCancellationRequested)
                {
                    throw NetworkTimeout(model, exception);
                }

                responseId ??= chunk.CompletionId;
                modelId = string.IsNullOrEmpty(chunk.Model) ? modelId : chunk.Model;
                createdAt ??= chunk.CreatedAt == default ? null : chunk.CreatedAt;

                var update = new ChatResponseUpdate
                {
                    Role = OpenAiMapping.FromOpenAi(chunk.Role),
                    ResponseId = responseId,
                    MessageId = responseId,
                    ModelId = modelId,
                    CreatedAt = createdAt,
                    RawRepresentation = chunk,
                };

                foreach (var part in chunk.ContentUpdate)
                {
                    if (part.Kind == ChatMessageContentPartKind.Text && !string.IsNullOrEmpty(part.Text))
                    {
                        update.Contents.Add(new TextContent(part.Text));
                    }
                }

                if (!string.IsNullOrEmpty(chunk.RefusalUpdate))
                {
                    update.Contents.Add(new TextContent(chunk.RefusalUpdate));
                }

                foreach (var delta in chunk.ToolCallUpdates)
                {
                    if (!toolCalls.TryGetValue(delta.Index, out var builder))
                    {
                        toolCalls[delta.Index] = builder = new ToolCallBuilder();
                    }

                    builder.Add(delta);
                }

                if (chunk.FinishReason is { } finishReason)
                {
                    update.FinishReason = OpenAiMapping.FromOpenAi(finishReason);
                    Flush(toolCalls, update.Contents);
                }

                if (chunk.Usage is { } usage)
                {
                    update.Contents.Add(new UsageContent(OpenAiMapping.FromOpenAi(usage)));
                }

                if (update.Contents.Count > 0 || update.FinishReason is not null || update.Role is not null)
                {
                    yield return update;
                }
            }
        }
        finally
        {
            await updates.DisposeAsync().ConfigureAwait(false);
        }

        // A server that ends the stream without a finish_reason still gets its tool calls delivered.
        if (toolCalls.Count > 0)
        {
            var last = new ChatResponseUpdate { Role = ChatRole.Assistant, ResponseId = responseId, MessageId = responseId, ModelId = modelId, CreatedAt = createdAt };
            Flush(toolCalls, last.Contents);
            last.FinishReason = Microsoft.Extensions.AI.ChatFinishReason.ToolCalls;
            yield return last;
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(ChatClientMetadata) ? _metadata
            : serviceType == typeof(OpenAiChatClientCore) ? ClientFor(_model)
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private OpenAiChatClientCore ClientFor(string model) => _clients.GetOrAdd(model, _connection.CreateChatClient);

    private static TimeoutException NetworkTimeout(string model, Exception inner) =>
        new($"Model '{model}' did not answer within Llm:RequestTimeout.", inner);

    private static void Flush(SortedDictionary<int, ToolCallBuilder> toolCalls, IList<AIContent> contents)
    {
        foreach (var builder in toolCalls.Values)
        {
            contents.Add(OpenAiMapping.ParseCall(builder.Id ?? string.Empty, builder.Name ?? string.Empty, builder.Arguments.ToString()));
        }

        toolCalls.Clear();
    }

    private sealed class ToolCallBuilder
    {
        public string? Id { get; private set; }
        public string? Name { get; private set; }
        public StringBuilder Arguments { get; } = new();

        public void Add(StreamingChatToolCallUpdate delta)
        {
            Id ??= string.IsNullOrEmpty(delta.ToolCallId) ? null : delta.ToolCallId;
            Name ??= string.IsNullOrEmpty(delta.FunctionName) ? null : delta.FunctionName;
            if (delta.FunctionArgumentsUpdate is { } fragment && !fragment.IsEmpty)
            {
                Arguments.Append(fragment.ToString());
            }
        }
    }
}
