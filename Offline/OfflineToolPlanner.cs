using AspireAi.Core.Llm;
using AspireAi.Core.Common;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AspireAi.Core.Llm.Json;
using Microsoft.Extensions.AI;

namespace AspireAi.Offline;

// Decides whether the offline model asks for a tool: the words of each offered tool's name (worth 2) and
// description (worth 1) are matched against the user's last message, with a few synonyms; the best tool scoring
// at least 2 is called, with arguments taken from the message and checked against the tool's JSON schema.
// Once tool results for the current turn exist, it answers instead, so the tool loop always ends.
internal static partial class OfflineToolPlanner
{
    private const int Threshold = 2;

    // Everyday words for what tools typically do, mapped to the word a tool name would use.
    private static readonly Dictionary<string, string> Synonyms = new(StringComparer.Ordinal)
    {
        ["find"] = "search", ["look"] = "search", ["lookup"] = "search", ["retrieve"] = "search", ["query"] = "search",
        ["doc"] = "document", ["file"] = "document", ["pdf"] = "document", ["note"] = "document",
        ["clock"] = "time", ["hour"] = "time", ["today"] = "date", ["day"] = "date",
        ["save"] = "remember", ["memorize"] = "remember", ["memorise"] = "remember", ["store"] = "remember",
        ["forget"] = "forget", ["recall"] = "memory",
    };

    // Property names whose value is "what the user is talking about".
    private static readonly HashSet<string> PayloadNames = new(StringComparer.OrdinalIgnoreCase)
    {
        "query", "q", "text", "content", "fact", "memory", "note", "topic", "term", "terms", "keywords", "search",
        "question", "input", "message", "statement", "prompt", "subject", "value", "what", "expression", "phrase",
    };

    private static readonly string[] LeadingFillers = ["that", "for", "about", "me", "to", "please", "the fact that"];
    private static readonly string[] Connectors = [" for ", " about ", " regarding ", " on the topic of "];

    public static FunctionCallContent? Plan(OfflineConversation conversation, ChatOptions? options, DateTimeOffset now)
    {
        if (options?.Tools is not { Count: > 0 } tools || options.ToolMode is NoneChatToolMode || conversation.ToolResults.Count > 0)
        {
            return null;
        }

        var declarations = tools.OfType<AIFunctionDeclaration>().ToList();
        var userWords = Expand(TextNormalizer.ContentWords(conversation.UserText));
        var ranked = declarations
            .Select(tool => (Tool: tool, Score: Score(tool, userWords)))
            .OrderByDescending(candidate => candidate.Score)
            .ToList();

        var required = options.ToolMode as RequiredChatToolMode;
        if (required?.RequiredFunctionName is { } requiredName)
        {
            ranked = [.. ranked.Where(candidate => candidate.Tool.Name == requiredName)];
        }

        foreach (var (tool, score) in ranked)
        {
            if (score < Threshold && required is null)
            {
                break;
            }

            if (BuildArguments(tool, conversation.UserText, userWords, now) is { } arguments)
            {
                return new FunctionCallContent(NewCallId(), tool.Name, arguments);
            }
        }

        return null;
    }

    private static int Score(AIFunctionDeclaration tool, HashSet<string> userWords)
    {
        var nameWords = NameWords(tool.Name);
        var descriptionWords = TextNormalizer.ContentWords(tool.Description).Where(word => !nameWords.Contains(word));
        return 2 * nameWords.Count(userWords.Contains) + descriptionWords.Count(userWords.Contains);
    }

    private static HashSet<string> NameWords(string name)
    {
        var spaced = CamelBoundary().Replace(name, " ").Replace('_', ' ').Replace('-', ' ').Replace('.', ' ');
        return [.. TextNormalizer.ContentWords(spaced)];
    }

