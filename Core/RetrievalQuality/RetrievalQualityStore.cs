using Npgsql;
using NpgsqlTypes;

namespace AspireAi.Core.RetrievalQuality;

/// <summary>One source's figures in one window; averages are null when nothing was scored.</summary>
public sealed record SourceQuality(long Retrievals, long Scored, double? AverageTopSimilarity, long LowConfidence, double? LowConfidenceRate, bool Alert);

/// <summary>The recall monitor's runs in one window, averaged (null when it did not run).</summary>
public sealed record RecallFigures(int Runs, double FilteredRecall, double GlobalRecall, double NearestFound, int K);

public sealed record QualityWindow(DateTimeOffset WindowStart, DateTimeOffset WindowEnd, SourceQuality Memory, SourceQuality Document, RecallFigures? Recall);

/// <summary>A window whose average top similarity fell below the threshold, reported once.</summary>
public sealed record QualityAlert(DateTimeOffset WindowStart, string Source, double AverageTopSimilarity, long Scored);

/// <summary>The retrieval-quality windows (migration 0020): added to by every Api instance, read by the admin report.</summary>
public sealed class RetrievalQualityStore(NpgsqlDataSource dataSource)
{
    /// <summary>Adds tallies to their windows in one statement (the counts of all instances sum up).</summary>
    public async Task AddAsync(IReadOnlyList<RetrievalTally> tallies, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tallies);
        if (tallies.Count == 0)
        {
            return;
        }
        await using var command = dataSource.CreateCommand("""
            INSERT INTO retrieval_quality_windows AS w (window_start, source, retrievals, scored, similarity_sum, low_confidence)
            SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::bigint[], $4::bigint[], $5::double precision[], $6::bigint[])
            ON CONFLICT (window_start, source) DO UPDATE
                SET retrievals = w.retrievals + excluded.retrievals, scored = w.scored + excluded.scored,
                    similarity_sum = w.similarity_sum + excluded.similarity_sum, low_confidence = w.low_confidence + excluded.low_confidence
            """);
        command.Parameters.Add(new() { Value = tallies.Select(t => t.WindowStart).ToArray() });
        command.Parameters.Add(new() { Value = tallies.Select(t => t.Source).ToArray() });
        command.Parameters.Add(new() { Value = tallies.Select(t => t.Retrievals).ToArray() });
        command.Parameters.Add(new() { Value = tallies.Select(t => t.Scored).ToArray() });
        command.Parameters.Add(new() { Value = tallies.Select(t => t.SimilaritySum).ToArray() });
        command.Parameters.Add(new() { Value = tallies.Select(t => t.LowConfidence).ToArray() });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Marks the windows starting in [<paramref name="from"/>, <paramref name="to"/>) whose average top similarity is below the threshold
    /// with enough scored retrievals, and returns those newly marked: whichever instance marks a window reports it.
    /// </summary>
    public async Task<IReadOnlyList<QualityAlert>> MarkAlertsAsync(DateTimeOffset from, DateTimeOffset to, double threshold, int minScored, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE retrieval_quality_windows SET alerted_at = now()
            WHERE window_start >= $1 AND window_start < $4 AND alerted_at IS NULL AND scored >= $3 AND similarity_sum / scored < $2
            RETURNING window_start, source, similarity_sum / scored, scored
            """);
        command.Parameters.Add(new() { Value = from });
        command.Parameters.Add(new() { Value = threshold });
        command.Parameters.Add(new() { Value = (long)minScored });
        command.Parameters.Add(new() { Value = to });
        var alerts = new List<QualityAlert>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            alerts.Add(new QualityAlert(reader.GetFieldValue<DateTimeOffset>(0), reader.GetString(1), reader.GetDouble(2), reader.GetInt64(3)));
        }
        return alerts;
    }

    /// <summary>Every window in [from, to) that has retrievals or a recall run, oldest first.</summary>
    public async Task<IReadOnlyList<QualityWindow>> WindowsAsync(DateTimeOffset from, DateTimeOffset to, double threshold, int minScored,
        CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch();
        var windows = new NpgsqlBatchCommand("""
            SELECT window_start, source, retrievals, scored, similarity_sum, low_confidence
            FROM retrieval_quality_windows WHERE window_start >= $1 AND window_start < $2
            """);
        windows.Parameters.Add(new() { Value = RetrievalQualityRecorder.WindowOf(from) });
        windows.Parameters.Add(new() { Value = to });
        // The same 15-minute bucketing, in SQL: epoch seconds floored to 900.
        var recall = new NpgsqlBatchCommand("""
            SELECT to_timestamp(floor(extract(epoch FROM at) / 900) * 900) AS window_start, count(*)::integer,
                   avg(filtered_recall), avg(global_recall), avg(nearest_found), max(k)
            FROM recall_measurements WHERE at >= $1 AND at < $2
            GROUP BY 1
            """);
        recall.Parameters.Add(new() { Value = RetrievalQualityRecorder.WindowOf(from) });
        recall.Parameters.Add(new() { Value = to });
        batch.BatchCommands.Add(windows);
        batch.BatchCommands.Add(recall);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        batch.Connection = connection;

        var sources = new Dictionary<(DateTimeOffset, string), SourceQuality>();
        var recalls = new Dictionary<DateTimeOffset, RecallFigures>();
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var (retrievals, scored, sum, low) = (reader.GetInt64(2), reader.GetInt64(3), reader.GetDouble(4), reader.GetInt64(5));
                double? average = scored == 0 ? null : sum / scored;
                sources[(reader.GetFieldValue<DateTimeOffset>(0), reader.GetString(1))] = new SourceQuality(retrievals, scored, average, low,
                    retrievals == 0 ? null : (double)low / retrievals, scored >= minScored && average < threshold);
            }
            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                recalls[reader.GetFieldValue<DateTimeOffset>(0)] = new RecallFigures(reader.GetInt32(1), reader.GetDouble(2), reader.GetDouble(3),
                    reader.GetDouble(4), reader.GetInt32(5));
            }
        }

        var empty = new SourceQuality(0, 0, null, 0, null, false);
        return [.. sources.Keys.Select(k => k.Item1).Concat(recalls.Keys).Distinct().Order().Select(start => new QualityWindow(
            start, start + RetrievalQualityRecorder.Window,
            sources.GetValueOrDefault((start, RetrievalSources.Memory), empty),
            sources.GetValueOrDefault((start, RetrievalSources.Document), empty),
            recalls.GetValueOrDefault(start)))];
    }

    /// <summary>Stores one recall-monitor run, in the caller's transaction (the Workers' job).</summary>
    public static async Task AddRecallAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string model, int k, int samples,
        double filteredRecall, double globalRecall, double nearestFound, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            INSERT INTO recall_measurements (model, k, samples, filtered_recall, global_recall, nearest_found) VALUES ($1, $2, $3, $4, $5, $6)
            """, connection, transaction);
        command.Parameters.Add(new() { Value = model });
        command.Parameters.Add(new() { Value = k });
        command.Parameters.Add(new() { Value = samples });
        command.Parameters.Add(new() { Value = filteredRecall, NpgsqlDbType = NpgsqlDbType.Double });
        command.Parameters.Add(new() { Value = globalRecall, NpgsqlDbType = NpgsqlDbType.Double });
        command.Parameters.Add(new() { Value = nearestFound, NpgsqlDbType = NpgsqlDbType.Double });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
