using AspireAi.Core.Common;
using AspireAi.Core.Documents.Retrieval;
using AspireAi.Core.Encryption;
using AspireAi.Core.Llm;
using Npgsql;
using NpgsqlTypes;
using Pgvector;

namespace AspireAi.Core.Documents.Ingestion;

/// <summary>A chunk ready to store.</summary>
public sealed record ChunkRow(Guid Id, int Ordinal, string? Heading, string Content, int TokenCount, int StartOffset, int EndOffset,
    string MetadataJson, float[] Embedding);

/// <summary>Bulk-writes chunks with binary COPY, on the caller's connection and transaction.</summary>
public static class ChunkWriter
{
    /// <summary>Writes <paramref name="chunks"/> of one document, their text sealed with the data key of
    /// <paramref name="keys"/> and indexed with its index key (the document's organisation's).</summary>
    public static Task<int> WriteAsync(NpgsqlConnection connection, Guid documentId, Guid scopeKey, string model, (DataKey Data, DataKey Index) keys,
        IReadOnlyList<ChunkRow> chunks, CancellationToken cancellationToken) =>
        WriteAsync(connection, documentId, scopeKey, model, keys, chunks.ToAsyncEnumerable(), cancellationToken);

    /// <summary>
    /// Streams chunks into the table as they come: PostgreSQL inserts (and indexes) each row as it arrives, while the
    /// producer prepares the next ones. Returns the number of rows written.
    /// </summary>
    public static async Task<int> WriteAsync(NpgsqlConnection connection, Guid documentId, Guid scopeKey, string model, (DataKey Data, DataKey Index) keys,
        IAsyncEnumerable<ChunkRow> chunks, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(chunks);
        var written = 0;
        await using var importer = await connection.BeginBinaryImportAsync("""
            COPY document_chunks (id, document_id, scope_key, ordinal, heading, key_id, content_ct, token_count, start_offset, end_offset,
                                  metadata, embedding, embedding_model, injection_flags, content_bi)
            FROM STDIN (FORMAT BINARY)
            """, cancellationToken).ConfigureAwait(false);
        await foreach (var chunk in chunks.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            written++;
            await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(chunk.Id, NpgsqlDbType.Uuid, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(documentId, NpgsqlDbType.Uuid, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(scopeKey, NpgsqlDbType.Uuid, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(chunk.Ordinal, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
            if (chunk.Heading is null)
            {
                await importer.WriteNullAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await importer.WriteAsync(chunk.Heading, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            }

            await importer.WriteAsync(keys.Data.Id, NpgsqlDbType.Uuid, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(FieldCipher.Seal(keys.Data, EncryptedField.ChunkContent, chunk.Content).Ciphertext!, NpgsqlDbType.Bytea, cancellationToken)
                .ConfigureAwait(false);
            await importer.WriteAsync(chunk.TokenCount, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(chunk.StartOffset, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(chunk.EndOffset, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(chunk.MetadataJson, NpgsqlDbType.Jsonb, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(ToVector(chunk.Embedding), "vector", cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(model, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(PromptInjection.Names(PromptInjection.Scan(PassageScreen.Headed(chunk.Heading, chunk.Content))), NpgsqlDbType.Array | NpgsqlDbType.Text, cancellationToken)
                .ConfigureAwait(false);
            // The heading's words too: the plain full-text vector indexed them, and keyword search should still find them.
            await importer.WriteAsync(FieldCipher.Tokens(keys.Index, chunk.Heading + " " + chunk.Content), NpgsqlDbType.Array | NpgsqlDbType.Bytea, cancellationToken)
                .ConfigureAwait(false);
        }

        await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        return written;
    }

    // The column's error would name neither the model nor the expected size.
    public static Vector ToVector(float[] values) =>
        values.Length == EmbeddingDefaults.Dimensions
            ? new Vector(values)
            : throw new InvalidOperationException($"A vector of {values.Length} dimensions cannot be stored in vector({EmbeddingDefaults.Dimensions}).");
}