    private static HashSet<string> Expand(IEnumerable<string> words)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var word in words)
        {
            set.Add(word);
            if (Synonyms.TryGetValue(word, out var synonym))
            {
                set.Add(synonym);
            }
        }

        return set;
    }

    private static Dictionary<string, object?>? BuildArguments(AIFunctionDeclaration tool, string userText, HashSet<string> userWords, DateTimeOffset now)
    {
        var schema = tool.JsonSchema;
        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (schema.ValueKind != JsonValueKind.Object || !schema.TryGetProperty("properties", out var properties) || properties.ValueKind != JsonValueKind.Object)
        {
            return arguments;
        }

        var requiredNames = schema.TryGetProperty("required", out var r) && r.ValueKind == JsonValueKind.Array
            ? r.EnumerateArray().Where(n => n.ValueKind == JsonValueKind.String).Select(n => n.GetString()!).ToHashSet(StringComparer.Ordinal)
            : [];
        var payload = new Lazy<string>(() => ExtractPayload(userText, NameWords(tool.Name), userWords));
        var filler = new OfflineJsonFiller(userText, now);

        foreach (var property in properties.EnumerateObject())
        {
            var propertySchema = JsonSchemaValidator.Resolve(schema, property.Value);
            var type = JsonSchemaValidator.Types(propertySchema).FirstOrDefault(t => t != "null") ?? "string";
            var isRequired = requiredNames.Contains(property.Name);
            var hasEnum = propertySchema.ValueKind == JsonValueKind.Object && propertySchema.TryGetProperty("enum", out _);
            object? value = null;

            if (hasEnum)
            {
                value = isRequired ? ToArgument(filler.Fill(schema, property.Value, property.Name)) : null;
            }
            else if (type == "string" && (PayloadNames.Contains(property.Name) || isRequired))
            {
                value = payload.Value;
            }
            else if (type is "integer" or "number")
            {
                var number = FirstNumber().Match(userText);
                if (number.Success && (isRequired || IsCountName(property.Name)))
                {
                    value = type == "integer"
                        ? long.Parse(number.Value.Split('.')[0], CultureInfo.InvariantCulture)
                        : double.Parse(number.Value, CultureInfo.InvariantCulture);
                }
                else if (isRequired)
                {
                    value = ToArgument(filler.Fill(schema, property.Value, property.Name));
                }
            }
            else if (type == "array" && isRequired)
            {
                var items = propertySchema.TryGetProperty("items", out var itemSchema) ? JsonSchemaValidator.Resolve(schema, itemSchema) : default;
                value = JsonSchemaValidator.Types(items) is [ "string", .. ]
                    ? JsonSerializer.SerializeToElement(new[] { payload.Value }, AIJsonUtilities.DefaultOptions)
                    : ToArgument(filler.Fill(schema, property.Value, property.Name));
            }
            else if (isRequired)
            {
                value = ToArgument(filler.Fill(schema, property.Value, property.Name));
            }

            if (value is not null)
            {
                arguments[property.Name] = value;
            }
        }

        // Arguments the tool would reject are no call at all: the model answers in text instead.
        var asJson = JsonSerializer.SerializeToElement(arguments, AIJsonUtilities.DefaultOptions);
        return JsonSchemaValidator.IsValid(schema, asJson) ? arguments : null;
    }

    private static object? ToArgument(JsonNode? node) => node switch
    {
        null => null,
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        _ => JsonSerializer.SerializeToElement(node, AIJsonUtilities.DefaultOptions),
    };

    private static bool IsCountName(string name) =>
        name.Contains("count", StringComparison.OrdinalIgnoreCase) || name.Contains("limit", StringComparison.OrdinalIgnoreCase)
        || name.Contains("top", StringComparison.OrdinalIgnoreCase) || name.Equals("n", StringComparison.OrdinalIgnoreCase)
        || name.Contains("number", StringComparison.OrdinalIgnoreCase);

    // "Search my documents for solar panels" -> "solar panels"; "remember that I like tea" -> "I like tea".
    internal static string ExtractPayload(string userText, IReadOnlySet<string> nameWords, IReadOnlySet<string> userWords)
    {
        var text = userText.ReplaceLineEndings(" ").Trim();
        var rest = text;
        foreach (Match word in WordPattern().Matches(text))
        {
            var stem = TextNormalizer.Stem(TextNormalizer.Normalize(word.Value));
            var isTrigger = nameWords.Contains(stem) || (Synonyms.TryGetValue(stem, out var synonym) && nameWords.Contains(synonym));
            if (isTrigger && userWords.Contains(stem))
            {
                rest = text[(word.Index + word.Length)..];
                break;
            }
        }

        rest = rest.TrimStart(' ', ':', ',', '-');
        var strippedFiller = false;
        foreach (var filler in LeadingFillers)
        {
            if (rest.StartsWith(filler + " ", StringComparison.OrdinalIgnoreCase))
            {
                rest = rest[(filler.Length + 1)..].TrimStart(' ', ':');
                strippedFiller = true;
                break;
            }
        }

        if (!strippedFiller)
        {
            // "my documents for X": the object of the request follows a connector close to the verb.
            foreach (var connector in Connectors)
            {
                var at = rest.IndexOf(connector, StringComparison.OrdinalIgnoreCase);
                if (at >= 0 && at <= 40)
                {
                    rest = rest[(at + connector.Length)..];
                    break;
                }
            }
        }

        rest = rest.Trim().Trim('"', '\'', '“', '”', '‘', '’').TrimEnd('?', '.', '!', ';', ',').Trim();
        return rest.Length > 0 ? rest : text.TrimEnd('?', '.', '!');
    }

    private static string NewCallId() => "call_" + Guid.NewGuid().ToString("N")[..20];

    [GeneratedRegex(@"(?<![\w.])-?\d+(\.\d+)?", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 100)]
    private static partial Regex FirstNumber();

    [GeneratedRegex(@"[\p{L}\p{N}']+", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 100)]
    private static partial Regex WordPattern();

    [GeneratedRegex("(?<=[a-z0-9])(?=[A-Z])", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 100)]
    private static partial Regex CamelBoundary();
}
