using System.Text.Json;
using AspireAi.Core.Encryption;
using Npgsql;
using NpgsqlTypes;

namespace AspireAi.Core.Chat;

public sealed record Conversation(
    Guid Id, Guid UserId, Guid OrgId, string AgentId, string Title, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    string? LastMessagePreview, DateTimeOffset? LastMessageAt);

public sealed record StoredMessage(
    Guid Id, Guid ConversationId, long Sequence, string Role, string Content, string Status, DateTimeOffset CreatedAt,
    string? Model, string? PromptName, int? PromptVersion, int? InputTokens, int? OutputTokens, decimal? Cost,
    int? LatencyMs, string? TraceId, JsonElement Metadata, IReadOnlyList<Citation> Citations, IReadOnlyList<Guid> MemoryIds);

public sealed record Page<T>(IReadOnlyList<T> Items, string? NextCursor);

/// <summary>Conversations and their messages. Every query is scoped by the owner's user id: a row that belongs
/// to someone else is indistinguishable from one that does not exist.</summary>
public sealed class ConversationStore(NpgsqlDataSource dataSource, FieldCipher cipher, IEnumerable<IConversationDeletionObserver> deletionObservers)
{
    public const int MaxPageSize = 100;

    /// <summary>Creates a conversation; with <paramref name="titlePending"/> its title is replaced by one made from its
    /// first complete exchange (see <see cref="ConversationTitles"/>), unless it is renamed first.</summary>
    public async Task<Conversation> CreateAsync(
        Guid userId, Guid orgId, string title, string agentId, CancellationToken cancellationToken, bool titlePending = false)
    {
        await using var command = dataSource.CreateCommand($"""
            INSERT INTO conversations (id, user_id, org_id, agent_id, title, title_pending)
            VALUES ($1, $2, $3, $4, $5, $6)
            RETURNING {ConversationColumns}
            """);
        command.Parameters.Add(new() { Value = Guid.CreateVersion7() });
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = orgId });
        command.Parameters.Add(new() { Value = agentId });
        command.Parameters.Add(new() { Value = title });
        command.Parameters.Add(new() { Value = titlePending });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await ReadConversationAsync(reader, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Conversation?> GetAsync(Guid userId, Guid conversationId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {ConversationColumns}
            FROM conversations
            WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL
            """);
        command.Parameters.Add(new() { Value = conversationId });
        command.Parameters.Add(new() { Value = userId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? await ReadConversationAsync(reader, cancellationToken).ConfigureAwait(false) : null;
    }

    /// <summary>Newest first by (updated_at, id); the cursor is the last row's key. With <paramref name="search"/>, only
    /// conversations whose title contains it (case-insensitive, as typed: no wildcards) or with a message holding every
    /// word of it (messages are encrypted: their words are matched through the blind index, see FieldCipher.Tokens).</summary>
    public async Task<Page<Conversation>> ListAsync(
        Guid userId, (DateTimeOffset UpdatedAt, Guid Id)? after, int limit, CancellationToken cancellationToken, string? search = null)
    {
        byte[][]? tokens = null;
        if (!string.IsNullOrWhiteSpace(search))
        {
            await using var org = dataSource.CreateCommand("SELECT org_id FROM users WHERE id = $1");
            org.Parameters.Add(new() { Value = userId });
            if (await org.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is Guid orgId)
            {
                tokens = await cipher.TokensAsync(orgId, search, cancellationToken).ConfigureAwait(false);
            }
        }
        // Over one user's own history: bounded by what that user wrote. Plain rows from before encryption still match
        // as substrings; encrypted ones when they hold every word of the search (a search of stopwords only matches none).
        await using var command = dataSource.CreateCommand($"""
            SELECT {ConversationColumns}
            FROM conversations c
            WHERE user_id = $1 AND deleted_at IS NULL
              AND ($2::timestamptz IS NULL OR (updated_at, id) < ($2, $3))
              AND ($5::text IS NULL
                   OR title ILIKE $5 ESCAPE '\'
                   OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id
                              AND (m.content ILIKE $5 ESCAPE '\' OR (cardinality($6::bytea[]) > 0 AND m.content_bi @> $6))))
            ORDER BY updated_at DESC, id DESC
            LIMIT $4
            """);
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = after?.UpdatedAt is { } t ? t : DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = after?.Id ?? Guid.Empty });
        command.Parameters.Add(new() { Value = limit + 1 });
        command.Parameters.Add(new()
        {
            Value = string.IsNullOrWhiteSpace(search) ? DBNull.Value : $"%{EscapeLike(search.Trim())}%",
            NpgsqlDbType = NpgsqlDbType.Text,
        });
        command.Parameters.Add(new() { Value = tokens ?? [], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
        var items = new List<Conversation>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                items.Add(await ReadConversationAsync(reader, cancellationToken).ConfigureAwait(false));
            }
        }
        string? next = null;
        if (items.Count > limit)
        {
            items.RemoveAt(limit);
            var last = items[^1];
            next = Cursor.Encode(Cursor.EncodeTime(last.UpdatedAt), last.Id.ToString("N"));
        }
        return new Page<Conversation>(items, next);
    }

    public async Task<Conversation?> RenameAsync(Guid userId, Guid conversationId, string title, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            UPDATE conversations SET title = $3, title_pending = false, updated_at = now()
            WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL
            RETURNING {ConversationColumns}
            """);
        command.Parameters.Add(new() { Value = conversationId });
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = title });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? await ReadConversationAsync(reader, cancellationToken).ConfigureAwait(false) : null;
    }

    /// <summary>
    /// Soft delete: the conversation disappears from every read, its rows stay for audit and usage. What lives only
    /// as long as the conversation (its session memory) ends with it, through the deletion observers.
    /// </summary>
    public async Task<bool> DeleteAsync(Guid userId, Guid conversationId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var command = new NpgsqlCommand("""
            UPDATE conversations SET deleted_at = now()
            WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL
            """, connection, transaction))
        {
            command.Parameters.Add(new() { Value = conversationId });
            command.Parameters.Add(new() { Value = userId });
            if (await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != 1)
            {
                return false;
            }
        }
        var deleted = new ConversationDeleted(userId, conversationId);
        foreach (var observer in deletionObservers)
        {
            await observer.OnDeletingAsync(deleted, connection, transaction, cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        foreach (var observer in deletionObservers)
        {
            // The delete has committed: the caller's cancellation no longer applies to finishing it.
            await observer.OnDeletedAsync(deleted, CancellationToken.None).ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>Messages newest first, keyset-paged by sequence; null when the conversation is not the caller's.</summary>
    public async Task<Page<StoredMessage>?> ListMessagesAsync(Guid userId, Guid conversationId, long? before, int limit, CancellationToken cancellationToken)
    {
        if (await GetAsync(userId, conversationId, cancellationToken).ConfigureAwait(false) is null)
        {
            return null;
        }
        await using var command = dataSource.CreateCommand($"""
            SELECT {MessageColumns}
            FROM messages
            WHERE conversation_id = $1 AND ($2::bigint IS NULL OR sequence < $2)
            ORDER BY sequence DESC
            LIMIT $3
            """);
        command.Parameters.Add(new() { Value = conversationId });
        command.Parameters.Add(new() { Value = before is { } b ? b : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.Add(new() { Value = limit + 1 });
        var items = await ReadMessagesAsync(command, cancellationToken).ConfigureAwait(false);
        string? next = null;
        if (items.Count > limit)
        {
            items.RemoveAt(limit);
            next = Cursor.Encode(items[^1].Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        return new Page<StoredMessage>(items, next);
    }

    public async Task<StoredMessage?> GetMessageAsync(Guid userId, Guid conversationId, Guid messageId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {Prefixed("m")}
            FROM messages m JOIN conversations c ON c.id = m.conversation_id
            WHERE m.id = $1 AND m.conversation_id = $2 AND c.user_id = $3 AND c.deleted_at IS NULL
            """);
        command.Parameters.Add(new() { Value = messageId });
        command.Parameters.Add(new() { Value = conversationId });
        command.Parameters.Add(new() { Value = userId });
        var items = await ReadMessagesAsync(command, cancellationToken).ConfigureAwait(false);
        return items.Count == 1 ? items[0] : null;
    }

    private static string EscapeLike(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);

    internal const string MessageColumns =
        "id, conversation_id, sequence, role, content, status, created_at, model, prompt_name, prompt_version, " +
        "input_tokens, output_tokens, cost, latency_ms, trace_id, metadata, citations, memory_ids, key_id, content_ct";

    private static string Prefixed(string alias) =>
        string.Join(", ", MessageColumns.Split(", ").Select(c => $"{alias}.{c}"));

    /// <summary>A message's content as stored: plain column, key id and ciphertext at the given ordinals.</summary>
    public static StoredText ReadContent(NpgsqlDataReader reader, int plainOrdinal, int keyOrdinal, int ciphertextOrdinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return new StoredText(
            reader.IsDBNull(keyOrdinal) ? null : reader.GetGuid(keyOrdinal),
            reader.IsDBNull(ciphertextOrdinal) ? null : reader.GetFieldValue<byte[]>(ciphertextOrdinal),
            reader.IsDBNull(plainOrdinal) ? null : reader.GetString(plainOrdinal));
    }

    internal async Task<List<StoredMessage>> ReadMessagesAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var items = new List<StoredMessage>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var content = await cipher.OpenAsync(ReadContent(reader, 4, 18, 19), EncryptedField.MessageContent, reader.GetGuid(0), cancellationToken)
                .ConfigureAwait(false);
            items.Add(new StoredMessage(
                reader.GetGuid(0), reader.GetGuid(1), reader.GetInt64(2), reader.GetString(3), content,
                reader.GetString(5), reader.GetFieldValue<DateTimeOffset>(6),
                reader.IsDBNull(7) ? null : reader.GetString(7),
                reader.IsDBNull(8) ? null : reader.GetString(8),
                reader.IsDBNull(9) ? null : reader.GetInt32(9),
                reader.IsDBNull(10) ? null : reader.GetInt32(10),
                reader.IsDBNull(11) ? null : reader.GetInt32(11),
                reader.IsDBNull(12) ? null : reader.GetDecimal(12),
                reader.IsDBNull(13) ? null : reader.GetInt32(13),
                reader.IsDBNull(14) ? null : reader.GetString(14),
                JsonDocument.Parse(reader.GetString(15)).RootElement.Clone(),
                JsonSerializer.Deserialize<List<Citation>>(reader.GetString(16), JsonSerializerOptions.Web) ?? [],
                reader.GetFieldValue<Guid[]>(17)));
        }
        return items;
    }

    // The preview is the start of the last message: encrypted like it (plain only in rows from before encryption).
    internal const string ConversationColumns =
        "id, user_id, org_id, agent_id, title, created_at, updated_at, last_message_preview, last_message_at, preview_key_id, last_message_preview_ct";

    /// <summary>Columns read by <see cref="ConversationColumns"/>.</summary>
    internal const int ConversationColumnCount = 11;

    internal Task<Conversation> ReadConversationAsync(NpgsqlDataReader reader, CancellationToken cancellationToken) =>
        ReadConversationAsync(reader, cipher, cancellationToken);

    internal static async Task<Conversation> ReadConversationAsync(NpgsqlDataReader reader, FieldCipher cipher, CancellationToken cancellationToken)
    {
        var preview = await cipher.OpenNullableAsync(reader.IsDBNull(9) ? null : reader.GetGuid(9), reader.IsDBNull(10) ? null : reader.GetFieldValue<byte[]>(10),
            reader.IsDBNull(7) ? null : reader.GetString(7), EncryptedField.MessageContent, reader.GetGuid(0), cancellationToken).ConfigureAwait(false);
        return new Conversation(
            reader.GetGuid(0), reader.GetGuid(1), reader.GetGuid(2), reader.GetString(3), reader.GetString(4),
            reader.GetFieldValue<DateTimeOffset>(5), reader.GetFieldValue<DateTimeOffset>(6), preview,
            reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8));
    }

    /// <summary>The preview of a conversation list: the message's first 200 characters (a surrogate pair is not split).</summary>
    public static string Preview(string content)
    {
        ArgumentNullException.ThrowIfNull(content);
        var length = Math.Min(content.Length, 200);
        return length < content.Length && char.IsHighSurrogate(content[length - 1]) ? content[..(length - 1)] : content[..length];
    }
}
