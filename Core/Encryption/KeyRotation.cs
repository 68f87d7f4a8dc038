using System.Globalization;
using AspireAi.Core.Identity;
using AspireAi.Core.Jobs;
using Npgsql;
using NpgsqlTypes;

namespace AspireAi.Core.Encryption;

/// <summary>The payload of <see cref="KeyRotation.JobType"/>; the job's successors carry its progress.</summary>
/// <param name="Mode"><see cref="KeyRotation.Rewrap"/> or <see cref="KeyRotation.Reencrypt"/>.</param>
/// <param name="OrgId">Only this organisation's keys and rows (re-encryption); all when null.</param>
/// <param name="BatchSize">Rows (or keys) per job, each job one transaction.</param>
/// <param name="RotateDataKeys">Re-encryption starts by replacing the data keys; false only encrypts what is not under
/// the active key yet (rows from before encryption, or left behind by an earlier rotation).</param>
/// <param name="RequestedBy">The administrator who asked, for the audit log.</param>
/// <param name="Table">Progress: the table being walked (after the first job).</param>
/// <param name="After">Progress: the last primary key walked in <paramref name="Table"/>.</param>
/// <param name="Done">Progress: keys re-wrapped or rows re-encrypted so far.</param>
public sealed record KeyRotationPayload(
    string Mode, Guid? OrgId = null, int BatchSize = KeyRotation.DefaultBatchSize, bool RotateDataKeys = true, Guid? RequestedBy = null,
    string? Table = null, string? After = null, long Done = 0);

/// <summary>Rows of one table still to (re-)encrypt.</summary>
public sealed record EncryptionTableStatus(long Plaintext, long UnderRetiredKeys);

/// <summary>The state of encryption at rest, for administrators.</summary>
public sealed record EncryptionStatus(string MasterKeyId, long DataKeys, long KeysUnderOtherMasterKeys, IReadOnlyDictionary<string, EncryptionTableStatus> Tables);

/// <summary>
/// The key rotation job's work, one batch per job (each its own short transaction, so chat, memory and documents keep
/// being served while it runs); the job enqueues its successor until nothing is left, then writes the audit row.
/// <list type="bullet">
/// <item><see cref="Rewrap"/>: data keys still wrapped with a previous master key are re-wrapped with the current one
/// (the old master key can be dropped from configuration afterwards).</item>
/// <item><see cref="Reencrypt"/>: each organisation (or one) gets a new data key, then every table is walked in primary
/// key order and each row not under its organisation's active key — older keys and the plain rows from before
/// encryption — is decrypted, sealed with the active key and given its blind index. Retired keys are kept: a row
/// written by a process that still had the old key cached stays readable, and a later run re-encrypts it.</item>
/// </list>
/// </summary>
public sealed class KeyRotation(NpgsqlDataSource dataSource, DataKeyStore keys, FieldCipher cipher, MasterKeyRing masters, IJobQueue queue)
{
    public const string JobType = "encryption.rotate";
    public const string Rewrap = "rewrap";
    public const string Reencrypt = "reencrypt";
    public const int DefaultBatchSize = 500;
    public const int MaxBatchSize = 10_000;

    public const string RotationRequested = "encryption.rotation_requested";
    public const string RotationCompleted = "encryption.rotation_completed";

    // Walked in this order; each has a primary key to page on.
    private static readonly string[] Tables = ["messages", "conversations", "memories", "memory_history", "document_chunks"];

