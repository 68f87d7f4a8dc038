using System.Globalization;
using System.Text.Json;
using AspireAi.Core.Chat;
using AspireAi.Core.Llm;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AspireAi.Core.Memory;

/// <summary>The model calls of the pipeline, with their token usage, for the usage ledger.</summary>
public sealed record MemoryModelUsage(string Operation, string Model, int InputTokens, int OutputTokens, bool Estimated);

/// <summary>What an extraction call produced.</summary>
public sealed record ExtractionResult(IReadOnlyList<MemoryFact> Facts, IReadOnlyList<string> Rejected, bool Repaired, bool Retried,
    string PromptName, int PromptVersion, IReadOnlyList<MemoryModelUsage> Usage);

/// <summary>The model's answer could not be used, even after repair and one retry: the job fails and is retried.</summary>
public sealed class MemoryExtractionException : Exception
{
    public MemoryExtractionException() { }

    public MemoryExtractionException(string message) : base(message) { }

    public MemoryExtractionException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>
/// The two structured model calls: extraction (exchange → facts) and consolidation (fact + similar memories →
/// decision). Prompts are the active versions of <c>memory.extract</c> / <c>memory.consolidate</c>. Answers are
/// repaired (<see cref="JsonRepair"/>), validated against the schema, and retried once with the problem spelled out;
/// every failure is counted (<see cref="MemoryMetrics"/>) and logged.
/// </summary>
public sealed partial class MemoryLanguageModel(
    IChatClient chatClient,
    PromptStore prompts,
    MemoryMetrics metrics,
    IOptions<MemoryOptions> options,
    TimeProvider time,
    ILogger<MemoryLanguageModel> logger)
{
    public async Task<ExtractionResult> ExtractAsync(IReadOnlyList<(string Role, string Content)> exchange, Guid userId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        var settings = options.Value;
        var prompt = await prompts.GetActiveAsync(settings.ExtractionPromptName, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"No active version of prompt '{settings.ExtractionPromptName}'.");
        var system = prompt.Render(new Dictionary<string, string>
        {
            ["today"] = time.GetUtcNow().ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            ["max_facts"] = settings.MaxFactsPerExtraction.ToString(CultureInfo.InvariantCulture),
        }) + "\n" + MemoryPrompts.MaxFactsLine(settings.MaxFactsPerExtraction);
        List<ChatMessage> messages =
        [
            new(ChatRole.System, system),
            new(ChatRole.User, MemoryPrompts.WriteExchange(exchange)),
        ];
        var chatOptions = Options(prompt, MemorySchemas.FactsSchema, MemorySchemas.FactsSchemaName,
            "Atomic facts about the user from one exchange.", userId, 2_000);
        var usage = new List<MemoryModelUsage>();
        var answer = await AskAsync<ParsedFacts>(messages, chatOptions, ExtractionCall, usage, parsed =>
        {
            var facts = MemorySchemas.ReadFacts(parsed);
            return facts.Facts is null ? (null, facts.Error) : (facts, null);
        }, cancellationToken).ConfigureAwait(false);
        if (answer is { Value: var read })
        {
            foreach (var rejected in read.Rejected)
            {
                metrics.ExtractionFailed("schema");
                LogFactRejected(rejected);
            }
            return new ExtractionResult([.. read.Facts!.Take(settings.MaxFactsPerExtraction)], read.Rejected, answer.Repaired, answer.Retried,
                prompt.Name, prompt.Version, usage);
        }
        metrics.ExtractionFailed("retry_failed");
        throw new MemoryExtractionException("The extraction answer was not valid JSON for the memory_facts schema, even after repair and one retry.");
    }

    /// <summary>
    /// Decides what to do with a fact. The obvious cases need no model: nothing similar is remembered (ADD), or an
    /// identical memory exists (NOOP, or DELETE for a retraction). The model's decision is then held to
    /// <see cref="ConsolidationRules.Guard"/>; an unusable answer falls back to <see cref="ConsolidationRules.Decide"/>.
    /// </summary>
    public async Task<(MemoryDecision Decision, IReadOnlyList<MemoryModelUsage> Usage)> DecideAsync(
        MemoryFact fact, IReadOnlyList<ConsolidationCandidate> candidates, Guid? userId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(fact);
        ArgumentNullException.ThrowIfNull(candidates);
        var shown = candidates.Select(c => (c.ShortId, c.Memory.Text)).ToList();
        var hash = MemoryText.Hash(fact.Text);
        if (candidates.Count == 0 || candidates.Any(c => MemoryText.Hash(c.Memory.Text) == hash))
        {
            return (ConsolidationRules.Decide(fact, shown), []);
        }

        var settings = options.Value;
        var prompt = await prompts.GetActiveAsync(settings.ConsolidationPromptName, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"No active version of prompt '{settings.ConsolidationPromptName}'.");
        List<ChatMessage> messages =
        [
            new(ChatRole.System, prompt.Render(new Dictionary<string, string>())),
            LlmPromptBlocks.Memories(shown.Select(c => new PromptBlockItem(c.ShortId, c.Text)), MemoryPrompts.CandidatesInstruction),
            new(ChatRole.User, MemoryPrompts.WriteFact(fact)),
        ];
        var chatOptions = Options(prompt, MemorySchemas.DecisionSchema, MemorySchemas.DecisionSchemaName,
            "What to do with one new fact given similar existing memories.", userId, 400);
        var usage = new List<MemoryModelUsage>();
        var answer = await AskAsync<MemoryDecision>(messages, chatOptions, ConsolidationCall, usage, parsed =>
            MemorySchemas.ReadDecision(parsed, out var errors) is { } decision ? (decision, null) : (null, string.Join(" ", errors)),
            cancellationToken).ConfigureAwait(false);
        if (answer is { Value: var decision })
        {
            var (guarded, correction) = ConsolidationRules.Guard(decision, fact, shown);
            if (correction is not null)
            {
                metrics.DecisionCorrected();
                LogDecisionCorrected(decision.Operation, guarded.Operation, correction);
            }
            return (guarded, usage);
        }
        // The fact is not lost: the deterministic rules decide, and the fallback is counted.
        metrics.ExtractionFailed("decision_fallback");
        var fallback = ConsolidationRules.Decide(fact, shown);
        LogDecisionFallback(fallback.Operation);
        return (fallback, usage);
    }

    private static readonly StructuredCall ExtractionCall = new("memory.extract", "extract", "extraction",
        $"Answer again with JSON only: an object {{\"facts\": [...]}} matching the schema {MemorySchemas.FactsSchemaName}.");

    private static readonly StructuredCall ConsolidationCall = new("memory.consolidate", "consolidate", "consolidation",
        $"Answer again with JSON only, matching the schema {MemorySchemas.DecisionSchemaName}.");

    /// <summary>
    /// One structured call with one retry: the answer is repaired (<see cref="JsonRepair"/>) and read; when it cannot be
    /// used, the problem goes back to the model once. Every parse or schema failure is counted and logged. Null when
    /// neither answer was usable.
    /// </summary>
    private async Task<StructuredAnswer<T>?> AskAsync<T>(List<ChatMessage> messages, ChatOptions chatOptions, StructuredCall call,
        List<MemoryModelUsage> usage, Func<JsonRepairResult, (T? Value, string? Problem)> read, CancellationToken cancellationToken)
        where T : class
    {
        var repaired = false;
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            var response = await chatClient.GetResponseAsync(messages, chatOptions, cancellationToken).ConfigureAwait(false);
            usage.Add(Usage(call.Operation, response, messages, chatOptions));
            var text = response.Text;
            string problem;
            if (JsonRepair.TryParse(text, out var parsed, out var parseError))
            {
                repaired |= parsed.Repaired;
                if (parsed.Repaired)
                {
                    metrics.AnswerRepaired(call.MetricName);
                    LogRepaired(call.LogName, parsed.Truncated);
                }
                var (value, schemaProblem) = read(parsed);
                if (value is not null)
                {
                    return new StructuredAnswer<T>(value, repaired, attempt > 1);
                }
                problem = schemaProblem ?? "The answer does not match the schema.";
                metrics.ExtractionFailed("schema");
            }
            else
            {
                problem = parseError;
                metrics.ExtractionFailed("parse");
            }
            LogUnusableAnswer(call.LogName, attempt, problem, text?.Length ?? 0);
            messages.Add(new ChatMessage(ChatRole.Assistant, text));
            messages.Add(new ChatMessage(ChatRole.User, $"Your answer could not be used: {problem} {call.RetryInstruction}"));
        }
        return null;
    }

