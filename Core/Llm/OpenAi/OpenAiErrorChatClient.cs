using System.ClientModel;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace AspireAi.Core.Llm.OpenAi;

// The SDK throws its own ClientResultException; callers (and the fallback step) get LlmProviderException with the
// status and Retry-After hint instead, so nothing above the provider factory depends on the vendor SDK. A network
// timeout (Llm:RequestTimeout) is a TimeoutException, never a cancellation the caller did not ask for.
internal sealed class OpenAiErrorChatClient(IChatClient innerClient, string model) : DelegatingChatClient(innerClient)
{
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        try
        {
            return await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (Translate(exception, options, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var updates = base.GetStreamingResponseAsync(messages, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                try
                {
                    if (!await updates.MoveNextAsync().ConfigureAwait(false))
                    {
                        yield break;
                    }
                }
                catch (Exception exception) when (Translate(exception, options, cancellationToken) is { } translated)
                {
                    throw translated;
                }

                yield return updates.Current;
            }
        }
        finally
        {
            await updates.DisposeAsync().ConfigureAwait(false);
        }
    }

    private Exception? Translate(Exception exception, ChatOptions? options, CancellationToken cancellationToken) => exception switch
    {
        ClientResultException result => OpenAiProvider.Wrap(result, options?.ModelId ?? model),
        OperationCanceledException when !cancellationToken.IsCancellationRequested =>
            new TimeoutException($"Model '{options?.ModelId ?? model}' did not answer within Llm:RequestTimeout.", exception),
        _ => null,
    };
}
