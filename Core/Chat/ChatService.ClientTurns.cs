using System.Diagnostics;
using System.Globalization;
using AspireAi.Core.Llm;
using Microsoft.Extensions.AI;

namespace AspireAi.Core.Chat;

/// <summary>
/// A turn whose history the client sends itself (the OpenAI-compatible API): <paramref name="Messages"/> are the
/// client's messages in order (system, user, assistant with tool calls, tool results). <paramref name="ConversationId"/>
/// names a conversation of the caller to persist the exchange into; without one the exchange is only charged.
/// <paramref name="Configure"/> adjusts the options (client tools, response format, temperature, token cap) after the
/// project's tools are set; the token cap stays within <see cref="ChatSettings.MaxOutputTokens"/>.
/// </summary>
public sealed record ClientTurnRequest(
    Guid UserId, Guid OrgId, Guid? ConversationId, IReadOnlyList<ChatMessage> Messages, Action<ChatOptions>? Configure = null);

public sealed partial class ChatService
{
    /// <summary>
    /// Prepares a <see cref="ClientTurnRequest"/> like <see cref="PrepareAsync"/> prepares a native one: the same budget
    /// check, system prompt, memory and document context (for the text of the client's last user message) and tools;
    /// the client's messages take the place of the stored history.
    /// </summary>
    public async Task<ChatPreparation> PrepareClientTurnAsync(ClientTurnRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var activity = Source.StartActivity("chat.prepare");
        var options = settings.Value;
        var (dayStart, reset) = ledger.CurrentDay();
        var query = request.Messages.LastOrDefault(m => m.Role == ChatRole.User)?.Text ?? "";
        PrefetchQueryEmbedding(query, cancellationToken);
        Conversation? conversation = null;
        string userName;
        long used;
        PromptVersion? prompt;
        if (request.ConversationId is { } conversationId)
        {
            // The same owner check as native chat; the stored history is not used, the client sent its own.
            if (await LoadTurnStateAsync(request.UserId, conversationId, dayStart, options.SystemPromptName, cancellationToken).ConfigureAwait(false) is not { } state)
            {
                return new ChatPreparation(ChatRejection.ConversationNotFound);
            }
            (conversation, userName, used, prompt, _) = state;
        }
        else
        {
            (userName, used, prompt) = await LoadCallerStateAsync(request.UserId, dayStart, options.SystemPromptName, cancellationToken).ConfigureAwait(false);
        }
        if (options.DailyTokenBudget > 0 && used >= options.DailyTokenBudget)
        {
            return new ChatPreparation(ChatRejection.BudgetExceeded, BudgetResetsAt: reset, TokensUsed: used, TokenBudget: options.DailyTokenBudget);
        }
        if (prompt is null)
        {
            throw new InvalidOperationException($"No active version of prompt '{options.SystemPromptName}'.");
        }
        prompt = await rollouts.ChooseAsync(prompt, request.UserId, cancellationToken).ConfigureAwait(false);

        var traceId = Activity.Current?.TraceId.ToString();
        var fresh = (User: Guid.CreateVersion7(), Assistant: Guid.CreateVersion7());
        // Without a conversation there is no session: a fresh id matches no session memory.
        var contextRequest = new ChatContextRequest(request.UserId, request.OrgId, conversation?.AgentId ?? "default", conversation?.Id ?? fresh.User, query);
        var ((userMessageId, assistantMessageId), context) = await StoreAndGatherAsync(
            conversation is null ? Task.FromResult(fresh) : StoreUserMessageAsync(conversation, query, prompt, traceId, cancellationToken),
            contextRequest, cancellationToken).ConfigureAwait(false);

        var messages = StartPrompt(prompt, userName, context);
        messages.AddRange(request.Messages);

        var chatOptions = new ChatOptions
        {
            ModelId = prompt.Model,
            Temperature = prompt.Temperature,
            MaxOutputTokens = Math.Min(prompt.MaxTokens ?? options.MaxOutputTokens, options.MaxOutputTokens),
            Tools = options.EnableTools ? [.. toolProviders.SelectMany(p => p.GetTools(contextRequest))] : [],
            AdditionalProperties = new AdditionalPropertiesDictionary { [LlmRequestProperties.UserId] = request.UserId.ToString() },
        };
        if (conversation is not null)
        {
            chatOptions.AdditionalProperties[LlmRequestProperties.ConversationId] = conversation.Id.ToString();
        }
        request.Configure?.Invoke(chatOptions);
        chatOptions.MaxOutputTokens = Math.Min(chatOptions.MaxOutputTokens ?? options.MaxOutputTokens, options.MaxOutputTokens);

        var turn = new ChatTurn(request.UserId, request.OrgId, conversation, userMessageId, assistantMessageId, query, prompt, messages, chatOptions,
            [.. context.SelectMany(c => c.MemoryIds).Distinct()], [.. context.SelectMany(c => c.Citations).Distinct()],
            traceId, Stopwatch.GetTimestamp());
        return new ChatPreparation(ChatRejection.None, turn);
    }

    // The caller's name, today's token use and the active prompt, for a turn without a conversation.
    private async Task<(string UserName, long TokensToday, PromptVersion? Prompt)> LoadCallerStateAsync(
        Guid userId, DateTimeOffset dayStart, string promptName, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT u.display_name,
                   (SELECT COALESCE(SUM(l.input_tokens + l.output_tokens), 0)::bigint FROM usage_ledger l WHERE l.user_id = $1 AND l.at >= $2),
                   {Prefixed("p", PromptStore.Columns)}
            FROM users u
            LEFT JOIN prompts p ON p.name = $3 AND p.is_active
            WHERE u.id = $1
            """);
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = dayStart });
        command.Parameters.Add(new() { Value = promptName });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"The authenticated user {userId} does not exist.");
        }
        return (reader.GetString(0), reader.GetInt64(1), reader.IsDBNull(2) ? null : PromptStore.Read(reader, 2));
    }
}
