namespace AspireAi.Core.RetrievalQuality;

/// <summary>The sources whose retrievals are recorded.</summary>
public static class RetrievalSources
{
    public const string Memory = "memory";
    public const string Document = "document";
}

/// <summary>What one instance recorded for one source in one window since its last flush.</summary>
public sealed record RetrievalTally(DateTimeOffset WindowStart, string Source, long Retrievals, long Scored, double SimilaritySum, long LowConfidence);

/// <summary>
/// Counts retrievals in process memory, per 15-minute window and source: the chat path pays a lock and four additions,
/// never a database round trip. <see cref="RetrievalQualityMonitor"/> drains the tallies into the database.
/// </summary>
public sealed class RetrievalQualityRecorder(TimeProvider time)
{
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(15);

    private readonly Lock _gate = new();
    private Dictionary<(DateTimeOffset, string), Tally> _tallies = [];

    /// <summary>The start of the 15-minute window holding <paramref name="at"/> (UTC, aligned to the hour).</summary>
    public static DateTimeOffset WindowOf(DateTimeOffset at) =>
        new(at.UtcTicks - at.UtcTicks % Window.Ticks, TimeSpan.Zero);

    /// <summary>One retrieval: its best similarity (null when it found no candidate) and whether it was low-confidence.</summary>
    public void Record(string source, double? topSimilarity, bool lowConfidence)
    {
        var key = (WindowOf(time.GetUtcNow()), source);
        lock (_gate)
        {
            if (!_tallies.TryGetValue(key, out var tally))
            {
                _tallies[key] = tally = new Tally();
            }
            tally.Retrievals++;
            if (topSimilarity is { } similarity && double.IsFinite(similarity))
            {
                tally.Scored++;
                tally.SimilaritySum += similarity;
            }
            if (lowConfidence)
            {
                tally.LowConfidence++;
            }
        }
    }

    /// <summary>Takes everything recorded so far, leaving the recorder empty.</summary>
    public IReadOnlyList<RetrievalTally> Drain()
    {
        Dictionary<(DateTimeOffset, string), Tally> taken;
        lock (_gate)
        {
            taken = _tallies;
            _tallies = [];
        }
        return [.. taken.Select(t => new RetrievalTally(t.Key.Item1, t.Key.Item2, t.Value.Retrievals, t.Value.Scored, t.Value.SimilaritySum, t.Value.LowConfidence))];
    }

    /// <summary>Puts back tallies a failed flush could not store, so they go with the next one.</summary>
    public void Restore(IEnumerable<RetrievalTally> tallies)
    {
        ArgumentNullException.ThrowIfNull(tallies);
        lock (_gate)
        {
            foreach (var t in tallies)
            {
                if (!_tallies.TryGetValue((t.WindowStart, t.Source), out var tally))
                {
                    _tallies[(t.WindowStart, t.Source)] = tally = new Tally();
                }
                tally.Retrievals += t.Retrievals;
                tally.Scored += t.Scored;
                tally.SimilaritySum += t.SimilaritySum;
                tally.LowConfidence += t.LowConfidence;
            }
        }
    }

    private sealed class Tally
    {
        public long Retrievals;
        public long Scored;
        public double SimilaritySum;
        public long LowConfidence;
    }
}
