using System.ComponentModel.DataAnnotations;

namespace AspireAi.Core.RetrievalQuality;

/// <summary>Retrieval-quality recording and its alert (section "RetrievalQuality").</summary>
public sealed class RetrievalQualityOptions
{
    public const string SectionName = "RetrievalQuality";

    /// <summary>A 15-minute window whose average top similarity (of memory or of document retrieval) is below this alerts.</summary>
    [Range(0.0, 1.0)] public double AlertThreshold { get; set; } = 0.75;

    /// <summary>A window alerts only once it holds this many scored retrievals of the source, so one odd query does not.</summary>
    [Range(1, 1_000_000)] public int AlertMinRetrievals { get; set; } = 10;

    /// <summary>How often each instance adds what it recorded to the database and checks the alert.</summary>
    [Range(1, 3_600)] public int FlushIntervalSeconds { get; set; } = 15;
}
