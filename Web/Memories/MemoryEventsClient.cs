using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using AspireAi.Web.ApiClients;
using static AspireAi.Web.ApiClients.ApiResponses;

namespace AspireAi.Web.Memories;

// The Api's GET /v1/memories/events as the signed-in user: a stream that stays open for as long as the page does,
// so its client has no timeout and no retries (see MemoriesUi); the panel reconnects itself.
internal sealed class MemoryEventsClient(HttpClient http, TimeProvider time)
{
    // Ready once subscribed, then a Changed per memory change; Unavailable (and the end) when the Api cannot push.
    // A refusal before the stream starts (401, 403) throws ApiException.
    public async IAsyncEnumerable<MemoryStreamEvent> StreamAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/memories/events");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(ChatStreamClient.EventStreamMediaType));
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        await response.EnsureSuccessAsync(time, cancellationToken).ConfigureAwait(false);
        if (response.Content.Headers.ContentType?.MediaType != ChatStreamClient.EventStreamMediaType)
        {
            yield return new MemoryStreamEvent.Unavailable("The Api did not open an event stream.");
            yield break;
        }

        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await foreach (var item in SseParser.Create(stream).EnumerateAsync(cancellationToken).ConfigureAwait(false))
        {
            switch (item.EventType)
            {
                case "ready":
                    yield return new MemoryStreamEvent.Ready();
                    break;
                case "memory" when Parse<MemoryStreamEvent.Changed>(item.Data) is { } changed:
                    yield return changed;
                    break;
                case "unavailable":
                    yield return new MemoryStreamEvent.Unavailable(Parse<UnavailableBody>(item.Data)?.Detail);
                    yield break;
            }
        }
        // The Api ended the stream without saying why (restarting, say): as good as unavailable.
        yield return new MemoryStreamEvent.Unavailable(null);
    }

    private static T? Parse<T>(string data) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(data, ApiJson.Options);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private sealed record UnavailableBody(string? Title, string? Detail);
}

/// <summary>What the memory panel hears from the Api's memory event stream.</summary>
public abstract record MemoryStreamEvent
{
    public sealed record Ready : MemoryStreamEvent;

    // Operation: add, update (MemoryId is the new version, PreviousId the old), delete or erase (no id).
    public sealed record Changed(string Operation, Guid? MemoryId, Guid? PreviousId, string? Scope) : MemoryStreamEvent;

    public sealed record Unavailable(string? Detail) : MemoryStreamEvent;
}
