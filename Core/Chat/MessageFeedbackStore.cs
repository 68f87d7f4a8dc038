using NpgsqlTypes;
using Npgsql;

namespace AspireAi.Core.Chat;

public enum FeedbackRating
{
    Down = -1,
    Up = 1,
}

public sealed record MessageFeedback(
    Guid MessageId, Guid ConversationId, FeedbackRating Rating, string? Comment, string? Model, string? PromptName,
    int? PromptVersion, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>Thumbs up / down on assistant answers. Scoped by the owner like the conversation store: feedback can only
/// be given on, and read from, the caller's own answers.</summary>
public sealed class MessageFeedbackStore(NpgsqlDataSource dataSource)
{
    public const int MaxCommentLength = 2000;

    private const string Columns = "message_id, conversation_id, rating, comment, model, prompt_name, prompt_version, created_at, updated_at";

    /// <summary>Sets (or replaces) the caller's feedback on an assistant answer, copying the answer's model and prompt
    /// version in; null when the message is not an assistant answer in a conversation of the caller.</summary>
    public async Task<MessageFeedback?> SetAsync(
        Guid userId, Guid conversationId, Guid messageId, FeedbackRating rating, string? comment, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            INSERT INTO message_feedback (message_id, conversation_id, user_id, rating, comment, model, prompt_name, prompt_version)
            SELECT m.id, m.conversation_id, c.user_id, $4, $5, m.model, m.prompt_name, m.prompt_version
            FROM messages m JOIN conversations c ON c.id = m.conversation_id
            WHERE m.id = $1 AND m.conversation_id = $2 AND c.user_id = $3 AND c.deleted_at IS NULL AND m.role = 'assistant'
            ON CONFLICT (message_id) DO UPDATE
                SET rating = excluded.rating, comment = excluded.comment, updated_at = now()
            RETURNING {Columns}
            """);
        command.Parameters.Add(new() { Value = messageId });
        command.Parameters.Add(new() { Value = conversationId });
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = (short)rating });
        command.Parameters.Add(new() { Value = (object?)comment ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        var items = await ReadAsync(command, cancellationToken).ConfigureAwait(false);
        return items.Count == 1 ? items[0] : null;
    }

    /// <summary>False when there was none (or the message is not the caller's).</summary>
    public async Task<bool> DeleteAsync(Guid userId, Guid conversationId, Guid messageId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            DELETE FROM message_feedback f
            USING conversations c
            WHERE f.message_id = $1 AND f.conversation_id = $2 AND c.id = f.conversation_id AND c.user_id = $3 AND c.deleted_at IS NULL
            """);
        command.Parameters.Add(new() { Value = messageId });
        command.Parameters.Add(new() { Value = conversationId });
        command.Parameters.Add(new() { Value = userId });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <summary>The caller's feedback on the answers of one conversation; null when the conversation is not theirs.</summary>
    public async Task<IReadOnlyList<MessageFeedback>?> ListAsync(Guid userId, Guid conversationId, CancellationToken cancellationToken)
    {
        await using var owner = dataSource.CreateCommand("SELECT 1 FROM conversations WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL");
        owner.Parameters.Add(new() { Value = conversationId });
        owner.Parameters.Add(new() { Value = userId });
        if (await owner.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is null)
        {
            return null;
        }

        await using var command = dataSource.CreateCommand($"""
            SELECT {Columns} FROM message_feedback WHERE conversation_id = $1 ORDER BY message_id
            """);
        command.Parameters.Add(new() { Value = conversationId });
        return await ReadAsync(command, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<List<MessageFeedback>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var items = new List<MessageFeedback>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            items.Add(new MessageFeedback(
                reader.GetGuid(0), reader.GetGuid(1), (FeedbackRating)reader.GetInt16(2),
                reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetInt32(6),
                reader.GetFieldValue<DateTimeOffset>(7), reader.GetFieldValue<DateTimeOffset>(8)));
        }
        return items;
    }
}