    /// <summary>
    /// Enqueues a rotation; null when one is already queued or running (two would replace each other's keys). The
    /// first job's dedupe key closes the race between two requests; the check covers its successors, which have none.
    /// </summary>
    public async Task<long?> RequestAsync(KeyRotationPayload payload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(payload);
        await using (var busy = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM jobs WHERE type = $1 AND status IN ('queued', 'running'))"))
        {
            busy.Parameters.Add(new() { Value = JobType });
            if ((bool)(await busy.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
            {
                return null;
            }
        }
        var result = await queue.EnqueueAsync(new JobRequest(JobType, payload) { DedupeKey = JobType }, cancellationToken).ConfigureAwait(false);
        return result.Created ? result.JobId : null;
    }

    /// <summary>True when the organisation exists.</summary>
    public async Task<bool> OrgExistsAsync(Guid orgId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM orgs WHERE id = $1)");
        command.Parameters.Add(new() { Value = orgId });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>What is left to do: keys under another master key, and per table the rows stored plain (from before
    /// encryption) or under a retired data key.</summary>
    public async Task<EncryptionStatus> StatusAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT (SELECT count(*) FROM data_keys),
                   (SELECT count(*) FROM data_keys WHERE master_key_id <> $1),
                   (SELECT count(*) FROM messages WHERE key_id IS NULL),
                   (SELECT count(*) FROM messages m JOIN data_keys k ON k.id = m.key_id WHERE k.retired_at IS NOT NULL),
                   (SELECT count(*) FROM memories WHERE key_id IS NULL),
                   (SELECT count(*) FROM memories m JOIN data_keys k ON k.id = m.key_id WHERE k.retired_at IS NOT NULL),
                   (SELECT count(*) FROM memory_history WHERE key_id IS NULL AND (old_text IS NOT NULL OR new_text IS NOT NULL)),
                   (SELECT count(*) FROM memory_history h JOIN data_keys k ON k.id = h.key_id WHERE k.retired_at IS NOT NULL),
                   (SELECT count(*) FROM document_chunks WHERE key_id IS NULL),
                   (SELECT count(*) FROM document_chunks c JOIN data_keys k ON k.id = c.key_id WHERE k.retired_at IS NOT NULL),
                   (SELECT count(*) FROM conversations WHERE last_message_preview IS NOT NULL),
                   (SELECT count(*) FROM conversations c JOIN data_keys k ON k.id = c.preview_key_id WHERE k.retired_at IS NOT NULL)
            """);
        command.Parameters.Add(new() { Value = masters.CurrentId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return new EncryptionStatus(masters.CurrentId, reader.GetInt64(0), reader.GetInt64(1),
            new Dictionary<string, EncryptionTableStatus>
            {
                ["messages"] = new(reader.GetInt64(2), reader.GetInt64(3)),
                ["conversations"] = new(reader.GetInt64(10), reader.GetInt64(11)),
                ["memories"] = new(reader.GetInt64(4), reader.GetInt64(5)),
                ["memory_history"] = new(reader.GetInt64(6), reader.GetInt64(7)),
                ["document_chunks"] = new(reader.GetInt64(8), reader.GetInt64(9)),
            });
    }

    /// <summary>Runs one batch in the job's transaction; enqueues the successor when there is more.</summary>
    public async Task RunBatchAsync(JobContext context, KeyRotationPayload payload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(payload);
        var batchSize = Math.Clamp(payload.BatchSize, 1, MaxBatchSize);
        if (payload.Mode == Rewrap)
        {
            var rewrapped = await keys.RewrapAsync(context.Connection, context.Transaction, batchSize, cancellationToken).ConfigureAwait(false);
            var done = payload.Done + rewrapped;
            if (rewrapped == batchSize)
            {
                await context.EnqueueAsync(new JobRequest(JobType, payload with { Done = done }), cancellationToken).ConfigureAwait(false);
                return;
            }
            await AuditAsync(context, payload, done, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (payload.Mode != Reencrypt)
        {
            throw new InvalidOperationException($"Unknown key rotation mode '{payload.Mode}'.");
        }

        if (payload.Table is null)
        {
            // The first job only sets up the keys: they must be committed before the batches read them back by id.
            foreach (var orgId in await OrgsAsync(context, payload.OrgId, cancellationToken).ConfigureAwait(false))
            {
                if (payload.RotateDataKeys)
                {
                    await keys.ReplaceAsync(context.Connection, context.Transaction, orgId, DataKeyStore.Data, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await keys.EnsureActiveAsync(context.Connection, context.Transaction, orgId, DataKeyStore.Data, cancellationToken).ConfigureAwait(false);
                }
                await keys.EnsureActiveAsync(context.Connection, context.Transaction, orgId, DataKeyStore.Index, cancellationToken).ConfigureAwait(false);
            }
            await context.EnqueueAsync(new JobRequest(JobType, payload with { Table = Tables[0], After = null }), cancellationToken).ConfigureAwait(false);
            return;
        }

        var (scanned, changed, last) = payload.Table switch
        {
            "messages" => await MessagesAsync(context, payload, batchSize, cancellationToken).ConfigureAwait(false),
            "conversations" => await PreviewsAsync(context, payload, batchSize, cancellationToken).ConfigureAwait(false),
            "memories" => await MemoriesAsync(context, payload, batchSize, cancellationToken).ConfigureAwait(false),
            "memory_history" => await HistoryAsync(context, payload, batchSize, cancellationToken).ConfigureAwait(false),
            "document_chunks" => await ChunksAsync(context, payload, batchSize, cancellationToken).ConfigureAwait(false),
            _ => throw new InvalidOperationException($"Unknown table '{payload.Table}' in a key rotation payload."),
        };
        var total = payload.Done + changed;
        KeyRotationPayload? next = scanned == batchSize
            ? payload with { After = last, Done = total }
            : Array.IndexOf(Tables, payload.Table) is var index && index + 1 < Tables.Length
                ? payload with { Table = Tables[index + 1], After = null, Done = total }
                : null;
        if (next is not null)
        {
            await context.EnqueueAsync(new JobRequest(JobType, next), cancellationToken).ConfigureAwait(false);
            return;
        }
        await AuditAsync(context, payload, total, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<List<Guid>> OrgsAsync(JobContext context, Guid? orgId, CancellationToken cancellationToken)
    {
        await using var command = context.CreateCommand("SELECT id FROM orgs WHERE $1::uuid IS NULL OR id = $1 ORDER BY id");
        command.Parameters.Add(new() { Value = (object?)orgId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        var orgs = new List<Guid>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            orgs.Add(reader.GetGuid(0));
        }
        return orgs;
    }

    // Each walk selects a page by primary key with the row's organisation's active data key (FOR UPDATE: a concurrent
    // writer of the same row waits for this short transaction, or this one for it), rewrites what is not under that
    // key, and returns (rows scanned, rows rewritten, last key).
    private async Task<(int, int, string?)> MessagesAsync(JobContext context, KeyRotationPayload payload, int batchSize, CancellationToken cancellationToken)
    {
        var rows = await SelectAsync(context, """
            SELECT m.id::text, m.key_id, k.id, m.content, m.content_ct, NULL::text, NULL::bytea, NULL::text
            FROM messages m
            JOIN conversations c ON c.id = m.conversation_id
            JOIN data_keys k ON k.org_id = c.org_id AND k.purpose = 'data' AND k.retired_at IS NULL
            WHERE ($1::uuid IS NULL OR m.id > $1::uuid) AND ($2::uuid IS NULL OR c.org_id = $2)
            ORDER BY m.id
            LIMIT $3
            FOR UPDATE OF m
            """, payload, batchSize, cancellationToken).ConfigureAwait(false);
        var changed = await ResealIndexedAsync(context, rows, EncryptedField.MessageContent,
            "UPDATE messages SET content = NULL, key_id = $2, content_ct = $3, content_bi = $4 WHERE id = $1::uuid", (_, text) => text, cancellationToken)
            .ConfigureAwait(false);
        return (rows.Count, changed, rows.Count > 0 ? rows[^1].Id : null);
    }

    // The conversation list's preview (the start of the last message), sealed like messages.
    private async Task<(int, int, string?)> PreviewsAsync(JobContext context, KeyRotationPayload payload, int batchSize, CancellationToken cancellationToken)
    {
        var rows = await SelectAsync(context, """
            SELECT c.id::text, c.preview_key_id, k.id, c.last_message_preview, c.last_message_preview_ct, NULL::text, NULL::bytea, NULL::text
            FROM conversations c
            JOIN data_keys k ON k.org_id = c.org_id AND k.purpose = 'data' AND k.retired_at IS NULL
            WHERE ($1::uuid IS NULL OR c.id > $1::uuid) AND ($2::uuid IS NULL OR c.org_id = $2)
            ORDER BY c.id
            LIMIT $3
            FOR UPDATE OF c
            """, payload, batchSize, cancellationToken).ConfigureAwait(false);
        var changed = 0;
        foreach (var row in rows.Where(r => r.KeyId != r.TargetKeyId && (r.Plain ?? (object?)r.Ciphertext) is not null))
        {
            var key = await keys.GetAsync(row.TargetKeyId, cancellationToken).ConfigureAwait(false);
            var text = await cipher.OpenAsync(new StoredText(row.KeyId, row.Ciphertext, row.Plain), EncryptedField.MessageContent, row.Id, cancellationToken)
                .ConfigureAwait(false);
            await using var update = context.CreateCommand(
                "UPDATE conversations SET last_message_preview = NULL, preview_key_id = $2, last_message_preview_ct = $3 WHERE id = $1::uuid");
            update.Parameters.Add(new() { Value = row.Id });
            update.Parameters.Add(new() { Value = key.Id });
            update.Parameters.Add(new() { Value = FieldCipher.Seal(key, EncryptedField.MessageContent, text).Ciphertext! });
            changed += await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        return (rows.Count, changed, rows.Count > 0 ? rows[^1].Id : null);
    }

    private async Task<(int, int, string?)> MemoriesAsync(JobContext context, KeyRotationPayload payload, int batchSize, CancellationToken cancellationToken)
    {
        var rows = await SelectAsync(context, """
            SELECT m.id::text, m.key_id, k.id, m.text, m.text_ct, NULL::text, NULL::bytea, NULL::text
            FROM memories m
            JOIN data_keys k ON k.org_id = m.org_id AND k.purpose = 'data' AND k.retired_at IS NULL
            WHERE ($1::uuid IS NULL OR m.id > $1::uuid) AND ($2::uuid IS NULL OR m.org_id = $2)
            ORDER BY m.id
            LIMIT $3
            FOR UPDATE OF m
            """, payload, batchSize, cancellationToken).ConfigureAwait(false);
        var changed = await ResealIndexedAsync(context, rows, EncryptedField.MemoryText,
            "UPDATE memories SET text = NULL, key_id = $2, text_ct = $3, text_bi = $4 WHERE id = $1::uuid", (_, text) => text, cancellationToken)
            .ConfigureAwait(false);
        return (rows.Count, changed, rows.Count > 0 ? rows[^1].Id : null);
    }

    private async Task<(int, int, string?)> HistoryAsync(JobContext context, KeyRotationPayload payload, int batchSize, CancellationToken cancellationToken)
    {
        var rows = await SelectAsync(context, """
            SELECT h.id::text, h.key_id, k.id, h.old_text, h.old_text_ct, h.new_text, h.new_text_ct, NULL::text
            FROM memory_history h
            JOIN data_keys k ON k.org_id = h.org_id AND k.purpose = 'data' AND k.retired_at IS NULL
            WHERE ($1::bigint IS NULL OR h.id > $1::bigint) AND ($2::uuid IS NULL OR h.org_id = $2)
            ORDER BY h.id
            LIMIT $3
            FOR UPDATE OF h
            """, payload, batchSize, cancellationToken).ConfigureAwait(false);
        var changed = 0;
        // A row whose texts were purged (both NULL) has nothing to encrypt.
        foreach (var row in rows.Where(r => r.KeyId != r.TargetKeyId && (r.Plain ?? r.Plain2 ?? (object?)r.Ciphertext ?? r.Ciphertext2) is not null))
        {
            var key = await keys.GetAsync(row.TargetKeyId, cancellationToken).ConfigureAwait(false);
            var oldText = await cipher.OpenNullableAsync(row.KeyId, row.Ciphertext, row.Plain, EncryptedField.MemoryText, row.Id, cancellationToken).ConfigureAwait(false);
            var newText = await cipher.OpenNullableAsync(row.KeyId, row.Ciphertext2, row.Plain2, EncryptedField.MemoryText, row.Id, cancellationToken).ConfigureAwait(false);
            await using var update = context.CreateCommand("""
                UPDATE memory_history SET old_text = NULL, new_text = NULL, key_id = $2, old_text_ct = $3, new_text_ct = $4 WHERE id = $1::bigint
                """);
            update.Parameters.Add(new() { Value = row.Id });
            update.Parameters.Add(new() { Value = key.Id });
            update.Parameters.Add(Sealed(key, oldText));
            update.Parameters.Add(Sealed(key, newText));
            changed += await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        return (rows.Count, changed, rows.Count > 0 ? rows[^1].Id : null);
    }

    private async Task<(int, int, string?)> ChunksAsync(JobContext context, KeyRotationPayload payload, int batchSize, CancellationToken cancellationToken)
    {
        var rows = await SelectAsync(context, """
            SELECT c.id::text, c.key_id, k.id, c.content, c.content_ct, NULL::text, NULL::bytea, c.heading
            FROM document_chunks c
            JOIN documents d ON d.id = c.document_id
            JOIN data_keys k ON k.org_id = d.org_id AND k.purpose = 'data' AND k.retired_at IS NULL
            WHERE ($1::uuid IS NULL OR c.id > $1::uuid) AND ($2::uuid IS NULL OR d.org_id = $2)
            ORDER BY c.id
            LIMIT $3
            FOR UPDATE OF c
            """, payload, batchSize, cancellationToken).ConfigureAwait(false);
        // A chunk's heading is searchable with its text, as the full-text column had it.
        var changed = await ResealIndexedAsync(context, rows, EncryptedField.ChunkContent,
            "UPDATE document_chunks SET content = NULL, key_id = $2, content_ct = $3, content_bi = $4 WHERE id = $1::uuid",
            (row, text) => row.Heading + " " + text, cancellationToken).ConfigureAwait(false);
        return (rows.Count, changed, rows.Count > 0 ? rows[^1].Id : null);
    }

    // Messages, memories and chunks: one text column, re-sealed under the organisation's active key with its blind
    // index. The update takes $1 id, $2 key id, $3 ciphertext, $4 index tokens.
    private async Task<int> ResealIndexedAsync(JobContext context, List<Row> rows, EncryptedField field, string updateSql,
        Func<Row, string, string> indexedText, CancellationToken cancellationToken)
    {
        var changed = 0;
        foreach (var row in rows.Where(r => r.KeyId != r.TargetKeyId))
        {
            var (key, index) = await KeysAsync(row.TargetKeyId, cancellationToken).ConfigureAwait(false);
            var text = await cipher.OpenAsync(new StoredText(row.KeyId, row.Ciphertext, row.Plain), field, row.Id, cancellationToken).ConfigureAwait(false);
            await using var update = context.CreateCommand(updateSql);
            update.Parameters.Add(new() { Value = row.Id });
            update.Parameters.Add(new() { Value = key.Id });
            update.Parameters.Add(new() { Value = FieldCipher.Seal(key, field, text).Ciphertext! });
            update.Parameters.Add(Tokens(FieldCipher.Tokens(index, indexedText(row, text))));
            changed += await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        return changed;
    }

    private sealed record Row(string Id, Guid? KeyId, Guid TargetKeyId, string? Plain, byte[]? Ciphertext, string? Plain2, byte[]? Ciphertext2, string? Heading);

    private static async Task<List<Row>> SelectAsync(JobContext context, string sql, KeyRotationPayload payload, int batchSize, CancellationToken cancellationToken)
    {
        await using var command = context.CreateCommand(sql);
        command.Parameters.Add(new() { Value = (object?)payload.After ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)payload.OrgId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        command.Parameters.Add(new() { Value = batchSize });
        var rows = new List<Row>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(new Row(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetGuid(1), reader.GetGuid(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetFieldValue<byte[]>(4),
                reader.IsDBNull(5) ? null : reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetFieldValue<byte[]>(6),
                reader.IsDBNull(7) ? null : reader.GetString(7)));
        }
        return rows;
    }

    private async Task<(DataKey Data, DataKey Index)> KeysAsync(Guid dataKeyId, CancellationToken cancellationToken)
    {
        var data = await keys.GetAsync(dataKeyId, cancellationToken).ConfigureAwait(false);
        return (data, await cipher.IndexKeyAsync(data.OrgId, cancellationToken).ConfigureAwait(false));
    }

    private static NpgsqlParameter Tokens(byte[][] tokens) => new() { Value = tokens, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea };

    private static NpgsqlParameter Sealed(DataKey key, string? text) => new()
    {
        Value = text is null ? DBNull.Value : FieldCipher.Seal(key, EncryptedField.MemoryText, text).Ciphertext!,
        NpgsqlDbType = NpgsqlDbType.Bytea,
    };

    private static Task AuditAsync(JobContext context, KeyRotationPayload payload, long done, CancellationToken cancellationToken) =>
        IdentityAudit.WriteAsync(context.Connection, context.Transaction, new AuditEntry(payload.RequestedBy, RotationCompleted, "encryption",
            payload.OrgId?.ToString() ?? "all", new Dictionary<string, string?>
            {
                ["mode"] = payload.Mode,
                ["rotatedDataKeys"] = payload.Mode == Reencrypt && payload.RotateDataKeys ? "true" : "false",
                [payload.Mode == Rewrap ? "keysRewrapped" : "rowsReencrypted"] = done.ToString(CultureInfo.InvariantCulture),
                ["jobId"] = context.Job.Id.ToString(CultureInfo.InvariantCulture),
            }), cancellationToken);
}
