using static AspireAi.Web.ApiClients.ApiResponses;

namespace AspireAi.Web.ApiClients;

// The Api's conversation endpoints, called as the signed-in user: ApiBearerTokenHandler adds the user's
// access token (refreshing it when needed), the defaults add discovery of "http://api" and resilience.
internal sealed class ApiClient(HttpClient http, TimeProvider time)
{
    // With search, only the conversations whose title or messages contain it.
    public async Task<ApiPage<Conversation>> GetConversationsAsync(string? cursor, int limit, CancellationToken cancellationToken, string? search = null)
    {
        using var response = await http.GetAsync(
            WithQuery("v1/conversations", ("cursor", cursor), ("limit", Invariant(limit)), ("q", search)), cancellationToken).ConfigureAwait(false);
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

    public async Task<Conversation> RenameConversationAsync(string id, string title, CancellationToken cancellationToken)
    {
        using var response = await http.PatchAsJsonAsync(
            $"v1/conversations/{Segment(id)}", new CreateConversationRequest(title), ApiJson.Options, cancellationToken).ConfigureAwait(false);
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

    // The user's thumbs on the answers of one conversation.
    public async Task<IReadOnlyList<MessageFeedback>> GetFeedbackAsync(string conversationId, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"v1/conversations/{Segment(conversationId)}/feedback", cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<List<MessageFeedback>>(time, cancellationToken).ConfigureAwait(false);
    }

    public async Task<MessageFeedback> SetFeedbackAsync(
        string conversationId, string messageId, string rating, string? comment, CancellationToken cancellationToken)
    {
        using var response = await http.PutAsJsonAsync(
            $"v1/conversations/{Segment(conversationId)}/messages/{Segment(messageId)}/feedback",
            new FeedbackRequest(rating, comment), ApiJson.Options, cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<MessageFeedback>(time, cancellationToken).ConfigureAwait(false);
    }

    public async Task DeleteFeedbackAsync(string conversationId, string messageId, CancellationToken cancellationToken)
    {
        using var response = await http.DeleteAsync(
            $"v1/conversations/{Segment(conversationId)}/messages/{Segment(messageId)}/feedback", cancellationToken).ConfigureAwait(false);
        await response.EnsureSuccessAsync(time, cancellationToken).ConfigureAwait(false);
    }
}
