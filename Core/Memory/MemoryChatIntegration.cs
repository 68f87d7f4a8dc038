using System.Diagnostics;
using System.Text.RegularExpressions;
using AspireAi.Core.Chat;
using AspireAi.Core.Common;
using AspireAi.Core.Jobs;
using AspireAi.Core.Llm;
using AspireAi.Core.RetrievalQuality;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;

namespace AspireAi.Core.Memory;

/// <summary>
/// Injects memories before every chat completion: the best-scoring memories of the user, the conversation's agent,
/// the organisation and the conversation's session (the conversation id is the session id), above
/// <see cref="MemoryOptions.MinScoreFor"/> the embedding model, chosen greedily until <see cref="MemoryOptions.TokenBudget"/> is spent, as a
/// <c>## Memories</c> system block (<see cref="LlmPromptBlocks"/>). The ids used go to the chat's <c>done</c> event;
/// their use is counted (last_accessed_at, access_count), mostly just after the turn (<see cref="MemoryAccessRecorder"/>).
/// </summary>
public sealed partial class MemoryContextProvider(
    MemoryRetriever retriever, MemoryStore store, MemoryAccessRecorder accessRecorder, MemoryMetrics metrics, ContentScreen screen,
    IOptions<MemoryOptions> options, ILogger<MemoryContextProvider> logger,
    RetrievalQualityRecorder? quality = null)
    : IChatContextProvider
{
    public string Name => "memory";

    public async Task<ChatContextBlock?> GetContextAsync(ChatContextRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var settings = options.Value;
        if (!settings.InjectIntoChat || string.IsNullOrWhiteSpace(request.Query))
        {
            return null;
        }
        var started = Stopwatch.GetTimestamp();
        var result = await retriever.SearchAsync(new MemoryQuery(request.UserId, request.OrgId, request.Query, Math.Max(settings.CandidatesPerRetriever, 10),
            new HashSet<MemoryScope>(), new HashSet<MemoryType>(), request.AgentId, SessionIdOf(request.ConversationId)), cancellationToken).ConfigureAwait(false);

        IEnumerable<ScoredMemory> ranked = result.Items.Where(m => m.Score >= settings.MinScoreFor(result.EmbeddingModel));
        // Quality of the search itself: its best semantic similarity, and whether it found candidates of which none is
        // good enough (low confidence). The profile fallback below is not retrieval and does not count.
        var scored = result.Items.Where(m => m.Breakdown.Semantic > 0).ToList();
        quality?.Record(RetrievalSources.Memory, scored.Count == 0 ? null : scored.Max(m => m.Breakdown.Semantic),
            result.Items.Count > 0 && !ranked.Any());
        if (AsksAboutTheUser(request.Query))
        {
            // "What do you know about me?" resembles no memory in particular, yet every memory answers it: fall back
            // to the user's most important and most recently used ones.
            var profile = await retriever.ProfileAsync(request.UserId, request.OrgId, settings.CandidatesPerRetriever, cancellationToken).ConfigureAwait(false);
            ranked = ranked.Concat(profile).DistinctBy(m => m.Id);
        }
        // A memory is a statement about the user. One that reads as an instruction or a claim on the system (written
        // as given with infer=false, or from before the screen existed) is kept for the user to see but never shown to the model.
        ranked = ranked.Where(m => screen.IsTrustedFact(m.Text, "memory", "withheld"));
        var (text, chosen, tokens) = await SelectCurrentAsync([.. ranked], settings.TokenBudget, cancellationToken).ConfigureAwait(false);
        var elapsed = Stopwatch.GetElapsedTime(started);
        metrics.Retrieved(elapsed, "chat", chosen.Count, tokens);
        LogRetrieved(chosen.Count, result.Candidates, tokens, elapsed.TotalMilliseconds);
        return text is null ? null : new ChatContextBlock(text, [.. chosen.Select(m => m.Id)], []);
    }

    // Selects under the budget. Memories found in Postgres by this search are current; a session memory read from
    // Redis may not be (its row went while the mirror kept it). With one among the chosen, the uses are counted in one
    // statement that also says which are still current: a stale one is left out and the budget filled again from the
    // rest, at most twice. Without one, MemoryAccessRecorder writes the uses after the turn, off the path to the first
    // token; unless every use is to be written (AccessRecordInterval 0), which its merging of turns would undercount.
    private async Task<(string? Text, IReadOnlyList<ScoredMemory> Chosen, int Tokens)> SelectCurrentAsync(List<ScoredMemory> ranked, int tokenBudget,
        CancellationToken cancellationToken)
    {
        var selected = Select(ranked, tokenBudget);
        if (options.Value.AccessRecordInterval > TimeSpan.Zero && selected.Chosen.All(m => m.Scope != MemoryScope.Session))
        {
            accessRecorder.Record([.. selected.Chosen.Select(m => m.Id)]);
            return selected;
        }
        var marked = new HashSet<Guid>();
        var stale = new HashSet<Guid>();
        for (var pass = 0; ; pass++)
        {
            var unmarked = selected.Chosen.Select(m => m.Id).Where(id => !marked.Contains(id)).ToArray();
            var current = await store.MarkAccessedAsync(unmarked, options.Value.AccessRecordInterval, cancellationToken).ConfigureAwait(false);
            marked.UnionWith(current);
            var gone = unmarked.Where(id => !current.Contains(id)).ToArray();
            if (gone.Length == 0)
            {
                return selected;
            }
            LogStaleSkipped(gone.Length);
            stale.UnionWith(gone);
            if (pass == 2)
            {
                // Stop re-filling; what is left of this selection still fits the budget.
                return Select(selected.Chosen.Where(m => !stale.Contains(m.Id)), tokenBudget);
            }
            selected = Select(ranked.Where(m => !stale.Contains(m.Id)), tokenBudget);
        }
    }

    internal static bool AsksAboutTheUser(string query) => AboutTheUser().IsMatch(query);

    [GeneratedRegex(@"\b(?:about\s+(?:me|myself)|who\s+am\s+i|what\s+do\s+you\s+(?:know|remember)\s*(?:\?|$)|my\s+(?:profile|preferences|memories))",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex AboutTheUser();

    /// <summary>The session id of a conversation.</summary>
    public static string SessionIdOf(Guid conversationId) => conversationId.ToString("D");

    /// <summary>
    /// Greedy selection, best first: each memory that still fits the budget (counting the heading and instruction
    /// lines) goes in; one that does not is skipped, and smaller ones after it may still fit. Tokens: the block's count (0 without one).
    /// </summary>
    /// <remarks>
    /// Linear in the candidates: counting the whole block again for each of n candidates tokenized ~n blocks. A
    /// tokenizer's pre-tokens never reach past the next line break, so a line's cost is what it adds to the line before
    /// it (the instruction line for the first): the count of the two lines joined, less the earlier one's. The finished
    /// block is counted once more, and the last choices go until it fits, should that reasoning ever fail a tokenizer.
    /// </remarks>
    public static (string? Text, IReadOnlyList<ScoredMemory> Chosen, int Tokens) Select(IEnumerable<ScoredMemory> ranked, int tokenBudget)
    {
        ArgumentNullException.ThrowIfNull(ranked);
        var chosen = new List<ScoredMemory>();
        var items = new List<PromptBlockItem>();
        var tail = LlmPromptBlocks.Format(LlmPromptBlocks.MemoriesHeading, [], LlmPromptBlocks.MemoriesInstruction);
        var tailTokens = TokenCounter.Count(tail);
        var used = tailTokens;
        foreach (var memory in ranked)
        {
            var item = new PromptBlockItem(ShortId(memory.Id, items), memory.Text);
            var line = LlmPromptBlocks.Line(item);
            var cost = TokenCounter.Count(tail + "\n" + line) - tailTokens;
            if (used + cost > tokenBudget)
            {
                continue;
            }
            used += cost;
            items.Add(item);
            chosen.Add(memory);
            (tail, tailTokens) = (line, TokenCounter.Count(line));
        }
        for (; items.Count > 0; items.RemoveAt(items.Count - 1), chosen.RemoveAt(chosen.Count - 1))
        {
            var text = LlmPromptBlocks.Format(LlmPromptBlocks.MemoriesHeading, items, LlmPromptBlocks.MemoriesInstruction);
            var tokens = TokenCounter.Count(text);
            if (tokens <= tokenBudget)
            {
                return (text, chosen, tokens);
            }
        }
        return (null, chosen, 0);
    }

    // The last 8 hex digits of the id: the random part of a version-7 uuid, 3 tokens instead of 9 for the full id,
    // which matters under a 200-token budget. The full ids travel in the done event.
    private static string ShortId(Guid id, List<PromptBlockItem> taken)
    {
        var hex = id.ToString("N");
        var shortId = "m-" + hex[^8..];
        return taken.Any(t => t.Id == shortId) ? "m-" + hex : shortId;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Left out {Count} session memories that Redis still held but Postgres no longer has as current")]
    private partial void LogStaleSkipped(int count);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Injected {Count} memories of {Candidates} candidates ({Tokens} tokens) in {Milliseconds} ms")]
    private partial void LogRetrieved(int count, int candidates, int tokens, double milliseconds);
}

/// <summary>
/// Enqueues memory extraction inside the transaction that completes a chat exchange: the source row and its job
/// commit with the answer or not at all. A full job queue never fails the chat: the source stays 'pending' and the
/// memory.backlog job enqueues it later. A user who asked not to be remembered gets a 'skipped' source and no job.
/// </summary>
/// <remarks>
/// The job is enqueued first and the source inserted already 'queued' with it: two round trips where inserting the
/// source, enqueueing and marking it queued took three (four with the queue's duplicate look-up). Neither is visible
/// to a worker before the commit. The source's id is the user message's, which completes once, so the insert does not
/// conflict; if it ever did, the job would find its source already recorded and do what it says.
/// </remarks>
public sealed class MemoryExchangeObserver(IJobQueue queue, MemoryMetrics metrics, IOptions<MemoryOptions> options, ILogger<MemoryExchangeObserver> logger)
    : IChatExchangeObserver
{
    public async Task OnCompletedAsync(ChatExchangeCompleted exchange, NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        if (!options.Value.ExtractFromChat)
        {
            return;
        }
        var optOut = SecretDetector.IsOptOut(exchange.UserText);
        var jobId = optOut
            ? null
            : await MemoryJobs.TryEnqueueAsync(queue, exchange.UserMessageId, connection, transaction, metrics, logger, cancellationToken).ConfigureAwait(false);
        await using var insert = new NpgsqlCommand("""
            INSERT INTO memory_sources (id, kind, org_id, user_id, agent_id, session_id, scope, conversation_id, user_message_id,
                                        assistant_message_id, status, status_reason, job_id)
            VALUES ($1, 'chat', $2, $3, $4, $5, 'user', $6, $1, $7, $8, $9, $10)
            ON CONFLICT (id) DO NOTHING
            """, connection, transaction);
        insert.Parameters.Add(new() { Value = exchange.UserMessageId });
        insert.Parameters.Add(new() { Value = exchange.OrgId });
        insert.Parameters.Add(new() { Value = exchange.UserId });
        insert.Parameters.Add(new() { Value = exchange.AgentId });
        insert.Parameters.Add(new() { Value = MemoryContextProvider.SessionIdOf(exchange.ConversationId) });
        insert.Parameters.Add(new() { Value = exchange.ConversationId });
        insert.Parameters.Add(new() { Value = exchange.AssistantMessageId });
        insert.Parameters.Add(new() { Value = optOut ? "skipped" : jobId is null ? "pending" : "queued" });
        insert.Parameters.Add(MemorySql.Text(optOut ? "opt_out" : null));
        insert.Parameters.Add(new() { Value = jobId is { } id ? id : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
        if (await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1 && optOut)
        {
            metrics.FactRejected("opt_out");
        }
    }
}

/// <summary>
/// Session memory ends with its session: deleting a conversation deletes its session memories and their history
/// (as memory.expire does for a session whose TTL passed) in the transaction of the delete, under the user's memory
/// lock so that an extraction job claiming a source of the conversation runs entirely before or after; the Redis
/// hash goes after the commit.
/// </summary>
public sealed partial class MemorySessionEnder(SessionMemoryStore sessions, ILogger<MemorySessionEnder> logger) : IConversationDeletionObserver
{
    public async Task OnDeletingAsync(ConversationDeleted conversation, NpgsqlConnection connection, NpgsqlTransaction transaction,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(conversation);
        await MemorySql.LockUserAsync(connection, transaction, conversation.UserId, cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("""
            WITH ended AS (
                SELECT id FROM memories WHERE scope = 'session' AND user_id = $1 AND session_id = $2 FOR UPDATE
            ),
            history AS (DELETE FROM memory_history WHERE memory_id IN (SELECT id FROM ended))
            DELETE FROM memories WHERE id IN (SELECT id FROM ended)
            """, connection, transaction);
        command.Parameters.Add(new() { Value = conversation.UserId });
        command.Parameters.Add(new() { Value = MemoryContextProvider.SessionIdOf(conversation.ConversationId) });
        var removed = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        if (removed > 0)
        {
            LogEnded(conversation.ConversationId, removed);
        }
    }

    public async Task OnDeletedAsync(ConversationDeleted conversation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(conversation);
        try
        {
            await sessions.EndAsync(conversation.UserId, MemoryContextProvider.SessionIdOf(conversation.ConversationId), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
        {
            // Nothing reads a deleted conversation's session any more, and the key's TTL still ends it.
            LogRedisFailed(ex, conversation.ConversationId);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Conversation {ConversationId} deleted: {Count} session memories ended")]
    private partial void LogEnded(Guid conversationId, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Conversation {ConversationId} deleted, but its session memory key in Redis could not be deleted; it expires with its TTL")]
    private partial void LogRedisFailed(Exception exception, Guid conversationId);
}
