using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using AspireAi.Core.Chat;
using AspireAi.Core.Common;
using AspireAi.Core.Encryption;
using AspireAi.Core.Jobs;
using AspireAi.Core.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Workers.Memory;

/// <summary>
/// Stage 1 and 2 for one source (a chat exchange or an API request): read the messages, leave out everything the
/// user asked not to be remembered, redact secrets, extract facts with the model, drop facts that still carry a
/// secret, consolidate the rest, record the model usage, and mark the source done — all in the job's transaction, so
/// a failure rolls everything back and the retry starts clean; a source already done is not processed again.
/// </summary>
/// <remarks>
/// Lock order is the user's advisory lock, then the source row — the order erasure uses. The source is read without a
/// lock for the model call and claimed (user lock, then <c>FOR UPDATE</c>) only once the slow calls are done: holding
/// the row across the model call and then waiting for the user lock deadlocked with an erasure that held the user lock
/// and waited for the row. A source erased meanwhile is gone at the claim, and nothing is written.
/// </remarks>
public sealed partial class MemoryExtractionJob(
    MemoryLanguageModel model,
    MemoryConsolidator consolidator,
    MemoryWriter writer,
    FieldCipher cipher,
    MemoryMetrics metrics,
    ContentScreen screen,
    IOptions<MemoryOptions> options,
    IOptions<PricingSettings> pricing,
    ILogger<MemoryExtractionJob> logger) : IJobHandler
{
    public string Type => MemoryJobs.Extract;

    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var sourceId = context.Payload.GetProperty("sourceId").GetGuid();
        var (source, chatExchange) = await LoadAsync(context, sourceId, cancellationToken).ConfigureAwait(false);
        if (!IsOpen(sourceId, source))
        {
            return;
        }

        var exchange = source.Kind == "chat" ? chatExchange : ReadInput(source.Input);
        if (exchange.Count == 0 || !exchange.Any(m => m.Role == "user"))
        {
            if (await ClaimAsync(context, sourceId, source, cancellationToken).ConfigureAwait(false))
            {
                await FinishAsync(context, sourceId, "skipped", "nothing_to_extract", 0, null, cancellationToken).ConfigureAwait(false);
            }
            return;
        }
        if (exchange.Any(m => m.Role == "user" && SecretDetector.IsOptOut(m.Content)))
        {
            if (await ClaimAsync(context, sourceId, source, cancellationToken).ConfigureAwait(false))
            {
                metrics.FactRejected("opt_out");
                await FinishAsync(context, sourceId, "skipped", "opt_out", 0, null, cancellationToken).ConfigureAwait(false);
            }
            return;
        }

        var settings = options.Value;
        var prepared = Prepare(exchange, settings.MaxExtractionInputChars);
        var extraction = await model.ExtractAsync(prepared, source.UserId, cancellationToken).ConfigureAwait(false);
        metrics.FactsExtracted(extraction.Facts.Count);

        var facts = new List<ScopedFact>();
        foreach (var fact in extraction.Facts)
        {
            if (SecretDetector.Find(fact.Text) is { } kind)
            {
                metrics.FactRejected("secret");
                LogSecretDropped(sourceId, kind);
                continue;
            }
            // Facts are about the user: an instruction, or a claim of role or permission over the system ("is the
            // administrator of this system"), is never stored, whoever said it and whatever the model extracted.
            if (!screen.IsTrustedFact(fact.Text, "extraction", "dropped"))
            {
                metrics.FactRejected("instruction_like");
                continue;
            }
            if (fact.Text.Length > settings.MaxMemoryChars)
            {
                metrics.FactRejected("too_long");
                LogTooLong(sourceId, fact.Text.Length);
                continue;
            }
            facts.Add(new ScopedFact(fact, ScopeOf(source, fact)));
        }

        var provenance = new MemoryProvenance(MemoryActor.Extractor, source.UserId, source.Kind, sourceId,
            source.Kind == "chat" ? [source.UserMessageId!.Value] : [sourceId]);
        // The claim holds until the job's commit; it also covers the consolidator's embedding call, which is short
        // next to the decision calls the consolidator makes under the same lock.
        if (!await ClaimAsync(context, sourceId, source, cancellationToken).ConfigureAwait(false))
        {
            return;
        }
        var effects = new MemoryWriteEffects();
        var report = await consolidator.ConsolidateAsync(context.Connection, context.Transaction, effects, facts, provenance, cancellationToken,
            userLockHeld: source.UserId).ConfigureAwait(false);
        context.OnCommitted(ct => writer.ApplyAsync(effects, ct));

        // The model calls' usage and the source's outcome in one round trip.
        await using (var batch = new NpgsqlBatch(context.Connection, context.Transaction))
        {
            foreach (var usage in extraction.Usage.Concat(report.Usage))
            {
                var cost = pricing.Value.CostOf(usage.Model, usage.InputTokens, usage.OutputTokens);
                batch.BatchCommands.Add(UsageLedger.Command(new UsageEntry(source.UserId, source.OrgId, source.ConversationId, source.UserMessageId,
                    $"memory-source:{sourceId:N}", usage.Operation, usage.Model, usage.InputTokens, usage.OutputTokens, cost, usage.Estimated,
                    System.Diagnostics.Activity.Current?.TraceId.ToString())));
            }
            batch.BatchCommands.Add(FinishCommand(context, sourceId, "done",
                extraction.Rejected.Count > 0 ? $"{extraction.Rejected.Count} facts rejected by the schema" : null, extraction.Facts.Count, report.Counts));
            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        var operations = string.Join(", ", report.Counts.Select(c => $"{c.Key}={c.Value}"));
        LogExtracted(sourceId, extraction.Facts.Count, facts.Count, operations);
    }

    private static MemoryScopeRef ScopeOf(SourceRow source, MemoryFact fact)
    {
        var scope = MemoryNames.ParseScope(source.Scope);
        return scope switch
        {
            MemoryScope.Org => MemoryScopeRef.ForOrg(source.OrgId),
            MemoryScope.Agent => MemoryScopeRef.ForAgent(source.OrgId, source.AgentId),
            MemoryScope.Session when source.SessionId is not null => MemoryScopeRef.ForSession(source.OrgId, source.UserId, source.SessionId),
            // A fact the user limited to this conversation stays in the session; everything else is long-term.
            _ when fact.Scope == MemoryScope.Session && source.SessionId is not null => MemoryScopeRef.ForSession(source.OrgId, source.UserId, source.SessionId),
            _ => MemoryScopeRef.ForUser(source.OrgId, source.UserId),
        };
    }

    // Secrets are redacted before the model sees the text, and long messages are cut in the middle (the start and
    // the end of a message carry most of what a user says about themselves).
    private static List<(string Role, string Content)> Prepare(List<(string Role, string Content)> exchange, int maxChars)
    {
        var perMessage = Math.Max(200, maxChars / Math.Max(1, exchange.Count));
        return [.. exchange.Select(m =>
        {
            var text = SecretDetector.Redact(m.Content);
            if (text.Length > perMessage)
            {
                var half = perMessage / 2;
                text = string.Concat(text.AsSpan(0, half), " … ", text.AsSpan(text.Length - half));
            }
            return (m.Role, text);
        })];
    }

    private bool IsOpen(Guid sourceId, [NotNullWhen(true)] SourceRow? source)
    {
        if (source is null)
        {
            LogSourceGone(sourceId);
            return false; // erased, or never committed
        }
        if (source.Status is "done" or "skipped")
        {
            LogAlreadyProcessed(sourceId, source.Status);
            return false;
        }
        return true;
    }

    // Takes the user's lock, then the source row, and checks again that there is still work: erasure or the deletion
    // of the conversation (both under the same lock), or another run of the same source, may have happened while the
    // model was answering. One round trip: the statements run in order, so the reads happen under the lock.
    private async Task<bool> ClaimAsync(JobContext context, Guid sourceId, SourceRow source, CancellationToken cancellationToken)
    {
        SourceRow? current;
        var conversationExists = true;
        await using (var batch = new NpgsqlBatch(context.Connection, context.Transaction))
        {
            batch.BatchCommands.Add(MemorySql.LockUserCommand(source.UserId));
            batch.BatchCommands.Add(SourceCommand(sourceId, forUpdate: true));
            if (source.Kind == "chat")
            {
                var conversation = new NpgsqlBatchCommand("SELECT 1 FROM conversations WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL");
                conversation.Parameters.Add(new() { Value = source.ConversationId ?? Guid.Empty });
                conversation.Parameters.Add(new() { Value = source.UserId });
                batch.BatchCommands.Add(conversation);
            }
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false); // past the lock's one row
            current = await ReadSourceAsync(reader, cancellationToken).ConfigureAwait(false);
            if (source.Kind == "chat")
            {
                await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
                conversationExists = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        if (!IsOpen(sourceId, current))
        {
            return false;
        }
        if (!conversationExists)
        {
            // Its session memory has ended with it; nothing of a deleted conversation is mined.
            await FinishAsync(context, sourceId, "skipped", "conversation_deleted", 0, null, cancellationToken).ConfigureAwait(false);
            return false;
        }
        return true;
    }

    // The source, and for a chat source its two messages, in one round trip. The messages are read only while the
    // conversation still exists and belongs to the source's user: a deleted conversation is not mined.
    private async Task<(SourceRow? Source, List<(string Role, string Content)> Exchange)> LoadAsync(JobContext context, Guid sourceId,
        CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(context.Connection, context.Transaction);
        batch.BatchCommands.Add(SourceCommand(sourceId, forUpdate: false));
        var messagesCommand = new NpgsqlBatchCommand("""
            SELECT m.role, m.content, m.key_id, m.content_ct, m.id
            FROM memory_sources s
            JOIN messages m ON m.id IN (s.user_message_id, s.assistant_message_id)
            JOIN conversations c ON c.id = m.conversation_id
            WHERE s.id = $1 AND s.kind = 'chat' AND c.user_id = s.user_id AND c.deleted_at IS NULL AND m.status = 'complete'
            ORDER BY m.sequence
            """);
        messagesCommand.Parameters.Add(new() { Value = sourceId });
        batch.BatchCommands.Add(messagesCommand);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var source = await ReadSourceAsync(reader, cancellationToken).ConfigureAwait(false);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var messages = new List<(string, string)>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            messages.Add((reader.GetString(0), await cipher.OpenAsync(ConversationStore.ReadContent(reader, 1, 2, 3), EncryptedField.MessageContent,
                reader.GetGuid(4), cancellationToken).ConfigureAwait(false)));
        }
        return (source, messages);
    }

    private static NpgsqlBatchCommand SourceCommand(Guid sourceId, bool forUpdate)
    {
        var command = new NpgsqlBatchCommand($"""
            SELECT kind, org_id, user_id, agent_id, session_id, scope, conversation_id, user_message_id, assistant_message_id, input, status
            FROM memory_sources WHERE id = $1 {(forUpdate ? "FOR UPDATE" : "")}
            """);
        command.Parameters.Add(new() { Value = sourceId });
        return command;
    }

    private static async Task<SourceRow?> ReadSourceAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }
        return new SourceRow(
            reader.GetString(0), reader.GetGuid(1), reader.GetGuid(2), reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4),
            reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetGuid(6), reader.IsDBNull(7) ? null : reader.GetGuid(7),
            reader.IsDBNull(8) ? null : reader.GetGuid(8), reader.IsDBNull(9) ? null : reader.GetString(9), reader.GetString(10));
    }

    private static List<(string Role, string Content)> ReadInput(string? input)
    {
        if (input is null)
        {
            return [];
        }
        using var document = JsonDocument.Parse(input);
        return [.. document.RootElement.EnumerateArray()
            .Select(m => (m.GetProperty("role").GetString() ?? "user", m.GetProperty("content").GetString() ?? ""))
            .Where(m => m.Item2.Length > 0)];
    }

    private static async Task FinishAsync(JobContext context, Guid sourceId, string status, string? reason, int facts,
        IReadOnlyDictionary<string, int>? operations, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(context.Connection, context.Transaction)
        {
            BatchCommands = { FinishCommand(context, sourceId, status, reason, facts, operations) },
        };
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static NpgsqlBatchCommand FinishCommand(JobContext context, Guid sourceId, string status, string? reason, int facts,
        IReadOnlyDictionary<string, int>? operations)
    {
        var command = new NpgsqlBatchCommand("""
            UPDATE memory_sources
            SET status = $2, status_reason = $3, facts = $4, operations = $5::jsonb, processed_at = now(), job_id = coalesce(job_id, $6)
            WHERE id = $1
            """);
        command.Parameters.Add(new() { Value = sourceId });
        command.Parameters.Add(new() { Value = status });
        command.Parameters.Add(MemorySql.Text(reason));
        command.Parameters.Add(new() { Value = facts });
        command.Parameters.Add(MemorySql.Text(operations is null ? null : JsonSerializer.Serialize(operations)));
        command.Parameters.Add(new() { Value = context.Job.Id });
        return command;
    }

    private sealed record SourceRow(string Kind, Guid OrgId, Guid UserId, string AgentId, string? SessionId, string Scope, Guid? ConversationId,
        Guid? UserMessageId, Guid? AssistantMessageId, string? Input, string Status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Memory source {SourceId} no longer exists; nothing to extract")]
    private partial void LogSourceGone(Guid sourceId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Memory source {SourceId} is already {Status}; nothing to do")]
    private partial void LogAlreadyProcessed(Guid sourceId, string status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dropped an extracted fact of source {SourceId}: it contains a secret ({Kind})")]
    private partial void LogSecretDropped(Guid sourceId, string kind);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dropped an extracted fact of source {SourceId}: {Length} characters is too long")]
    private partial void LogTooLong(Guid sourceId, int length);

    [LoggerMessage(Level = LogLevel.Information, Message = "Memory source {SourceId}: {Facts} facts extracted, {Kept} consolidated ({Operations})")]
    private partial void LogExtracted(Guid sourceId, int facts, int kept, string operations);
}
