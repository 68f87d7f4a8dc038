using System.ComponentModel.DataAnnotations;

namespace AspireAi.ServiceDefaults;

// Settings of one resilience pipeline: total timeout -> retry -> circuit breaker -> attempt timeout.
// Bound per profile from "Resilience:{Profile}" (e.g. Resilience:Llm:AttemptTimeout = "00:03:00");
// the property defaults are the standard profile, the LLM profile overrides some in ApplyLlmDefaults.
public sealed class HttpResilienceProfile : IValidatableObject
{
    public const string Standard = "standard";
    public const string Llm = "llm";
    public const string ConfigurationSectionPrefix = "Resilience";

    [Range(typeof(TimeSpan), "00:00:00.010", "1.00:00:00")]
    public TimeSpan TotalRequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    [Range(1, 10)]
    public int MaxRetryAttempts { get; set; } = 3;

    // Exponential with jitter: about 2 s, 4 s, 8 s for the default three retries.
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(2);

    // Also caps a server's Retry-After, so a "come back in an hour" cannot park a request that long.
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    [Range(0.01, 1.0)]
    public double CircuitBreakerFailureRatio { get; set; } = 0.1;

    [Range(2, int.MaxValue)]
    public int CircuitBreakerMinimumThroughput { get; set; } = 100;

    [Range(typeof(TimeSpan), "00:00:00.500", "1.00:00:00")]
    public TimeSpan CircuitBreakerSamplingDuration { get; set; } = TimeSpan.FromSeconds(30);

    [Range(typeof(TimeSpan), "00:00:00.500", "1.00:00:00")]
    public TimeSpan CircuitBreakerBreakDuration { get; set; } = TimeSpan.FromSeconds(5);

    [Range(typeof(TimeSpan), "00:00:00.010", "1.00:00:00")]
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (AttemptTimeout > TotalRequestTimeout)
        {
            yield return new ValidationResult(
                $"{nameof(AttemptTimeout)} must not exceed {nameof(TotalRequestTimeout)}.",
                [nameof(AttemptTimeout), nameof(TotalRequestTimeout)]);
        }

        // A window shorter than two attempts would judge the circuit on too few completed calls.
        if (CircuitBreakerSamplingDuration < AttemptTimeout * 2)
        {
            yield return new ValidationResult(
                $"{nameof(CircuitBreakerSamplingDuration)} must be at least twice {nameof(AttemptTimeout)}.",
                [nameof(CircuitBreakerSamplingDuration), nameof(AttemptTimeout)]);
        }
    }

    // Generations take minutes and each one is expensive, so wait longer and retry less; model servers
    // see little traffic per client, hence a lower throughput floor and a higher ratio before breaking.
    internal static void ApplyLlmDefaults(HttpResilienceProfile profile)
    {
        profile.AttemptTimeout = TimeSpan.FromMinutes(2);
        profile.TotalRequestTimeout = TimeSpan.FromMinutes(5);
        profile.MaxRetryAttempts = 2;
        profile.CircuitBreakerSamplingDuration = TimeSpan.FromMinutes(5);
        profile.CircuitBreakerMinimumThroughput = 10;
        profile.CircuitBreakerFailureRatio = 0.5;
        profile.CircuitBreakerBreakDuration = TimeSpan.FromSeconds(15);
    }
}
