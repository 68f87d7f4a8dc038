using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using AspireAi.Core.Data;
using AspireAi.Core.Encryption;
using AspireAi.Core.Llm;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Core.Chat;

/// <summary>Why a turn could not start; each maps to one 4xx answer before any byte of the stream is sent.</summary>
public enum ChatRejection
{
    None,
    ConversationNotFound,
    BudgetExceeded,
}

/// <summary>
/// A turn that is ready to stream: the user message is already stored, the assistant row is a placeholder. A turn
/// without a conversation (a client that keeps its own history, see <see cref="ChatService.PrepareClientTurnAsync"/>)
/// stores no messages: its outcome is only charged to the ledger.
/// </summary>
public sealed record ChatTurn(
    Guid UserId, Guid OrgId, Conversation? Conversation, Guid UserMessageId, Guid AssistantMessageId, string UserText,
    PromptVersion Prompt, IReadOnlyList<ChatMessage> Messages, ChatOptions Options,
    IReadOnlyList<Guid> MemoryIds, IReadOnlyList<Citation> Citations, string? TraceId, long StartedAt);

public sealed record ChatPreparation(ChatRejection Rejection, ChatTurn? Turn = null, DateTimeOffset? BudgetResetsAt = null, long TokensUsed = 0, long TokenBudget = 0);

