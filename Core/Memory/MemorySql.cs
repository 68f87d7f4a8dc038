using System.Text.Json;
using AspireAi.Core.Encryption;
using Npgsql;
using NpgsqlTypes;

namespace AspireAi.Core.Memory;

/// <summary>Shared SQL fragments and readers of the memory tables (the Api's services and the Workers' memory jobs).</summary>
public static class MemorySql
{
    /// <summary>Every column of a <see cref="MemoryRecord"/>, for a <c>memories m</c> alias; read with <see cref="ReadRecord"/>.</summary>
    public const string RecordColumns = """
        m.id, m.lineage_id, m.supersedes_id,
        (SELECT n.id FROM memories n WHERE n.supersedes_id = m.id ORDER BY n.created_at LIMIT 1) AS superseded_by,
        m.org_id, m.user_id, m.agent_id, m.session_id, m.scope, m.type, m.text, m.importance, m.embedding_model,
        m.created_at, m.updated_at, m.valid_from, m.invalidated_at, m.invalidated_reason, m.last_accessed_at, m.access_count,
        m.expires_at, m.source_message_ids,
        (SELECT coalesce(jsonb_agg(jsonb_build_object('name', e.name, 'type', e.type) ORDER BY e.normalized_name), '[]'::jsonb)
         FROM memory_entities me JOIN entities e ON e.id = me.entity_id WHERE me.memory_id = m.id) AS entities,
        m.created_by, m.metadata, m.key_id, m.text_ct
        """;

    public const int RecordColumnCount = 27;

    /// <summary>What a caller may read: their own user and session memories, and their organisation's shared ones.
    /// A session that has ended is gone. Parameters: caller user id, caller org id.</summary>
    public static string Visible(int userParameter, int orgParameter) =>
        $"(m.user_id = ${userParameter} OR (m.org_id = ${orgParameter} AND m.scope IN ('agent', 'org'))) AND NOT (m.scope = 'session' AND m.expires_at <= now())";

    /// <summary>Current and not expired: what retrieval and consolidation consider.</summary>
    public const string Current = "m.invalidated_at IS NULL AND (m.expires_at IS NULL OR m.expires_at > now())";

    /// <summary>One row of <see cref="RecordColumns"/>, its text decrypted.</summary>
    public static async Task<MemoryRecord> ReadRecordAsync(NpgsqlDataReader reader, FieldCipher cipher, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(cipher);
        var text = await cipher.OpenAsync(ReadText(reader, 10, 25, 26), EncryptedField.MemoryText, reader.GetGuid(0), cancellationToken).ConfigureAwait(false);
        return ReadRecord(reader, text);
    }

    /// <summary>A stored text: plain column, key id and ciphertext at the given ordinals.</summary>
    public static StoredText ReadText(NpgsqlDataReader reader, int plainOrdinal, int keyOrdinal, int ciphertextOrdinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return new StoredText(
            reader.IsDBNull(keyOrdinal) ? null : reader.GetGuid(keyOrdinal),
            reader.IsDBNull(ciphertextOrdinal) ? null : reader.GetFieldValue<byte[]>(ciphertextOrdinal),
            reader.IsDBNull(plainOrdinal) ? null : reader.GetString(plainOrdinal));
    }

