using AspireAi.Core.Llm;
using AspireAi.Core.Common;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using AspireAi.Core.Llm.Json;

namespace AspireAi.Offline;

// Builds a value for any JSON schema by fixed rules: defaults and consts first, enums matched against the user's
// words, property names as hints (title, summary, language, confidence ...), bounds respected. Used for structured
// output that no IOfflineStructuredResponder claims, and for tool arguments the message does not provide.
internal sealed class OfflineJsonFiller(string userText, DateTimeOffset now)
{
    private const int MaxDepth = 16;
    private readonly IReadOnlyList<string> _keywords = TextNormalizer.ContentWords(userText);
    private readonly HashSet<string> _userWords = [.. TextNormalizer.ContentWords(userText)];

    public JsonNode? Fill(JsonElement root, JsonElement schema, string? propertyName = null, int depth = 0, int index = 0)
    {
        schema = JsonSchemaValidator.Resolve(root, schema);
        if (schema.ValueKind != JsonValueKind.Object || depth > MaxDepth)
        {
            return schema.ValueKind == JsonValueKind.False ? null : JsonValue.Create(Excerpt(80));
        }

        if (schema.TryGetProperty("const", out var constant))
        {
            return JsonNode.Parse(constant.GetRawText());
        }

        if (schema.TryGetProperty("default", out var defaultValue) && JsonSchemaValidator.IsValid(schema, defaultValue))
        {
            return JsonNode.Parse(defaultValue.GetRawText());
        }

        if (schema.TryGetProperty("enum", out var options) && options.ValueKind == JsonValueKind.Array && options.GetArrayLength() > 0)
        {
            return JsonNode.Parse(BestEnumValue(options).GetRawText());
        }

        foreach (var combinator in new[] { "anyOf", "oneOf", "allOf" })
        {
            if (schema.TryGetProperty(combinator, out var branches) && branches.ValueKind == JsonValueKind.Array)
            {
                // The first alternative that is not just "null" is the one a model would most likely produce.
                var branch = branches.EnumerateArray().FirstOrDefault(b => !JsonSchemaValidator.Types(JsonSchemaValidator.Resolve(root, b)).SequenceEqual(["null"]));
                if (branch.ValueKind != JsonValueKind.Undefined)
                {
                    return Fill(root, branch, propertyName, depth + 1, index);
                }
            }
        }

        return TypeOf(schema) switch
        {
            "object" => FillObject(root, schema, depth),
            "array" => FillArray(root, schema, propertyName, depth),
            "integer" => JsonValue.Create((long)Math.Round(Number(schema, propertyName, integer: true))),
            "number" => JsonValue.Create(Number(schema, propertyName, integer: false)),
            "boolean" => JsonValue.Create(false),
            "null" => null,
            _ => JsonValue.Create(String(schema, propertyName, index)),
        };
    }

    private JsonObject FillObject(JsonElement root, JsonElement schema, int depth)
    {
        var result = new JsonObject();
        if (schema.TryGetProperty("properties", out var properties) && properties.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in properties.EnumerateObject())
            {
                result[property.Name] = Fill(root, property.Value, property.Name, depth + 1);
            }
        }

