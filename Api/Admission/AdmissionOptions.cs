using System.ComponentModel.DataAnnotations;

namespace AspireAi.Api.Admission;

/// <summary>
/// Admission control for chat turns (section "Admission"): each Api instance runs at most
/// <see cref="MaxConcurrentChatTurns"/> turns at once, prepares at most <see cref="MaxConcurrentPreparations"/> of them
/// at once, and refuses the rest with 503 + Retry-After, so an overload is a quick, retryable answer instead of a queue
/// in which every stream gets slow.
/// </summary>
public sealed class AdmissionOptions
{
    public const string SectionName = "Admission";

    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Chat turns (native and OpenAI-compatible, streamed or not) in flight per instance, counted from admission to
    /// the last byte of the answer. A turn mostly waits on the model, so this is far above the core count; the
    /// benchmark (bench/AspireAi.ChatBench) is how to size it for a machine and a provider's latency.
    /// </summary>
    [Range(1, 100_000)] public int MaxConcurrentChatTurns { get; set; } = 1_000;

    /// <summary>Turns that may wait for a free slot (oldest first) before refusals start; 0 refuses at once.</summary>
    [Range(0, 100_000)] public int QueueLimit { get; set; }

    /// <summary>
    /// Turns in their preparation phase at once per instance: history, retrieval, query embedding and the durable insert
    /// of the user message, the CPU- and connection-heavy part before the first token. A few per core keep both cores
    /// busy while some turns wait on Postgres, and a handful of pooled connections each stay far below the pool size.
    /// </summary>
    [Range(1, 10_000)] public int MaxConcurrentPreparations { get; set; } = 8;

    /// <summary>
    /// The longest a turn waits for a preparation slot. A turn whose expected wait (queue length × recent preparation
    /// time ÷ slots) is longer is refused at once with 503 + Retry-After; this is the added latency an admitted turn
    /// may see under overload. Raise it to absorb bursts with slower first tokens instead of refusals.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:05:00")] public TimeSpan MaxPreparationWait { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The Retry-After of a refusal.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")] public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(1);
}
