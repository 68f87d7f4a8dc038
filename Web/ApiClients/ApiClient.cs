using static AspireAi.Web.ApiClients.ApiResponses;

namespace AspireAi.Web.ApiClients;

// The Api's conversation endpoints, called as the signed-in user: ApiBearerTokenHandler adds the user's
// access token (refreshing it when needed), the defaults add discovery of "http://api" and resilience.
internal sealed class ApiClient(HttpClient http, TimeProvider time)
{
    public async Task<ApiPage<Conversation>> GetConversationsAsync(string? cursor, int limit, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(
            WithQuery("v1/conversations", ("cursor", cursor), ("limit", Invariant(limit))), cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<ApiPage<Conversation>>(time, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Conversation> CreateConversationAsync(string? title, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync(
            "v1/conversations", new CreateConversationRequest(title), ApiJson.Options, cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<Conversation>(time, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Conversation> GetConversationAsync(string id, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"v1/conversations/{Segment(id)}", cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<Conversation>(time, cancellationToken).ConfigureAwait(false);
    }

    public async Task DeleteConversationAsync(string id, CancellationToken cancellationToken)
    {
        using var response = await http.DeleteAsync($"v1/conversations/{Segment(id)}", cancellationToken).ConfigureAwait(false);
        await response.EnsureSuccessAsync(time, cancellationToken).ConfigureAwait(false);
    }

    // Newest first; NextCursor pages to older messages.
    public async Task<ApiPage<ChatMessage>> GetMessagesAsync(string conversationId, string? before, int limit, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(
            WithQuery($"v1/conversations/{Segment(conversationId)}/messages", ("before", before), ("limit", Invariant(limit))),
            cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<ApiPage<ChatMessage>>(time, cancellationToken).ConfigureAwait(false);
    }

    public async Task<ChatMessage> GetMessageAsync(string conversationId, string messageId, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(
            $"v1/conversations/{Segment(conversationId)}/messages/{Segment(messageId)}", cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<ChatMessage>(time, cancellationToken).ConfigureAwait(false);
    }
}
