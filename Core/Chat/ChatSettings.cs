using System.ComponentModel.DataAnnotations;

namespace AspireAi.Core.Chat;

/// <summary>Limits and defaults of the chat request path (section "Chat").</summary>
public sealed class ChatSettings
{
    public const string SectionName = "Chat";

    [Range(1, 200_000)] public int MaxInputChars { get; set; } = 8_000;
    [Range(1, 100_000)] public int MaxOutputTokens { get; set; } = 1_024;
    [Range(1, 3_600)] public int RequestTimeoutSeconds { get; set; } = 120;

    /// <summary>History is the newest messages that fit this many (estimated) tokens.</summary>
    [Range(0, 1_000_000)] public int HistoryTokenBudget { get; set; } = 3_000;
    [Range(0, 1_000)] public int HistoryMaxMessages { get; set; } = 40;

    [Required] public string SystemPromptName { get; set; } = "chat.system";

    /// <summary>
    /// Whether the project's tools (memory, documents, built-ins) are offered to the model. Off for a model without
    /// function calling, or to keep every turn to one provider call; the client's own tools on the OpenAI-compatible
    /// API are still passed on.
    /// </summary>
    public bool EnableTools { get; set; } = true;

    /// <summary>Per-user tokens (input + output) per UTC day; 0 turns the budget off.</summary>
    [Range(0, long.MaxValue)] public long DailyTokenBudget { get; set; } = 500_000;

    /// <summary>
    /// Whether answers of deterministic turns (temperature 0, no tool called) are kept and served again to the same
    /// user for the same request without a provider call (<see cref="ExactResponseCache"/>). Off by default: a
    /// deployment whose model is not deterministic at temperature 0 would otherwise freeze one sample.
    /// </summary>
    public bool ExactResponseCache { get; set; }

    /// <summary>How long a cached answer is served.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan ExactResponseCacheDuration { get; set; } = TimeSpan.FromHours(1);
}

/// <summary>Price per million tokens for a model (section "Pricing:Models:{model}").</summary>
public sealed class ModelPrice
{
    [Range(0, 10_000)] public decimal InputPerMillion { get; set; }
    [Range(0, 10_000)] public decimal OutputPerMillion { get; set; }
}

public sealed class PricingSettings
{
    public const string SectionName = "Pricing";

    public Dictionary<string, ModelPrice> Models { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Cost of a call; a model missing from the table costs nothing (and is logged by the caller).
    /// Versioned model ids ("gpt-4o-mini-2024-07-18") fall back to the longest configured prefix.</summary>
    public decimal CostOf(string model, int inputTokens, int outputTokens)
    {
        var price = Find(model);
        return price is null ? 0m : (inputTokens * price.InputPerMillion + outputTokens * price.OutputPerMillion) / 1_000_000m;
    }

    public bool IsPriced(string model) => Find(model) is not null;

    private ModelPrice? Find(string model)
    {
        if (Models.TryGetValue(model, out var exact))
        {
            return exact;
        }
        return Models.Where(m => model.StartsWith(m.Key, StringComparison.OrdinalIgnoreCase))
            .OrderByDescending(m => m.Key.Length)
            .Select(m => m.Value)
            .FirstOrDefault();
    }
}