    /// <summary>Names of one kind of structured call: its usage operation, its metric tag, its log name, and what a retry asks.</summary>
    private sealed record StructuredCall(string Operation, string MetricName, string LogName, string RetryInstruction);

    private sealed record StructuredAnswer<T>(T Value, bool Repaired, bool Retried);

    private static ChatOptions Options(PromptVersion prompt, JsonElement schema, string schemaName, string description, Guid? userId, int maxTokens)
    {
        var result = new ChatOptions
        {
            ModelId = prompt.Model,
            Temperature = prompt.Temperature ?? 0,
            MaxOutputTokens = Math.Min(prompt.MaxTokens ?? maxTokens, maxTokens),
            ResponseFormat = ChatResponseFormat.ForJsonSchema(schema, schemaName, description),
        };
        if (userId is { } id)
        {
            result.AdditionalProperties = new AdditionalPropertiesDictionary { [LlmRequestProperties.UserId] = id.ToString() };
        }
        return result;
    }

    private static MemoryModelUsage Usage(string operation, ChatResponse response, IReadOnlyList<ChatMessage> messages, ChatOptions options)
    {
        var input = response.Usage?.InputTokenCount;
        var output = response.Usage?.OutputTokenCount;
        var estimated = input is null || output is null;
        return new MemoryModelUsage(operation, response.ModelId ?? options.ModelId ?? "unknown",
            (int)(input ?? TokenCounter.Count(messages)), (int)(output ?? TokenCounter.Count(response.Text)), estimated);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Repaired the {Call} answer (truncated: {Truncated})")]
    private partial void LogRepaired(string call, bool truncated);

    // Schema errors name paths and rules, not values.
    [LoggerMessage(Level = LogLevel.Warning, Message = "Extracted fact rejected by the schema: {Problem}")]
    private partial void LogFactRejected(string problem);

    // The answer itself is not logged: it carries what the user said.
    [LoggerMessage(Level = LogLevel.Warning, Message = "Unusable {Call} answer (attempt {Attempt}, {Length} characters): {Problem}")]
    private partial void LogUnusableAnswer(string call, int attempt, string problem, int length);

    [LoggerMessage(Level = LogLevel.Information, Message = "Consolidation decision {From} corrected to {To}: {Correction}")]
    private partial void LogDecisionCorrected(MemoryOperation from, MemoryOperation to, string correction);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Consolidation answer unusable after a retry; the rules decided {Operation}")]
    private partial void LogDecisionFallback(MemoryOperation operation);
}
