using System.ComponentModel.DataAnnotations;

namespace AspireAi.Core.Idempotency;

/// <summary>Idempotency-Key handling (section "Idempotency").</summary>
public sealed class IdempotencyOptions
{
    public const string SectionName = "Idempotency";

    /// <summary>How long a key and its stored response are kept.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "30.00:00:00")] public TimeSpan Retention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// How long a first request may run before a retry with the same key may take over (its process is presumed
    /// dead). Longer than the slowest request: a chat answer may take Chat:RequestTimeoutSeconds.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:05", "01:00:00")] public TimeSpan InFlightLease { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Responses larger than this are not stored: the key is released and a retry runs again.</summary>
    [Range(1_024, 64 * 1024 * 1024)] public int MaxStoredResponseBytes { get; set; } = 1024 * 1024;

    /// <summary>Rows the sweep deletes per batch.</summary>
    [Range(1, 100_000)] public int SweepBatchSize { get; set; } = 5_000;
}