/// <summary>
/// One chat exchange: store the user's message, build the prompt (system prompt version, history, context from
/// memory and documents, tools), stream the model's answer, and persist the outcome — complete, cancelled or
/// failed — with its usage, in one transaction together with the follow-up work observers enqueue.
/// </summary>
public sealed partial class ChatService(
    NpgsqlDataSource dataSource,
    FieldCipher cipher,
    UsageLedger ledger,
    PromptRollouts rollouts,
    IChatClient chatClient,
    IEnumerable<IChatContextProvider> contextProviders,
    IEnumerable<IChatToolProvider> toolProviders,
    IEnumerable<IChatExchangeObserver> observers,
    IOptions<ChatSettings> settings,
    IOptions<PricingSettings> pricing,
    MessageTokenCounts tokenCounts,
    ILogger<ChatService> logger,
    ExactResponseCache? responseCache = null,
    IEmbeddingGenerator<string, Embedding<float>>? embeddings = null)
{
    private static readonly ActivitySource Source = new("AspireAi.Chat");
    private static readonly TimeSpan ContextTimeout = TimeSpan.FromSeconds(3);
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> UnpricedModelsWarned = new(StringComparer.Ordinal);

    public async Task<ChatPreparation> PrepareAsync(Guid userId, Guid orgId, Guid conversationId, string content, CancellationToken cancellationToken)
    {
        using var activity = Source.StartActivity("chat.prepare");
        var options = settings.Value;
        var (dayStart, reset) = ledger.CurrentDay();
        PrefetchQueryEmbedding(content, cancellationToken);
        var state = await LoadTurnStateAsync(userId, conversationId, dayStart, options.SystemPromptName, cancellationToken).ConfigureAwait(false);
        if (state is null)
        {
            return new ChatPreparation(ChatRejection.ConversationNotFound);
        }
        var (conversation, userName, used, prompt, history) = state.Value;
        if (options.DailyTokenBudget > 0 && used >= options.DailyTokenBudget)
        {
            return new ChatPreparation(ChatRejection.BudgetExceeded, BudgetResetsAt: reset, TokensUsed: used, TokenBudget: options.DailyTokenBudget);
        }
        if (prompt is null)
        {
            throw new InvalidOperationException($"No active version of prompt '{options.SystemPromptName}'.");
        }
        // A running rollout may serve this user its candidate version instead (from the cache: no round trip).
        prompt = await rollouts.ChooseAsync(prompt, userId, cancellationToken).ConfigureAwait(false);

        var traceId = Activity.Current?.TraceId.ToString();
        var contextRequest = new ChatContextRequest(userId, orgId, conversation.AgentId, conversationId, content);
        var ((userMessageId, assistantMessageId), context) = await StoreAndGatherAsync(
            StoreUserMessageAsync(conversation, content, prompt, traceId, cancellationToken), contextRequest, cancellationToken).ConfigureAwait(false);

        var messages = StartPrompt(prompt, userName, context);
        messages.AddRange(history);
        messages.Add(new ChatMessage(ChatRole.User, content));

        var chatOptions = new ChatOptions
        {
            ModelId = prompt.Model,
            Temperature = prompt.Temperature,
            MaxOutputTokens = Math.Min(prompt.MaxTokens ?? options.MaxOutputTokens, options.MaxOutputTokens),
            Tools = options.EnableTools ? [.. toolProviders.SelectMany(p => p.GetTools(contextRequest))] : [],
            // Attribution for the pipeline (tool-call audit, logs); never sent to the model server.
            AdditionalProperties = new AdditionalPropertiesDictionary
            {
                [LlmRequestProperties.UserId] = userId.ToString(),
                [LlmRequestProperties.ConversationId] = conversationId.ToString(),
            },
        };

        var turn = new ChatTurn(userId, orgId, conversation, userMessageId, assistantMessageId, content, prompt, messages, chatOptions,
            [.. context.SelectMany(c => c.MemoryIds).Distinct()], [.. context.SelectMany(c => c.Citations).Distinct()],
            traceId, Stopwatch.GetTimestamp());
        return new ChatPreparation(ChatRejection.None, turn);
    }

    /// <summary>
    /// Streams the answer. Whatever ends the stream — completion, a provider error, the per-request timeout, or the
    /// caller going away (cancellation or abandoning the enumeration) — the assistant row is finalised exactly once.
    /// </summary>
    public async IAsyncEnumerable<ChatEvent> StreamAsync(ChatTurn turn, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(turn);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(settings.Value.RequestTimeoutSeconds));
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);

        var cacheKey = responseCache?.KeyFor(turn);
        if (cacheKey is not null && await responseCache!.GetAsync(cacheKey, linked.Token).ConfigureAwait(false) is { } cached)
        {
            // No provider call: the turn is stored like any other (observers included), with no usage and no ledger row,
            // since the ledger holds one row per provider call.
            var cost = await FinaliseAsync(turn, "complete", cached.Text, cached.Model, null, new { cachedResponse = true }, turn.Citations,
                CancellationToken.None).ConfigureAwait(false);
            LogCachedResponse(turn.Conversation?.Id);
            yield return new DeltaEvent(cached.Text);
            yield return new UsageEvent(0, 0);
            yield return new DoneEvent(turn.AssistantMessageId, turn.UserMessageId, cached.Model, turn.Prompt.Name, turn.Prompt.Version,
                0, 0, cost, turn.TraceId, turn.MemoryIds, turn.Citations);
            yield break;
        }

        var answer = new StringBuilder();
        var toolNames = new Dictionary<string, string>(StringComparer.Ordinal);
        var toolCalls = new List<object>();
        var citations = new CitationList(turn.Citations);
        long? inputTokens = null, outputTokens = null;
        string? model = null;
        var finalised = false;
        Exception? failure = null;

        var updates = chatClient.GetStreamingResponseAsync(turn.Messages, turn.Options, linked.Token).GetAsyncEnumerator(linked.Token);
        try
        {
            while (true)
            {
                ChatResponseUpdate update;
                try
                {
                    if (!await updates.MoveNextAsync().ConfigureAwait(false))
                    {
                        break;
                    }
                    update = updates.Current;
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    // The caller left: the finally block stores what we have as cancelled.
                    yield break;
                }
                catch (Exception ex) when (ex is not OperationCanceledException || timeout.IsCancellationRequested)
                {
                    failure = ex;
                    break;
                }

                model = update.ModelId ?? model;
                foreach (var item in update.Contents)
                {
                    switch (item)
                    {
                        case TextContent { Text.Length: > 0 } text:
                            answer.Append(text.Text);
                            yield return new DeltaEvent(text.Text);
                            break;
                        case FunctionCallContent call:
                            toolNames[call.CallId] = call.Name;
                            var arguments = JsonSerializer.SerializeToElement(call.Arguments ?? new Dictionary<string, object?>());
                            toolCalls.Add(new { id = call.CallId, name = call.Name, arguments });
                            yield return new ToolCallEvent(call.CallId, call.Name, arguments);
                            break;
                        case FunctionResultContent result:
                            var (resultText, isError) = Describe(result);
                            citations.AddFrom(turn.Options, toolNames.GetValueOrDefault(result.CallId), result);
                            yield return new ToolResultEvent(result.CallId, toolNames.GetValueOrDefault(result.CallId, ""), resultText, isError);
                            break;
                        case UsageContent usage:
                            // The tool loop reports one usage per model round; the exchange costs their sum.
                            inputTokens = (inputTokens ?? 0) + (usage.Details.InputTokenCount ?? 0);
                            outputTokens = (outputTokens ?? 0) + (usage.Details.OutputTokenCount ?? 0);
                            break;
                    }
                }
            }

            model ??= turn.Options.ModelId ?? "unknown";
            if (failure is not null)
            {
                var timedOut = timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested;
                await FinaliseAsync(turn, "failed", answer.ToString(), model, null,
                    new { error = timedOut ? "timeout" : failure.GetType().Name, toolCalls }, citations.Items, CancellationToken.None).ConfigureAwait(false);
                finalised = true;
                LogProviderFailure(failure, turn.Conversation?.Id, timedOut);
                yield return timedOut
                    ? new ErrorEvent(504, "The language model timed out",
                        $"No complete answer within {settings.Value.RequestTimeoutSeconds} s. The partial answer was kept.", "https://tools.ietf.org/html/rfc9110#section-15.6.5", turn.TraceId)
                    : new ErrorEvent(503, "The language model is unavailable",
                        "The answer could not be generated. Your message was saved; try again shortly.", "https://tools.ietf.org/html/rfc9110#section-15.6.4", turn.TraceId);
                yield break;
            }

            var estimated = inputTokens is null || outputTokens is null || inputTokens + outputTokens == 0;
            // A provider that reports no usage is charged by the count of its own model family's tokenizer.
            var input = (int)(estimated ? EstimateInput(turn, model) : inputTokens!.Value);
            var output = (int)(estimated ? TokenCounter.Count(answer.ToString(), model) : outputTokens!.Value);
            var cost = await FinaliseAsync(turn, "complete", answer.ToString(), model, (input, output, estimated),
                toolCalls.Count > 0 ? new { toolCalls } : null, citations.Items, CancellationToken.None).ConfigureAwait(false);
            finalised = true;
            if (cacheKey is not null && toolCalls.Count == 0 && answer.Length > 0)
            {
                await responseCache!.SetAsync(cacheKey, new CachedResponse(answer.ToString(), model), CancellationToken.None).ConfigureAwait(false);
            }
            yield return new UsageEvent(input, output);
            yield return new DoneEvent(turn.AssistantMessageId, turn.UserMessageId, model, turn.Prompt.Name, turn.Prompt.Version,
                input, output, cost, turn.TraceId, turn.MemoryIds, citations.Items);
        }
        finally
        {
            await updates.DisposeAsync().ConfigureAwait(false);
            if (!finalised)
            {
                // Disconnect mid-stream: keep the partial answer, and charge what the provider already produced.
                var partial = answer.ToString();
                var charged = model ?? turn.Options.ModelId ?? "unknown";
                await FinaliseAsync(turn, "cancelled", partial, charged,
                    (EstimateInput(turn, charged), TokenCounter.Count(partial, charged), true), new { cancelledBy = "client" }, citations.Items, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The answer's citations: the context providers' first, in their order, so that <c>[Sn]</c> in the prompt's sources
    /// block stays <c>citations[n-1]</c>; then passages that citing tools returned to the model, in the order they came
    /// back, each chunk once.
    /// </summary>
    private sealed class CitationList
    {
        private readonly List<Citation> _items = [];
        private readonly HashSet<Guid> _chunks = [];

        public CitationList(IEnumerable<Citation> fromContext)
        {
            foreach (var citation in fromContext)
            {
                Add(citation);
            }
        }

        public IReadOnlyList<Citation> Items => _items;

        public void AddFrom(ChatOptions options, string? toolName, FunctionResultContent result)
        {
            // Only tools this turn offered are asked, by the name the model called: a result is never read by a tool
            // other than the one that produced it.
            if (toolName is null || options.Tools?.FirstOrDefault(t => t.Name == toolName) is not ICitingTool tool)
            {
                return;
            }
            foreach (var citation in tool.CitationsIn(result))
            {
                Add(citation);
            }
        }

        private void Add(Citation citation)
        {
            if (_chunks.Add(citation.ChunkId))
            {
                _items.Add(citation);
            }
        }
    }

    private static (string Text, bool IsError) Describe(FunctionResultContent result) => result.Exception is { } ex
        ? (ex.Message, true)
        : (result.Result switch
        {
            null => "",
            string s => s,
            JsonElement e => e.GetRawText(),
            var other => JsonSerializer.Serialize(other),
        }, false);

    private static long EstimateInput(ChatTurn turn, string model) => turn.Messages.Sum(m => TokenCounter.Count(m.Text, model));

    private async Task<decimal> FinaliseAsync(ChatTurn turn, string status, string content, string model,
        (long Input, long Output, bool Estimated)? usage, object? metadata, IReadOnlyList<Citation> citations, CancellationToken cancellationToken)
    {
        var cost = usage is { } u ? pricing.Value.CostOf(model, (int)u.Input, (int)u.Output) : 0m;
        // Once per model and process: a missing price is a configuration gap to fix, not news on every turn.
        if (usage is not null && !pricing.Value.IsPriced(model) && UnpricedModelsWarned.TryAdd(model, 0))
        {
            LogUnpricedModel(model);
        }
        var latencyMs = (int)Stopwatch.GetElapsedTime(turn.StartedAt).TotalMilliseconds;

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        // The turn's own writes go in one round trip (the BEGIN with them); the observers' follow-up work after it.
        await using (var batch = new NpgsqlBatch(connection, tx))
        {
            NpgsqlBatchCommand? messageUpdate = null;
            if (turn.Conversation is { } conversation)
            {
                messageUpdate = await AddMessageUpdatesAsync(batch, turn, conversation, status, content, model, usage, cost, latencyMs, metadata, citations,
                    cancellationToken).ConfigureAwait(false);
            }
            if (usage is { } used)
            {
                // A turn without a conversation has no message row to point at.
                batch.BatchCommands.Add(UsageLedger.Command(new UsageEntry(turn.UserId, turn.OrgId, turn.Conversation?.Id,
                    turn.Conversation is null ? null : turn.AssistantMessageId, turn.TraceId, "chat", model, (int)used.Input, (int)used.Output, cost,
                    used.Estimated, turn.TraceId)));
            }
            if (status == "complete" && turn.Conversation is { } titled && ConversationTitles.Command(titled.Id, turn.UserText, content) is { } title)
            {
                batch.BatchCommands.Add(title);
            }
            if (batch.BatchCommands.Count > 0)
            {
                await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            if (messageUpdate is { RecordsAffected: not 1 })
            {
                return cost; // Already finalised (cannot happen twice, but never double-charge): the batch rolls back.
            }
        }
        if (status == "complete" && turn.Conversation is { } completedIn)
        {
            var completed = new ChatExchangeCompleted(turn.UserId, turn.OrgId, completedIn.AgentId, completedIn.Id,
                turn.UserMessageId, turn.AssistantMessageId, turn.UserText, content, turn.TraceId);
            foreach (var observer in observers)
            {
                await observer.OnCompletedAsync(completed, connection, tx, cancellationToken).ConfigureAwait(false);
            }
        }
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return cost;
    }

    // The assistant row's update and the conversation's preview; returns the row's update, which changes no row when
    // the turn was already finalised.
    private async Task<NpgsqlBatchCommand> AddMessageUpdatesAsync(NpgsqlBatch batch, ChatTurn turn, Conversation conversation, string status, string content,
        string model, (long Input, long Output, bool Estimated)? usage, decimal cost, int latencyMs, object? metadata, IReadOnlyList<Citation> citations,
        CancellationToken cancellationToken)
    {
        var key = await cipher.DataKeyAsync(conversation.OrgId, cancellationToken).ConfigureAwait(false);
        var sealedContent = FieldCipher.Seal(key, EncryptedField.MessageContent, content);
        var tokens = await cipher.TokensAsync(conversation.OrgId, content, cancellationToken).ConfigureAwait(false);
        var update = new NpgsqlBatchCommand("""
            UPDATE messages
            SET content = NULL, key_id = $12, content_ct = $2, content_bi = $13, status = $3, model = $4, input_tokens = $5, output_tokens = $6, cost = $7, latency_ms = $8,
                completed_at = now(), metadata = metadata || $9::jsonb, citations = $10::jsonb, memory_ids = $11
            WHERE id = $1 AND status = 'streaming'
            """);
        update.Parameters.Add(new() { Value = turn.AssistantMessageId });
        update.Parameters.Add(new() { Value = sealedContent.Ciphertext! });
        update.Parameters.Add(new() { Value = status });
        update.Parameters.Add(new() { Value = model });
        update.Parameters.Add(new() { Value = usage is { } a ? (int)a.Input : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        update.Parameters.Add(new() { Value = usage is { } b ? (int)b.Output : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        update.Parameters.Add(new() { Value = cost });
        update.Parameters.Add(new() { Value = latencyMs });
        update.Parameters.Add(new() { Value = JsonSerializer.Serialize(metadata ?? new { }) });
        // Even a partial (cancelled, failed) answer may already cite [S1]; its sources are stored with it.
        update.Parameters.Add(new() { Value = JsonSerializer.Serialize(citations, JsonSerializerOptions.Web) });
        update.Parameters.Add(new() { Value = turn.MemoryIds.ToArray() });
        update.Parameters.Add(new() { Value = key.Id });
        update.Parameters.Add(new() { Value = tokens, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Bytea });
        batch.BatchCommands.Add(update);
        if (content.Length > 0)
        {
            var preview = new NpgsqlBatchCommand("""
                UPDATE conversations
                SET last_message_preview = NULL, preview_key_id = $3, last_message_preview_ct = $2, last_message_at = now(), updated_at = now()
                WHERE id = $1
                """);
            preview.Parameters.Add(new() { Value = conversation.Id });
            preview.Parameters.Add(new() { Value = FieldCipher.Seal(key, EncryptedField.MessageContent, ConversationStore.Preview(content)).Ciphertext! });
            preview.Parameters.Add(new() { Value = key.Id });
            batch.BatchCommands.Add(preview);
        }
        return update;
    }

    /// <summary>
    /// Everything the turn needs from the database in one round trip: the conversation (owned by the caller), the
    /// caller's name, today's token use, the active prompt and the recent history. Time to first token is mostly
    /// round trips, so they are batched rather than issued one after another. Look-ups by key, planned once per
    /// connection (<see cref="PlanCache.GenericPlans"/>): PostgreSQL's own choice makes five plans per statement and
    /// pooled connection before it settles, and at a few turns a second, spread over the pool's connections, most
    /// calls were planned (0.9 plans a call at one stream, 60 % of the read's database time).
    /// </summary>
    private async Task<(Conversation Conversation, string UserName, long TokensToday, PromptVersion? Prompt, List<ChatMessage> History)?> LoadTurnStateAsync(
        Guid userId, Guid conversationId, DateTimeOffset dayStart, string promptName, CancellationToken cancellationToken)
    {
        var options = settings.Value;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection);
        var state = new NpgsqlBatchCommand($"""
            SELECT {Prefixed("c", ConversationStore.ConversationColumns)}, u.display_name,
                   (SELECT COALESCE(SUM(l.input_tokens + l.output_tokens), 0)::bigint FROM usage_ledger l WHERE l.user_id = $2 AND l.at >= $3),
                   {Prefixed("p", PromptStore.Columns)}
            FROM conversations c
            JOIN users u ON u.id = c.user_id
            LEFT JOIN prompts p ON p.name = $4 AND p.is_active
            WHERE c.id = $1 AND c.user_id = $2 AND c.deleted_at IS NULL
            """);
        state.Parameters.Add(new() { Value = conversationId });
        state.Parameters.Add(new() { Value = userId });
        state.Parameters.Add(new() { Value = dayStart });
        state.Parameters.Add(new() { Value = promptName });
        // The owner filter again: history is never read for a conversation that is not the caller's.
        var history = new NpgsqlBatchCommand("""
            SELECT m.role, m.content, m.key_id, m.content_ct, m.id FROM messages m
            WHERE m.conversation_id = $1 AND m.status = 'complete' AND m.role IN ('user', 'assistant')
              AND EXISTS (SELECT 1 FROM conversations c WHERE c.id = $1 AND c.user_id = $2 AND c.deleted_at IS NULL)
            ORDER BY m.sequence DESC
            LIMIT $3
            """);
        history.Parameters.Add(new() { Value = conversationId });
        history.Parameters.Add(new() { Value = userId });
        history.Parameters.Add(new() { Value = options.HistoryMaxMessages });
        PlanCache.AddOnGenericPlans(batch, state, history);

        // The reader starts at the first command that returns rows (BEGIN and SET return none).
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }
        var conversation = await ConversationStore.ReadConversationAsync(reader, cipher, cancellationToken).ConfigureAwait(false);
        const int next = ConversationStore.ConversationColumnCount;
        var userName = reader.GetString(next);
        var tokensToday = reader.GetInt64(next + 1);
        var prompt = reader.IsDBNull(next + 2) ? null : PromptStore.Read(reader, next + 2);

        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var newestFirst = new List<ChatMessage>();
        var budget = options.HistoryTokenBudget;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var id = reader.GetGuid(4);
            var text = await cipher.OpenAsync(ConversationStore.ReadContent(reader, 1, 2, 3), EncryptedField.MessageContent, id, cancellationToken)
                .ConfigureAwait(false);
            budget -= tokenCounts.Count(id, text, prompt?.Model);
            if (budget < 0)
            {
                break;
            }
            newestFirst.Add(new ChatMessage(reader.GetString(0) == "user" ? ChatRole.User : ChatRole.Assistant, text));
        }
        newestFirst.Reverse();
        return (conversation, userName, tokensToday, prompt, newestFirst);
    }

    private static string Prefixed(string alias, string columns) =>
        string.Join(", ", columns.Split(", ").Select(c => $"{alias}.{c}"));

    /// <summary>
    /// Stores the user's message and the assistant's placeholder in one statement, in one round trip (BEGIN, the
    /// statement on a plan made once per connection as for the state read, and COMMIT, which returns once the WAL is
    /// flushed). Bumping the counter row-locks the conversation, so concurrent sends get consecutive, unique sequences.
    /// </summary>
    private async Task<(Guid UserMessageId, Guid AssistantMessageId)> StoreUserMessageAsync(
        Conversation conversation, string content, PromptVersion prompt, string? traceId, CancellationToken cancellationToken)
    {
        var conversationId = conversation.Id;
        var key = await cipher.DataKeyAsync(conversation.OrgId, cancellationToken).ConfigureAwait(false);
        var tokens = await cipher.TokensAsync(conversation.OrgId, content, cancellationToken).ConfigureAwait(false);
        var userMessageId = Guid.CreateVersion7();
        var assistantMessageId = Guid.CreateVersion7();
        await using var batch = dataSource.CreateBatch();
        var command = new NpgsqlBatchCommand("""
            WITH allocated AS (
                UPDATE conversations
                SET message_count = message_count + 2, updated_at = now(), last_message_at = now(),
                    last_message_preview = NULL, preview_key_id = $8, last_message_preview_ct = $11
                WHERE id = $1
                RETURNING message_count
            )
            INSERT INTO messages (id, conversation_id, sequence, role, key_id, content_ct, content_bi, status, prompt_name, prompt_version, trace_id, completed_at)
            SELECT $2, $1, message_count - 1, 'user', $8, $3, $9, 'complete', NULL, NULL, $7, now() FROM allocated
            UNION ALL
            SELECT $4, $1, message_count, 'assistant', $8, $10, '{}', 'streaming', $5, $6, $7, NULL FROM allocated
            """);
        command.Parameters.Add(new() { Value = conversationId });
        command.Parameters.Add(new() { Value = userMessageId });
        command.Parameters.Add(new() { Value = FieldCipher.Seal(key, EncryptedField.MessageContent, content).Ciphertext! });
        command.Parameters.Add(new() { Value = assistantMessageId });
        command.Parameters.Add(new() { Value = prompt.Name });
        command.Parameters.Add(new() { Value = prompt.Version });
        command.Parameters.Add(new() { Value = (object?)traceId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = key.Id });
        command.Parameters.Add(new() { Value = tokens, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Bytea });
        command.Parameters.Add(new() { Value = FieldCipher.Seal(key, EncryptedField.MessageContent, "").Ciphertext! });
        command.Parameters.Add(new() { Value = FieldCipher.Seal(key, EncryptedField.MessageContent, ConversationStore.Preview(content)).Ciphertext! });
        PlanCache.AddOnGenericPlans(batch, command);
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        if (command.RecordsAffected != 2)
        {
            throw new InvalidOperationException($"Conversation {conversationId} vanished while storing a message.");
        }
        return (userMessageId, assistantMessageId);
    }

    /// <summary>
    /// Starts embedding the question now, beside the database work that comes first: the model run is the longest
    /// step before the first token. Memory and document retrieval embed the same text through the same cache
    /// (<see cref="Caching.CachingEmbeddingGenerator"/>), so they join this run in flight or find its vector. Without
    /// that cache they would embed it again, so nothing is started.
    /// </summary>
    private void PrefetchQueryEmbedding(string content, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(content) || embeddings?.GetService<Caching.CachingEmbeddingGenerator>() is not { } cached)
        {
            return;
        }
        // On the thread pool: an inference is synchronous CPU work and must not hold up the caller's first round trip.
        // A failure is left to the providers, which meet it again and degrade (it is only observed here).
        _ = Task.Run(() => cached.GenerateAsync([content], cancellationToken: cancellationToken), cancellationToken)
            .ContinueWith(static t => t.Exception, CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>
    /// Waits for the user's message to be stored while the context is gathered: retrieval does not read the message,
    /// and the provider is called only after both, so the message is still durable before the model sees it.
    /// </summary>
    private async Task<(T Stored, List<ChatContextBlock> Context)> StoreAndGatherAsync<T>(Task<T> store, ChatContextRequest request,
        CancellationToken cancellationToken)
    {
        var context = GatherContextAsync(request, cancellationToken);
        await Task.WhenAll(store, context).ConfigureAwait(false);
        return (await store.ConfigureAwait(false), await context.ConfigureAwait(false));
    }

    /// <summary>The system prompt, with the data policy, and the retrieved context as data: user-role envelopes, never system text (see LlmPromptBlocks).</summary>
    private static List<ChatMessage> StartPrompt(PromptVersion prompt, string userName, List<ChatContextBlock> context)
    {
        var messages = new List<ChatMessage>
        {
            new(ChatRole.System, prompt.Render(new Dictionary<string, string>
            {
                ["date"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                ["user_name"] = userName,
            }) + "\n\n" + LlmPromptBlocks.DataPolicy),
        };
        messages.AddRange(context.Select(c => LlmPromptBlocks.Data(c.Text)));
        return messages;
    }

    private async Task<List<ChatContextBlock>> GatherContextAsync(ChatContextRequest request, CancellationToken cancellationToken)
    {
        var tasks = contextProviders.Select(async provider =>
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(ContextTimeout);
            try
            {
                return await provider.GetContextAsync(request, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // Memory or documents being unavailable degrades the answer; it must not fail the chat.
                LogContextProviderFailed(ex, provider.Name);
                return null;
            }
        });
        var blocks = await Task.WhenAll(tasks).ConfigureAwait(false);
        return [.. blocks.OfType<ChatContextBlock>()];
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Context provider {Provider} failed; answering without it")]
    private partial void LogContextProviderFailed(Exception exception, string provider);

    [LoggerMessage(Level = LogLevel.Error, Message = "Chat provider failed for conversation {ConversationId} (timeout: {TimedOut})")]
    private partial void LogProviderFailure(Exception exception, Guid? conversationId, bool timedOut);

    [LoggerMessage(Level = LogLevel.Information, Message = "Answered from the exact-response cache in conversation {ConversationId}")]
    private partial void LogCachedResponse(Guid? conversationId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model {Model} has no price in Pricing:Models; its calls are recorded at cost 0")]
    private partial void LogUnpricedModel(string model);
}