    private static MemoryRecord ReadRecord(NpgsqlDataReader reader, string text)
    {
        const int o = 0;
        return new MemoryRecord(
            reader.GetGuid(o),
            reader.GetGuid(o + 1),
            reader.IsDBNull(o + 2) ? null : reader.GetGuid(o + 2),
            reader.IsDBNull(o + 3) ? null : reader.GetGuid(o + 3),
            reader.GetGuid(o + 4),
            reader.IsDBNull(o + 5) ? null : reader.GetGuid(o + 5),
            reader.IsDBNull(o + 6) ? null : reader.GetString(o + 6),
            reader.IsDBNull(o + 7) ? null : reader.GetString(o + 7),
            MemoryNames.ParseScope(reader.GetString(o + 8)),
            MemoryNames.ParseType(reader.GetString(o + 9)),
            text,
            reader.GetFloat(o + 11),
            reader.GetString(o + 12),
            reader.GetFieldValue<DateTimeOffset>(o + 13),
            reader.GetFieldValue<DateTimeOffset>(o + 14),
            reader.GetFieldValue<DateTimeOffset>(o + 15),
            reader.IsDBNull(o + 16) ? null : reader.GetFieldValue<DateTimeOffset>(o + 16),
            reader.IsDBNull(o + 17) ? null : reader.GetString(o + 17),
            reader.IsDBNull(o + 18) ? null : reader.GetFieldValue<DateTimeOffset>(o + 18),
            reader.GetInt32(o + 19),
            reader.IsDBNull(o + 20) ? null : reader.GetFieldValue<DateTimeOffset>(o + 20),
            reader.GetFieldValue<Guid[]>(o + 21),
            ReadEntities(reader.GetString(o + 22)),
            reader.IsDBNull(o + 23) ? null : reader.GetGuid(o + 23),
            JsonElement.Parse(reader.GetString(o + 24)));
    }

    public static async Task<List<MemoryRecord>> ReadRecordsAsync(NpgsqlCommand command, FieldCipher cipher, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        var records = new List<MemoryRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            records.Add(await ReadRecordAsync(reader, cipher, cancellationToken).ConfigureAwait(false));
        }
        return records;
    }

    private static List<MemoryEntity> ReadEntities(string json)
    {
        var entities = new List<MemoryEntity>();
        using var document = JsonDocument.Parse(json);
        foreach (var item in document.RootElement.EnumerateArray())
        {
            entities.Add(new MemoryEntity(item.GetProperty("name").GetString() ?? "", item.GetProperty("type").GetString() ?? "other"));
        }
        return entities;
    }

    public static NpgsqlParameter Vector(float[] values) => new() { Value = new Pgvector.Vector(values) };

    public static NpgsqlParameter Nullable(object? value, NpgsqlDbType type) => new() { Value = value ?? DBNull.Value, NpgsqlDbType = type };

    public static NpgsqlParameter Text(string? value) => Nullable(value, NpgsqlDbType.Text);

    public static NpgsqlParameter Uuid(Guid? value) => Nullable(value, NpgsqlDbType.Uuid);

    public static NpgsqlParameter Time(DateTimeOffset? value) => Nullable(value?.ToUniversalTime(), NpgsqlDbType.TimestampTz);

    public static NpgsqlParameter TextArray(IReadOnlyCollection<string>? values) =>
        Nullable(values?.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text);

    public static NpgsqlParameter Bytes(byte[][] tokens) => new() { Value = tokens, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea };

    /// <summary>A full-text query that matches any of the text's words (OR), so "where do I work" finds "Works at Acme".
    /// Words are normalised to letters and digits, which keeps the query free of tsquery operators.</summary>
    public static string AnyWordQuery(string text, int maxWords = 16)
    {
        var words = MemoryText.Words(text).Where(w => w.Length > 1).Distinct(StringComparer.Ordinal).Take(maxWords);
        return string.Join(" | ", words);
    }

    /// <summary>Serialises consolidation per user (or per shared scope) for the rest of the transaction.</summary>
    public static Task LockScopeAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, MemoryScopeRef scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scope);
        // User and session memories lock on the user: one job writes both, and erasure must wait for it.
        return LockAsync(connection, transaction, scope.IsPersonal ? $"memory:user:{scope.UserId:D}" : $"memory:scope:{scope.Key}", cancellationToken);
    }

    public static Task LockUserAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid userId, CancellationToken cancellationToken) =>
        LockAsync(connection, transaction, $"memory:user:{userId:D}", cancellationToken);

    /// <summary>The user's lock as a statement, for a caller that sends it in a batch before the reads it guards.</summary>
    public static NpgsqlBatchCommand LockUserCommand(Guid userId) => LockCommand($"memory:user:{userId:D}");

    private static async Task LockAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string key, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, transaction) { BatchCommands = { LockCommand(key) } };
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static NpgsqlBatchCommand LockCommand(string key)
    {
        var command = new NpgsqlBatchCommand("SELECT pg_advisory_xact_lock(hashtextextended($1, 5))");
        command.Parameters.Add(new() { Value = key });
        return command;
    }
}
