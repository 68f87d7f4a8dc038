using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using AspireAi.Core.Chat;
using AspireAi.Core.Common;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace AspireAi.Core.Memory;

/// <summary>
/// The memory tools offered to the model: <c>recall_memories</c> (search the user's memory) and <c>remember</c> (an
/// explicit write, consolidated like an extracted fact). Both are bound to the turn's user, organisation, agent and
/// session when the tools are built, so a model can never reach another user's memory through arguments.
/// </summary>
public sealed partial class MemoryTools(MemoryRetriever retriever, MemoryService service, MemoryMetrics metrics, IOptions<MemoryOptions> options) : IChatToolProvider
{
    public const string RecallName = "recall_memories";
    public const string RememberName = "remember";

    private static readonly JsonElement RecallSchema = JsonElement.Parse("""
        {
          "type": "object",
          "properties": {
            "query": { "type": "string", "minLength": 1, "maxLength": 500, "description": "What to look for, in a few words." },
            "limit": { "type": "integer", "minimum": 1, "maximum": 20, "description": "Most results to return (default 5)." }
          },
          "required": ["query"],
          "additionalProperties": false
        }
        """);

    private static readonly JsonElement RememberSchema = JsonElement.Parse("""
        {
          "type": "object",
          "properties": {
            "text": { "type": "string", "minLength": 3, "maxLength": 500, "description": "The fact or instruction, as one short sentence." },
            "type": { "type": "string", "enum": ["semantic", "episodic", "procedural"], "description": "semantic: a fact or preference; episodic: an event; procedural: how to answer." },
            "scope": { "type": "string", "enum": ["user", "session"], "description": "session: only for this conversation. Default user." }
          },
          "required": ["text"],
          "additionalProperties": false
        }
        """);

    public IEnumerable<AITool> GetTools(ChatContextRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!options.Value.EnableTools)
        {
            yield break;
        }
        var sessionId = MemoryContextProvider.SessionIdOf(request.ConversationId);
        yield return new MemoryFunction(RecallName,
            "Looks up long-term memory about the user: facts, preferences and standing instructions from earlier conversations. Returns the best matches.",
            RecallSchema, (arguments, cancellationToken) => RecallAsync(request, sessionId, arguments, cancellationToken));
        // The explicit write is offered only when the message can be an instruction: a question ("what do you
        // remember about me?") is answered from memory, never written to it, and "don't remember this" is obeyed.
        // Facts said in passing reach memory through extraction after the exchange anyway.
        if (!IsQuestion(request.Query) && !SecretDetector.IsOptOut(request.Query))
        {
            yield return new MemoryFunction(RememberName,
                "Saves a fact or standing instruction the user explicitly asks you to keep for future conversations.",
                RememberSchema, (arguments, cancellationToken) => RememberAsync(request, sessionId, arguments, cancellationToken));
        }
    }

    internal static bool IsQuestion(string text) => text.TrimEnd().EndsWith('?') || QuestionStart().IsMatch(text.TrimStart());

    private async ValueTask<object?> RecallAsync(ChatContextRequest request, string sessionId, AIFunctionArguments arguments, CancellationToken cancellationToken)
    {
        var query = ReadString(arguments, "query") ?? "";
        var limit = int.TryParse(ReadString(arguments, "limit"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? Math.Clamp(n, 1, 20) : 5;
        var result = await retriever.SearchAsync(new MemoryQuery(request.UserId, request.OrgId, query, limit, new HashSet<MemoryScope>(),
            new HashSet<MemoryType>(), request.AgentId, sessionId), cancellationToken).ConfigureAwait(false);
        var found = result.Items.Where(m => m.Score >= options.Value.MinScoreFor(result.EmbeddingModel) / 2).ToList();
        metrics.Retrieved(result.Elapsed, "recall", found.Count, 0);
        if (found.Count == 0)
        {
            return "No memories match.";
        }
        return JsonSerializer.Serialize(found.Select(m => new
        {
            id = m.Id,
            text = m.Text,
            type = MemoryNames.Of(m.Type),
            scope = MemoryNames.Of(m.Scope),
            score = Math.Round(m.Score, 3),
        }), JsonSerializerOptions.Web);
    }

    private async ValueTask<object?> RememberAsync(ChatContextRequest request, string sessionId, AIFunctionArguments arguments, CancellationToken cancellationToken)
    {
        var text = MemoryText.Clean(ReadString(arguments, "text"));
        if (text is null || text.Length < 3)
        {
            return "Error: nothing to remember.";
        }
        if (text.Length > options.Value.MaxMemoryChars)
        {
            return $"Error: the text is longer than {options.Value.MaxMemoryChars} characters.";
        }
        if (SecretDetector.Find(text) is { } kind)
        {
            return $"Error: that looks like a secret ({kind}); secrets are never stored in memory.";
        }
        if (SecretDetector.IsOptOut(request.Query) || SecretDetector.IsOptOut(text))
        {
            return "Error: the user asked not to remember this.";
        }
        if (PromptInjection.Scan(text) != InjectionKinds.None)
        {
            // The model may be repeating an injected instruction; a memory only ever states a fact about the user.
            metrics.FactRejected("instruction_like");
            return "Error: that reads as an instruction or a claim about the system, not a fact about the user; it was not stored.";
        }
        if (IsQuestion(text))
        {
            return "Error: that is a question, not something to remember.";
        }
        MemoryType? type = MemoryNames.TryParseType(ReadString(arguments, "type"), out var parsed) ? parsed : null;
        // The user's own words decide too: "remember that, for this conversation, …" is session-only whatever scope
        // the model passed.
        var sessionOnly = string.Equals(ReadString(arguments, "scope"), "session", StringComparison.OrdinalIgnoreCase)
            || OfflineFactExtractor.HasSessionCue(request.Query);
        var report = await service.RememberAsync(request.UserId, request.OrgId, sessionId, text, type, sessionOnly, cancellationToken).ConfigureAwait(false);
        return JsonSerializer.Serialize(report.Results.Select(r => new
        {
            operation = MemoryNames.Of(r.Operation),
            id = r.Memory?.Id,
            text = r.Memory?.Text,
        }), JsonSerializerOptions.Web);
    }

    private static string? ReadString(AIFunctionArguments arguments, string name) =>
        arguments.TryGetValue(name, out var value) ? value switch
        {
            null => null,
            string s => s,
            JsonElement { ValueKind: JsonValueKind.String } e => e.GetString(),
            JsonElement { ValueKind: JsonValueKind.Null or JsonValueKind.Undefined } => null,
            JsonElement e => e.GetRawText(),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            var other => other.ToString(),
        } : null;

    [GeneratedRegex(@"^(?:what|where|when|why|how|who|whom|which|whose|do|does|did|can|could|would|will|is|are|was|were|have|has)\b",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex QuestionStart();

    private sealed class MemoryFunction(string name, string description, JsonElement schema,
        Func<AIFunctionArguments, CancellationToken, ValueTask<object?>> invoke) : AIFunction
    {
        public override string Name => name;

        public override string Description => description;

        public override JsonElement JsonSchema => schema;

        protected override ValueTask<object?> InvokeCoreAsync(AIFunctionArguments arguments, CancellationToken cancellationToken) =>
            invoke(arguments, cancellationToken);
    }
}
