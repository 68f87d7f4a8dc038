using AspireAi.Core.Documents;
using AspireAi.Core.Documents.Ingestion;
using AspireAi.Core.Llm;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace AspireAi.Workers.Documents;

/// <summary>
/// Refuses to start the Workers when <c>document_chunks.embedding</c> is not <c>vector(EmbeddingDefaults.Dimensions)</c>:
/// every ingestion would fail otherwise. The migration and the constant must change together.
/// </summary>
internal sealed partial class EmbeddingDimensionsCheck(NpgsqlDataSource dataSource, ILogger<EmbeddingDimensionsCheck> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var width = await ReadWidthAsync(dataSource, cancellationToken).ConfigureAwait(false);
        if (width is null)
        {
            LogNoTable();
            return;
        }

        if (width != EmbeddingDefaults.Dimensions)
        {
            throw new InvalidOperationException(
                $"document_chunks.embedding is vector({width}) but embeddings have {EmbeddingDefaults.Dimensions} dimensions; add a migration that changes the column.");
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The declared width of the embedding column, or null when the table does not exist (yet).</summary>
    internal static async Task<int?> ReadWidthAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        // For pgvector's vector(n) the type modifier is n itself.
        await using var command = dataSource.CreateCommand("""
            SELECT a.atttypmod FROM pg_attribute a
            WHERE a.attrelid = to_regclass('document_chunks') AND a.attname = 'embedding' AND NOT a.attisdropped
            """);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is int width ? width : null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "document_chunks does not exist yet: migrations have not run; the dimension check is skipped")]
    private partial void LogNoTable();
}
