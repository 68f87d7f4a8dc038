using System.Buffers.Binary;
using AspireAi.Core.Encryption;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Core.Memory;

/// <summary>
/// What the planner knows about the memories table, read from its statistics for two decisions PostgreSQL would
/// otherwise make on every call by planning again:
/// <list type="bullet">
/// <item>Which of a keyword search's words are too common in the searched scopes to find memories by. PostgreSQL reads a
/// GIN index only as a bitmap, so a search for a word in 12,000 of a user's memories collects all 12,000 before its
/// LIMIT applies, and such a word tells the rows apart least.</item>
/// <item>How many rows the searched scopes hold, against the whole table: the semantic leg walks the HNSW graph or ranks
/// the scope exactly by that (<see cref="MemorySemanticQuery.Choose"/>).</item>
/// </list>
/// The matches are estimated the way the planner would: the word's share of the table (<c>pg_stats.most_common_elems</c>
/// of <c>memories.text_bi</c>) times the scopes' rows (<c>most_common_vals</c> of <c>scope_key</c>, or the average of
/// the others). The statistics are read at most every <see cref="MemoryOptions.KeywordStatisticsRefresh"/> (every 15 s
/// before the table's first ANALYZE); a failed read keeps the last ones (at first: none, so every word finds, and
/// PostgreSQL plans the semantic leg).
/// </summary>
public sealed partial class MemoryStatistics(NpgsqlDataSource dataSource, IOptions<MemoryOptions> options, TimeProvider time,
    ILogger<MemoryStatistics> logger) : IDisposable
{
    private static readonly Statistics None = new([], [], 0, 0, ScopesKnown: false, DateTimeOffset.MinValue);
    private static readonly TimeSpan UnknownRefresh = TimeSpan.FromSeconds(15);
    private readonly SemaphoreSlim refresh = new(1, 1);
    private Statistics? current;

    /// <summary>
    /// How the query's tokens find rows in <paramref name="scopeKeys"/> (all of them still rank what is found): by any
    /// of its rare tokens; when every token is common, by all of them together (one common word alone finds nothing by
    /// keyword). As Lucene's common-terms query does.
    /// </summary>
    public async ValueTask<KeywordMatch> MatchAsync(byte[][] tokens, IReadOnlyCollection<string> scopeKeys, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(scopeKeys);
        var limit = options.Value.KeywordCommonWordMatches;
        if (tokens.Length == 0 || limit == 0)
        {
            return new(tokens, RequireAll: false);
        }
        var statistics = await GetAsync(cancellationToken).ConfigureAwait(false);
        var scopeRows = scopeKeys.Sum(statistics.RowsOf);
        byte[][] rare = [.. tokens.Where(t => statistics.ShareOf(t) * scopeRows < limit)];
        if (rare.Length > 0)
        {
            return new(rare, RequireAll: false);
        }
        // "@>" an empty array would match every row; "&&" matches none.
        return tokens.Length > 1 ? new(tokens, RequireAll: true) : new([], RequireAll: false);
    }

    /// <summary>
    /// The estimated rows of <paramref name="scopeKeys"/> and of the whole table; null before the table was first
    /// analysed (or when its statistics cannot be read), when only PostgreSQL's own estimate is left.
    /// </summary>
    public async ValueTask<MemoryScopeSize?> ScopeSizeAsync(IReadOnlyCollection<string> scopeKeys, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scopeKeys);
        var statistics = await GetAsync(cancellationToken).ConfigureAwait(false);
        return statistics.ScopesKnown ? new MemoryScopeSize(scopeKeys.Sum(statistics.RowsOf), statistics.Rows) : null;
    }

    public void Dispose() => refresh.Dispose();

    private async ValueTask<Statistics> GetAsync(CancellationToken cancellationToken)
    {
        var statistics = Volatile.Read(ref current);
        if (statistics is not null && Fresh(statistics))
        {
            return statistics;
        }
        // One reader at a time; meanwhile the others use the last statistics (only the first searches wait).
        if (statistics is not null)
        {
            if (!await refresh.WaitAsync(0, cancellationToken).ConfigureAwait(false))
            {
                return statistics;
            }
        }
        else
        {
            await refresh.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        try
        {
            statistics = Volatile.Read(ref current);
            if (statistics is not null && Fresh(statistics))
            {
                return statistics;
            }
            statistics = await ReadAsync(cancellationToken).ConfigureAwait(false) ?? statistics ?? None;
            Volatile.Write(ref current, statistics with { ReadAt = time.GetUtcNow() });
            return statistics;
        }
        finally
        {
            refresh.Release();
        }
    }

    // Until the table is first analysed (a new installation: autovacuum analyses it once it has grown) they are looked
    // for again soon, so that the semantic leg's plan is chosen from then on rather than minutes later.
    private bool Fresh(Statistics statistics)
    {
        var refreshEvery = options.Value.KeywordStatisticsRefresh;
        return time.GetUtcNow() - statistics.ReadAt < (statistics.ScopesKnown || refreshEvery < UnknownRefresh ? refreshEvery : UnknownRefresh);
    }

    private async Task<Statistics?> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var batch = dataSource.CreateBatch();
            // reltuples is -1 before the first VACUUM or ANALYZE; n_distinct < 0 is a share of the rows.
            batch.BatchCommands.Add(new NpgsqlBatchCommand("""
                SELECT greatest(c.reltuples, 0)::float8, coalesce(s.n_distinct, 0)::float8, coalesce(s.null_frac, 0)::float8,
                       coalesce(s.most_common_vals::text::text[], '{}'), coalesce(s.most_common_freqs, '{}')::float8[]
                FROM pg_class c
                LEFT JOIN pg_stats s ON s.schemaname = current_schema() AND s.tablename = 'memories' AND s.attname = 'scope_key'
                WHERE c.oid = to_regclass('memories')
                """));
            // Three summary numbers follow the per-element shares; unnest pairs them with no element.
            batch.BatchCommands.Add(new NpgsqlBatchCommand("""
                SELECT e.token, e.share::float8
                FROM pg_stats s
                CROSS JOIN LATERAL unnest(s.most_common_elems::text::bytea[], s.most_common_elem_freqs) AS e(token, share)
                WHERE s.schemaname = current_schema() AND s.tablename = 'memories' AND s.attname = 'text_bi' AND e.token IS NOT NULL
                """));
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return None;
            }
            var rows = reader.GetDouble(0);
            var distinct = reader.GetDouble(1) < 0 ? -reader.GetDouble(1) * rows : reader.GetDouble(1);
            var keys = reader.GetFieldValue<string[]>(3);
            var keyShares = reader.GetFieldValue<double[]>(4);
            var scopes = new Dictionary<string, double>(StringComparer.Ordinal);
            for (var i = 0; i < Math.Min(keys.Length, keyShares.Length); i++)
            {
                scopes[keys[i]] = keyShares[i] * rows;
            }
            // A scope outside the most common ones: the planner's estimate, the rest of the rows spread evenly.
            var otherRows = Math.Max(0, 1 - keyShares.Sum() - reader.GetDouble(2)) * rows / Math.Max(1, distinct - keys.Length);
            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            var tokens = new Dictionary<UInt128, double>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var token = reader.GetFieldValue<byte[]>(0);
                if (token.Length == FieldCipher.TokenSize)
                {
                    tokens[Key(token)] = reader.GetDouble(1);
                }
            }
            // Without an ANALYZE of scope_key (a table only vacuumed so far) every scope would look like the whole table.
            return new Statistics(tokens, scopes, otherRows, rows, ScopesKnown: rows > 0 && distinct > 0, DateTimeOffset.MinValue);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            LogStatisticsUnavailable(ex);
            return null;
        }
    }

    private static UInt128 Key(byte[] token) => BinaryPrimitives.ReadUInt128LittleEndian(token);

    private sealed record Statistics(Dictionary<UInt128, double> TokenShares, Dictionary<string, double> ScopeRows, double OtherScopeRows, double Rows,
        bool ScopesKnown, DateTimeOffset ReadAt)
    {
        // A token outside the most common elements is rarer than all of them: 0 here.
        public double ShareOf(byte[] token) => token.Length == FieldCipher.TokenSize && TokenShares.TryGetValue(Key(token), out var share) ? share : 0;

        public double RowsOf(string scopeKey) => ScopeRows.TryGetValue(scopeKey, out var rows) ? rows : OtherScopeRows;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The memories table's statistics could not be read; every word finds keyword candidates until the next read")]
    private partial void LogStatisticsUnavailable(Exception exception);
}

/// <summary>Estimated rows of the searched scopes and of the whole <c>memories</c> table.</summary>
public sealed record MemoryScopeSize(double ScopeRows, double TableRows);

/// <summary>The tokens a keyword search finds rows by, and whether a row needs all of them (<c>@&gt;</c>) or any (<c>&amp;&amp;</c>).</summary>
public sealed record KeywordMatch(byte[][] Tokens, bool RequireAll)
{
    /// <summary>The array operator on <c>text_bi</c>.</summary>
    public string Operator => RequireAll ? "@>" : "&&";
}
