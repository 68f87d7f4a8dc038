using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using AspireAi.Core.Chat;
using AspireAi.Core.Common;
using AspireAi.Core.Documents.Retrieval;
using AspireAi.Core.Llm;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace AspireAi.Core.Documents.Tools;

/// <summary>Offers <c>search_documents</c> to the model, bound to the user of the turn.</summary>
public sealed class DocumentTools(DocumentRetriever retriever, ContentScreen screen, IOptions<DocumentsOptions> options) : IChatToolProvider
{
    public IEnumerable<AITool> GetTools(ChatContextRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        yield return new SearchDocumentsFunction(retriever, screen, request.UserId, request.OrgId, options.Value.Retrieval);
    }
}

/// <summary>
/// <c>search_documents</c>: hybrid search over the documents the user may read. The schema constrains the arguments
/// (the tool loop refuses calls that break it, with the reasons); what a schema cannot say is checked here and
/// answered as an <c>Error:</c> result the model can act on.
/// </summary>
/// <remarks>
/// One instance serves one turn. It remembers every passage it returned, so that <see cref="CitationsIn"/> answers only
/// with passages this user's search produced: the result the chat hands back is used to pick and order them, never as
/// the source of a citation.
/// </remarks>
internal sealed class SearchDocumentsFunction(DocumentRetriever retriever, ContentScreen screen, Guid userId, Guid orgId, RetrievalOptions settings)
    : AIFunction, ICitingTool
{
    public const string ToolName = "search_documents";
    private const int MaxPassageChars = 1200;

    // Calls of one round may run concurrently.
    private readonly ConcurrentDictionary<Guid, Citation> _returned = new();

    private readonly JsonElement _schema = JsonElement.Parse($$"""
        {
          "type": "object",
          "properties": {
            "query": {
              "type": "string", "minLength": 1, "maxLength": {{settings.MaxQueryChars}},
              "description": "What to look for: a question or keywords, e.g. \"warranty period of the dishwasher\"."
            },
            "top_k": {
              "type": "integer", "minimum": 1, "maximum": {{settings.MaxTopK}},
              "description": "How many passages to return (default {{settings.TopK}})."
            },
            "scope": {
              "type": "string", "enum": ["user", "org"],
              "description": "Only the user's own documents (user) or the organisation's shared documents (org). Omit to search both."
            },
            "document_ids": {
              "type": "array", "maxItems": 50,
              "items": { "type": "string", "format": "uuid" },
              "description": "Only search these documents (ids from earlier results)."
            }
          },
          "required": ["query"],
          "additionalProperties": false
        }
        """);

    public override string Name => ToolName;

    public override string Description =>
        "Searches the user's uploaded documents and their organisation's shared documents (hybrid semantic and keyword " +
        "search) and returns the most relevant passages with their document id, title, chunk id and relevance. Use it when " +
        "the user asks about the content of their documents, files or notes, or when an answer may be in them. Cite a " +
        "passage by its document title. If lowConfidence is true, nothing relevant was found: say so instead of guessing.";

    public override JsonElement JsonSchema => _schema;

    protected override async ValueTask<object?> InvokeCoreAsync(AIFunctionArguments arguments, CancellationToken cancellationToken)
    {
        if (!TryRead(arguments, out var request, out var error))
        {
            return "Error: " + error;
        }

        var result = await retriever.SearchAsync(userId, orgId, request, cancellationToken).ConfigureAwait(false);
        var passages = new List<SearchDocumentsPassage>();
        foreach (var hit in result.Hits)
        {
            if (PassageScreen.Screen(screen, hit.Title, hit.Heading, LlmContent.Truncate(hit.Content, MaxPassageChars), "tool:" + ToolName) is not { } passage)
            {
                continue;
            }
            _returned.TryAdd(hit.ChunkId, new Citation(hit.DocumentId, hit.Title, hit.ChunkId, hit.Page));
            passages.Add(new SearchDocumentsPassage(hit.DocumentId, passage.Title, hit.ChunkId, hit.Ordinal, passage.Heading, passage.Content,
                hit.Similarity is { } s ? Math.Round(s, 4) : null, Math.Round(hit.Score, 5)));
        }
        // A JsonElement (camelCase) travels unchanged through the tool loop, the model adapter and the chat events.
        return JsonSerializer.SerializeToElement(new SearchDocumentsResult(
            request.Query,
            result.Model,
            result.LowConfidence,
            result.LowConfidence
                ? "Nothing relevant was found in the documents; do not answer from them."
                : result.Hits.Count == 0 ? "No document matched." : null,
            passages),
            JsonSerializerOptions.Web);
    }

    public IReadOnlyList<Citation> CitationsIn(FunctionResultContent result)
    {
        ArgumentNullException.ThrowIfNull(result);
        // A failed or refused call carries an error text, and a result of another shape is not one of ours.
        if (result.Exception is not null || result.Result is not JsonElement { ValueKind: JsonValueKind.Object } json
            || !json.TryGetProperty("results", out var passages) || passages.ValueKind != JsonValueKind.Array)
        {
            return [];
        }

        var citations = new List<Citation>();
        foreach (var passage in passages.EnumerateArray())
        {
            if (passage.ValueKind == JsonValueKind.Object
                && passage.TryGetProperty("chunkId", out var chunkId) && chunkId.TryGetGuid(out var id)
                && _returned.TryGetValue(id, out var citation))
            {
                citations.Add(citation);
            }
        }

        return citations;
    }

    private bool TryRead(AIFunctionArguments arguments, out DocumentSearchRequest request, out string error)
    {
        request = null!;
        error = "";
        var query = Text(arguments.GetValueOrDefault("query"))?.Trim();
        if (string.IsNullOrEmpty(query))
        {
            error = "'query' is required: pass the question or keywords to search for.";
            return false;
        }

        if (query.Length > settings.MaxQueryChars)
        {
            error = $"'query' is {query.Length} characters long; the limit is {settings.MaxQueryChars}.";
            return false;
        }

        var topK = settings.TopK;
        if (arguments.GetValueOrDefault("top_k") is { } rawTopK)
        {
            if (!TryInteger(rawTopK, out topK) || topK < 1 || topK > settings.MaxTopK)
            {
                error = $"'top_k' must be an integer from 1 to {settings.MaxTopK}.";
                return false;
            }
        }

        var scope = Text(arguments.GetValueOrDefault("scope"));
        if (scope is not null && !DocumentScope.IsValid(scope))
        {
            error = "'scope' must be \"user\" or \"org\" (or omitted).";
            return false;
        }

        List<Guid>? ids = null;
        if (arguments.GetValueOrDefault("document_ids") is { } rawIds)
        {
            ids = [];
            foreach (var item in Items(rawIds))
            {
                if (!Guid.TryParse(item, out var id))
                {
                    error = $"'document_ids' must hold document ids (UUIDs); '{LlmContent.Truncate(item ?? "null", 60)}' is not one.";
                    return false;
                }

                ids.Add(id);
            }
        }

        request = new DocumentSearchRequest(query, topK, ids, Scope: scope, Source: "tool");
        return true;
    }

    private static string? Text(object? value) => value switch
    {
        null => null,
        string s => s,
        JsonElement { ValueKind: JsonValueKind.String } e => e.GetString(),
        JsonElement { ValueKind: JsonValueKind.Null } => null,
        JsonElement e => e.GetRawText(),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture),
    };

    private static bool TryInteger(object value, out int result)
    {
        result = 0;
        return value switch
        {
            int i => (result = i) == i,
            long l when l is >= int.MinValue and <= int.MaxValue => (result = (int)l) == l,
            JsonElement { ValueKind: JsonValueKind.Number } e => e.TryGetInt32(out result),
            string s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out result),
            _ => false,
        };
    }

    private static IEnumerable<string?> Items(object value) => value switch
    {
        JsonElement { ValueKind: JsonValueKind.Array } array => array.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString() : e.GetRawText()),
        IEnumerable<string> strings => strings,
        System.Collections.IEnumerable items and not string => items.Cast<object?>().Select(Text),
        _ => [Text(value)],
    };
}

internal sealed record SearchDocumentsResult(string Query, string Model, bool LowConfidence, string? Note, IReadOnlyList<SearchDocumentsPassage> Results);

internal sealed record SearchDocumentsPassage(
    Guid DocumentId, string Title, Guid ChunkId, int Ordinal, string? Heading, string Text, double? Similarity, double Score);
