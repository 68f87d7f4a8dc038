using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace AspireAi.Tests.Llm;

// An in-memory model: each call is answered by the next scripted function (the last one repeats), and every call's
// messages and options are recorded so tests can check what the model was shown.
internal sealed class ScriptedChatClient(params Func<IReadOnlyList<ChatMessage>, ChatOptions?, ChatResponse>[] script) : IChatClient
{
    private readonly List<(IReadOnlyList<ChatMessage> Messages, ChatOptions? Options)> _calls = [];
    private int _next;

    public string ModelId { get; init; } = "scripted-model";

    public IReadOnlyList<(IReadOnlyList<ChatMessage> Messages, ChatOptions? Options)> Calls
    {
        get
        {
            lock (_calls)
            {
                return [.. _calls];
            }
        }
    }

    public static ChatResponse Reply(string text, long input = 10, long output = 5) =>
        new(new ChatMessage(ChatRole.Assistant, text))
        {
            ModelId = "scripted-model",
            ResponseId = Guid.NewGuid().ToString("N"),
            FinishReason = ChatFinishReason.Stop,
            Usage = new UsageDetails { InputTokenCount = input, OutputTokenCount = output, TotalTokenCount = input + output },
        };

    public static ChatResponse ToolCalls(params FunctionCallContent[] calls) =>
        new(new ChatMessage(ChatRole.Assistant, [.. calls]))
        {
            ModelId = "scripted-model",
            ResponseId = Guid.NewGuid().ToString("N"),
            FinishReason = ChatFinishReason.ToolCalls,
            Usage = new UsageDetails { InputTokenCount = 20, OutputTokenCount = 7, TotalTokenCount = 27 },
        };

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.FromResult(Next(messages, options));

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var response = Next(messages, options);
        foreach (var update in response.ToChatResponseUpdates())
        {
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            yield return update;
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("scripted", null, ModelId) : null;

    public void Dispose()
    {
    }

    private ChatResponse Next(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        lock (_calls)
        {
            var snapshot = messages.Select(m => m.Clone()).ToList();
            _calls.Add((snapshot, options));
            var step = script[Math.Min(_next++, script.Length - 1)];
            return step(snapshot, options);
        }
    }
}
