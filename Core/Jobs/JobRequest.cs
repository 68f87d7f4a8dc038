using System.Text.Json;
using System.Text.RegularExpressions;

namespace AspireAi.Core.Jobs;

/// <summary>
/// A job to enqueue: its type (which selects the handler), a JSON payload, and how and when it should run.
/// </summary>
public sealed partial record JobRequest
{
    /// <summary>Creates a request whose payload is the given JSON (an empty object when undefined).</summary>
    public JobRequest(string type, JsonElement payload)
    {
        ValidateType(type);
        Type = type;
        Payload = payload.ValueKind == JsonValueKind.Undefined ? EmptyObject : payload.Clone();
    }

    /// <summary>Creates a request whose payload is <paramref name="payload"/> serialized with the web defaults
    /// (camelCase), or an empty object.</summary>
    public JobRequest(string type, object? payload = null)
        : this(type, payload is null ? EmptyObject : JsonSerializer.SerializeToElement(payload, JsonSerializerOptions.Web))
    {
    }

    /// <summary>The job type: lowercase letters, digits and <c>. _ : -</c>, at most 100 characters.</summary>
    public string Type { get; }

    public JsonElement Payload { get; }

    /// <summary>Higher runs first among jobs that are due. Default 0.</summary>
    public int Priority { get; init; }

    /// <summary>Earliest time to run (UTC or any offset). Wins over <see cref="Delay"/>.</summary>
    public DateTimeOffset? RunAt { get; init; }

    /// <summary>Earliest time to run, relative to the database's clock at enqueue.</summary>
    public TimeSpan? Delay { get; init; }

    /// <summary>
    /// Makes the enqueue idempotent: while a job of the same type with this key is queued or running, enqueuing
    /// again returns that job instead of adding one. Once it has finished, the key can be used again.
    /// </summary>
    public string? DedupeKey { get; init; }

    /// <summary>Overrides <c>Jobs:Types:{type}:MaxAttempts</c> for this job.</summary>
    public int? MaxAttempts { get; init; }

    public const int MaxTypeLength = 100;
    public const int MaxDedupeKeyLength = 400;

    public static bool IsValidType(string? type) => type is not null && TypePattern().IsMatch(type);

    internal void Validate()
    {
        if (MaxAttempts is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxAttempts), MaxAttempts, "A job needs at least one attempt.");
        }
        if (Delay is { } delay && delay < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(Delay), delay, "The delay cannot be negative.");
        }
        if (DedupeKey is { } key && (key.Length == 0 || key.Length > MaxDedupeKeyLength))
        {
            throw new ArgumentOutOfRangeException(nameof(DedupeKey), key.Length, $"A dedupe key has 1 to {MaxDedupeKeyLength} characters.");
        }
    }

    private static void ValidateType(string type)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (!IsValidType(type))
        {
            throw new ArgumentException(
                $"Job type '{type}' is invalid: use lowercase letters, digits and '. _ : -', starting with a letter or digit, at most {MaxTypeLength} characters.",
                nameof(type));
        }
    }

    private static readonly JsonElement EmptyObject = JsonElement.Parse("{}");

    [GeneratedRegex("^[a-z0-9][a-z0-9._:-]{0,99}$", RegexOptions.CultureInvariant)]
    private static partial Regex TypePattern();
}