        return result;
    }

    private JsonArray FillArray(JsonElement root, JsonElement schema, string? propertyName, int depth)
    {
        var items = schema.TryGetProperty("items", out var itemSchema) ? itemSchema : default;
        var resolvedItems = JsonSchemaValidator.Resolve(root, items);
        var minItems = GetInt(schema, "minItems") ?? 0;
        var maxItems = GetInt(schema, "maxItems") ?? int.MaxValue;

        // Lists of plain strings (keywords, tags, topics) are filled with the user's content words; lists of
        // objects stay as short as the schema allows, since inventing records would be worse than none.
        var wanted = TypeOf(resolvedItems) == "string" && !resolvedItems.TryGetProperty("enum", out _)
            ? Math.Min(3, _keywords.Count)
            : 0;
        var count = Math.Clamp(Math.Max(wanted, minItems), 0, maxItems);

        var array = new JsonArray();
        for (var i = 0; i < count; i++)
        {
            array.Add(items.ValueKind == JsonValueKind.Undefined ? JsonValue.Create(Excerpt(40)) : Fill(root, items, propertyName, depth + 1, i));
        }

        return array;
    }

    private string String(JsonElement schema, string? propertyName, int index)
    {
        var name = (propertyName ?? string.Empty).ToUpperInvariant();
        var format = schema.TryGetProperty("format", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : null;
        var value = format switch
        {
            "date-time" => now.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            "date" => now.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            "time" => now.ToString("HH:mm:ss", CultureInfo.InvariantCulture),
            "email" => "user@example.com",
            "uri" or "url" => "https://example.com/",
            "uuid" => "00000000-0000-0000-0000-000000000000",
            _ => null,
        };

        value ??= name switch
        {
            _ when name.Contains("LANG", StringComparison.Ordinal) => "en",
            _ when IsIdName(propertyName) => $"item-{index + 1}",
            _ when name.Contains("TITLE", StringComparison.Ordinal) || name.Contains("NAME", StringComparison.Ordinal)
                || name.Contains("SUBJECT", StringComparison.Ordinal) || name.Contains("LABEL", StringComparison.Ordinal) => Title(),
            _ when _keywords.Count > index && IsListItemName(name) => _keywords[index],
            _ => Excerpt(200),
        };

        var minLength = GetInt(schema, "minLength") ?? 0;
        var maxLength = GetInt(schema, "maxLength") ?? int.MaxValue;
        if (value.Length > maxLength)
        {
            value = value[..maxLength].TrimEnd();
            if (value.Length == 0 && maxLength > 0)
            {
                value = "x";
            }
        }

        if (value.Length < minLength)
        {
            value = value.PadRight(minLength, '.');
        }

        return value;
    }

    private static bool IsIdName(string? name) =>
        name is not null && (name.Equals("id", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith("_id", StringComparison.OrdinalIgnoreCase)
            || (name.Length > 2 && name.EndsWith("Id", StringComparison.Ordinal) && char.IsLower(name[^3])));

    private static bool IsListItemName(string name) =>
        name.Contains("KEYWORD", StringComparison.Ordinal) || name.Contains("TAG", StringComparison.Ordinal)
        || name.Contains("TOPIC", StringComparison.Ordinal) || name.Contains("TERM", StringComparison.Ordinal)
        || name.Contains("ENTIT", StringComparison.Ordinal) || name.Length == 0;

    private static double Number(JsonElement schema, string? propertyName, bool integer)
    {
        var name = (propertyName ?? string.Empty).ToUpperInvariant();
        var minimum = GetDouble(schema, "minimum");
        var maximum = GetDouble(schema, "maximum");
        var step = integer ? 1 : 0.001;
        if (GetDouble(schema, "exclusiveMinimum") is { } exclusiveMinimum)
        {
            minimum = Math.Max(minimum ?? double.MinValue, exclusiveMinimum + step);
        }

        if (GetDouble(schema, "exclusiveMaximum") is { } exclusiveMaximum)
        {
            maximum = Math.Min(maximum ?? double.MaxValue, exclusiveMaximum - step);
        }

        // Scores and confidences are honest at the middle of their range: the offline model knows nothing better.
        var isScore = name.Contains("CONFIDENCE", StringComparison.Ordinal) || name.Contains("SCORE", StringComparison.Ordinal)
            || name.Contains("PROBABILITY", StringComparison.Ordinal) || name.Contains("IMPORTANCE", StringComparison.Ordinal)
            || name.Contains("WEIGHT", StringComparison.Ordinal);
        double value = isScore
            ? (minimum, maximum) switch
            {
                ({ } low, { } high) => (low + high) / 2,
                _ => 0.5,
            }
            : minimum ?? 0;

        if (integer)
        {
            value = Math.Round(value, MidpointRounding.AwayFromZero);
        }

        if (minimum is { } min && value < min)
        {
            value = integer ? Math.Ceiling(min) : min;
        }

        if (maximum is { } max && value > max)
        {
            value = integer ? Math.Floor(max) : max;
        }

        return value;
    }

    private JsonElement BestEnumValue(JsonElement options)
    {
        // The option sharing most words with the user's message, else the first (schemas list the default first).
        var best = options[0];
        var bestScore = 0;
        foreach (var option in options.EnumerateArray())
        {
            if (option.ValueKind != JsonValueKind.String)
            {
                continue;
            }

            var score = TextNormalizer.ContentWords(option.GetString()).Count(_userWords.Contains);
            if (score > bestScore)
            {
                best = option;
                bestScore = score;
            }
        }

        return best;
    }

    private string Title()
    {
        var words = userText.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var title = string.Join(' ', words.Take(6)).TrimEnd('?', '.', '!', ',', ';', ':');
        return title.Length == 0 ? "Untitled" : title;
    }

    private string Excerpt(int maxChars)
    {
        var text = userText.ReplaceLineEndings(" ").Trim();
        return text.Length == 0 ? "n/a" : LlmContent.Truncate(text, maxChars);
    }

    private static string TypeOf(JsonElement schema)
    {
        if (schema.ValueKind != JsonValueKind.Object)
        {
            return "string";
        }

        var types = JsonSchemaValidator.Types(schema);
        var type = types.FirstOrDefault(t => t != "null") ?? (types.Count > 0 ? types[0] : null);
        if (type is not null)
        {
            return type;
        }

        return schema.TryGetProperty("properties", out _) ? "object"
            : schema.TryGetProperty("items", out _) ? "array"
            : "string";
    }

    private static int? GetInt(JsonElement schema, string keyword) =>
        schema.TryGetProperty(keyword, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) ? number : null;

    private static double? GetDouble(JsonElement schema, string keyword) =>
        schema.TryGetProperty(keyword, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : null;
}
