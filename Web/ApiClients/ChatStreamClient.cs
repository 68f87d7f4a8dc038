using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using static AspireAi.Web.ApiClients.ApiResponses;

namespace AspireAi.Web.ApiClients;

// Posting a chat message starts a generation on the Api, which can take minutes: this client has the LLM
// resilience profile (long timeouts) and, being a POST without an Idempotency-Key, is never replayed once
// it may have reached the Api. See AddApiClients for its connection settings.
internal sealed class ChatStreamClient(HttpClient http, TimeProvider time)
{
    public const string EventStreamMediaType = "text/event-stream";

    // Returns as soon as the Api's headers arrive; the caller owns (and must dispose) the response, whose
    // body is the SSE stream on success or a ProblemDetails otherwise.
    public async Task<HttpResponseMessage> OpenStreamAsync(string conversationId, string? content, CancellationToken cancellationToken)
    {
        using var request = CreateRequest(conversationId, content, EventStreamMediaType);
        return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
    }

    // The answer as it is written: deltas, tool calls, then done (or an error event). A refusal before the stream
    // starts (validation, budget, not found) throws ApiException; cancelling the token disposes the response,
    // which closes the connection and so stops the generation on the Api.
    public async IAsyncEnumerable<ChatStreamEvent> StreamAsync(
        string conversationId, string content, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var response = await OpenStreamAsync(conversationId, content, cancellationToken).ConfigureAwait(false);
        await response.EnsureSuccessAsync(time, cancellationToken).ConfigureAwait(false);
        if (response.Content.Headers.ContentType?.MediaType != EventStreamMediaType)
        {
            throw new ApiException(new ApiProblem(
                502, "The Api did not stream the answer.", null, null, null, new Dictionary<string, string[]>(), null));
        }

        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await foreach (var item in SseParser.Create(stream).EnumerateAsync(cancellationToken).ConfigureAwait(false))
        {
            ChatStreamEvent? parsed = item.EventType switch
            {
                "delta" => Deserialize<ChatStreamEvent.Delta>(item.Data),
                "tool_call" => Deserialize<ChatStreamEvent.ToolCall>(item.Data),
                "done" => Deserialize<ChatStreamEvent.Done>(item.Data),
                "error" => new ChatStreamEvent.Failed(ProblemFromEvent(item.Data)),
                // usage, tool_result and whatever a newer Api adds: nothing the page shows.
                _ => null,
            };
            if (parsed is not null)
            {
                yield return parsed;
            }

            if (parsed is ChatStreamEvent.Done or ChatStreamEvent.Failed)
            {
                yield break;
            }
        }
    }

    // The no-script path: waits for the whole answer.
    public async Task SendAsync(string conversationId, string content, CancellationToken cancellationToken)
    {
        using var request = CreateRequest(conversationId, content, "application/json");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        await response.EnsureSuccessAsync(time, cancellationToken).ConfigureAwait(false);

        // An Api that always streams still answers this request; read the stream to its end (leaving early
        // would cancel the generation) and surface an error event as a failure.
        if (response.Content.Headers.ContentType?.MediaType == EventStreamMediaType)
        {
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await foreach (var item in SseParser.Create(stream).EnumerateAsync(cancellationToken).ConfigureAwait(false))
            {
                if (item.EventType == "error")
                {
                    throw new ApiException(ProblemFromEvent(item.Data));
                }
            }
        }
        else
        {
            await response.Content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static HttpRequestMessage CreateRequest(string conversationId, string? content, string accept)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"v1/conversations/{Segment(conversationId)}/messages")
        {
            Content = JsonContent.Create(new SendMessageRequest(content), options: ApiJson.Options),
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
        return request;
    }

    private static ApiProblem ProblemFromEvent(string data)
    {
        try
        {
            var problem = JsonSerializer.Deserialize<ErrorEvent>(data, ApiJson.Options);
            return new ApiProblem(
                problem?.Status ?? 500, problem?.Title, problem?.Detail, problem?.Type, problem?.TraceId,
                new Dictionary<string, string[]>(), null);
        }
        catch (JsonException)
        {
            return new ApiProblem(502, "The answer failed.", null, null, null, new Dictionary<string, string[]>(), null);
        }
    }

    private static T Deserialize<T>(string data) where T : ChatStreamEvent =>
        JsonSerializer.Deserialize<T>(data, ApiJson.Options)
        ?? throw new ApiException(new ApiProblem(502, "The Api sent an empty event.", null, null, null, new Dictionary<string, string[]>(), null));

    private sealed record ErrorEvent(string? Type, string? Title, int? Status, string? Detail, string? TraceId);
}

/// <summary>What the chat page shows of a streamed answer.</summary>
public abstract record ChatStreamEvent
{
    public sealed record Delta(string Text) : ChatStreamEvent;

    public sealed record ToolCall(string Id, string Name) : ChatStreamEvent;

    public sealed record Done(
        string MessageId, string UserMessageId, string? Model, string? PromptName, string? PromptVersion,
        int? InputTokens, int? OutputTokens, decimal? Cost, string? TraceId, IReadOnlyList<ChatCitation>? Citations) : ChatStreamEvent;

    public sealed record Failed(ApiProblem Problem) : ChatStreamEvent;
}
