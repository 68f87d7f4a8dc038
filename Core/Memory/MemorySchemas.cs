using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using AspireAi.Core.Llm.Json;

namespace AspireAi.Core.Memory;

/// <summary>
/// The structured outputs of the two model calls and their tolerant readers. Both schemas follow OpenAI's strict
/// mode (every property required, no additional properties), and are validated here again: models that ignore the
/// response format still get their answers checked.
/// </summary>
public static class MemorySchemas
{
    /// <summary>Schema name of the extraction answer ({"facts": [...]}).</summary>
    public const string FactsSchemaName = "memory_facts";

    /// <summary>Schema name of the consolidation answer ({"operation", "targetId", "text", "reason"}).</summary>
    public const string DecisionSchemaName = "memory_decision";

    public static JsonElement FactsSchema { get; } = JsonElement.Parse("""
        {
          "type": "object",
          "additionalProperties": false,
          "required": ["facts"],
          "properties": {
            "facts": {
              "type": "array",
              "maxItems": 100,
              "items": {
                "type": "object",
                "additionalProperties": false,
                "required": ["text", "type", "importance", "entities", "scope", "retraction", "supersedes"],
                "properties": {
                  "text": { "type": "string", "minLength": 1, "maxLength": 2000 },
                  "type": { "type": "string", "enum": ["semantic", "episodic", "procedural"] },
                  "importance": { "type": "number", "minimum": 0, "maximum": 1 },
                  "entities": {
                    "type": "array",
                    "maxItems": 20,
                    "items": {
                      "type": "object",
                      "additionalProperties": false,
                      "required": ["name", "type"],
                      "properties": {
                        "name": { "type": "string", "minLength": 1, "maxLength": 200 },
                        "type": { "type": "string", "maxLength": 40 }
                      }
                    }
                  },
                  "scope": { "type": "string", "enum": ["user", "session"] },
                  "retraction": { "type": "boolean" },
                  "supersedes": { "type": "boolean" }
                }
              }
            }
          }
        }
        """);

    public static JsonElement DecisionSchema { get; } = JsonElement.Parse("""
        {
          "type": "object",
          "additionalProperties": false,
          "required": ["operation", "targetId", "text", "reason"],
          "properties": {
            "operation": { "type": "string", "enum": ["ADD", "UPDATE", "DELETE", "NOOP"] },
            "targetId": { "type": ["string", "null"], "maxLength": 100 },
            "text": { "type": "string", "maxLength": 2000 },
            "reason": { "type": "string", "maxLength": 1000 }
          }
        }
        """);

    private static readonly JsonElement FactItemSchema =
        FactsSchema.GetProperty("properties").GetProperty("facts").GetProperty("items");

    /// <summary>
    /// Reads the facts of an extraction answer. Loose but unambiguous shapes are accepted (a bare array, "Semantic",
    /// "0.8", a missing entities list); each fact is then checked against the schema. Facts that fail are returned in
    /// <see cref="ParsedFacts.Rejected"/> with the reason, never dropped silently. When the answer was cut off, the
    /// fields of an incomplete fact are not guessed: it is rejected.
    /// </summary>
    public static ParsedFacts ReadFacts(JsonRepairResult answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        JsonArray? items = answer.Value switch
        {
            JsonObject o when o["facts"] is JsonArray a => a,
            JsonObject o when o["memories"] is JsonArray a => a,
            JsonArray a => a,
            _ => null,
        };
        if (items is null)
        {
            return new ParsedFacts(null, [], "The answer has no \"facts\" array.");
        }

        var facts = new List<MemoryFact>();
        var rejected = new List<string>();
        for (var index = 0; index < items.Count; index++)
        {
            var item = items[index] switch
            {
                JsonObject o => (JsonObject)o.DeepClone(),
                JsonValue v when v.TryGetValue<string>(out var s) => new JsonObject { ["text"] = s },
                _ => null,
            };
            if (item is null)
            {
                rejected.Add($"$.facts[{index}]: not an object.");
                continue;
            }
            if (!answer.Truncated)
            {
                FillDefaults(item);
            }
            // Added after the first schema version, so even a complete fact of a cut-off answer may lack it: absent
            // means "no change of state".
            item.TryAdd("supersedes", false);
            Coerce(item);
            var errors = JsonSchemaValidator.Validate(FactItemSchema, JsonSerializer.SerializeToElement(item));
            if (errors.Count > 0)
            {
                rejected.Add($"$.facts[{index}]: {string.Join(" ", errors)}");
                continue;
            }
            facts.Add(ToFact(item));
        }
        return new ParsedFacts(facts, rejected, null);
    }

    /// <summary>Reads a consolidation answer; null (with the problems) when it does not fit the schema.</summary>
    public static MemoryDecision? ReadDecision(JsonRepairResult answer, out IReadOnlyList<string> errors)
    {
        ArgumentNullException.ThrowIfNull(answer);
        if (answer.Value is not JsonObject raw)
        {
            errors = ["$: expected an object."];
            return null;
        }
        var item = (JsonObject)raw.DeepClone();
        if (item["operation"] is null && item["event"] is { } eventName)
        {
            item["operation"] = eventName.DeepClone(); // mem0's name for it
            item.Remove("event");
        }
        if (item["operation"] is JsonValue op && op.TryGetValue<string>(out var opText))
        {
            item["operation"] = opText.Trim().ToUpperInvariant() is "NONE" ? "NOOP" : opText.Trim().ToUpperInvariant();
        }
        if (!answer.Truncated)
        {
            item.TryAdd("targetId", null);
            item.TryAdd("text", "");
            item.TryAdd("reason", "");
        }
        if (item["targetId"] is JsonValue target && target.GetValueKind() == JsonValueKind.Number)
        {
            item["targetId"] = target.ToJsonString();
        }
        errors = JsonSchemaValidator.Validate(DecisionSchema, JsonSerializer.SerializeToElement(item));
        if (errors.Count > 0)
        {
            return null;
        }
        if (!MemoryNames.TryParseOperation(item["operation"]!.GetValue<string>(), out var operation))
        {
            errors = ["$.operation: unknown operation."];
            return null;
        }
        var targetId = item["targetId"] is JsonValue t && t.TryGetValue<string>(out var id) && !string.IsNullOrWhiteSpace(id) ? id.Trim() : null;
        return new MemoryDecision(operation, targetId, MemoryText.Clean(item["text"]!.GetValue<string>()), item["reason"]!.GetValue<string>().Trim());
    }

    /// <summary>The JSON of a fact, as the offline responder and the scripted tests write it.</summary>
    public static JsonObject ToJson(MemoryFact fact)
    {
        ArgumentNullException.ThrowIfNull(fact);
        return new JsonObject
        {
            ["text"] = fact.Text,
            ["type"] = MemoryNames.Of(fact.Type),
            ["importance"] = Math.Round(fact.Importance, 2),
            ["entities"] = new JsonArray([.. fact.Entities.Select(e => (JsonNode)new JsonObject { ["name"] = e.Name, ["type"] = e.Type })]),
            ["scope"] = fact.Scope == MemoryScope.Session ? "session" : "user",
            ["retraction"] = fact.Retraction,
            ["supersedes"] = fact.Supersedes,
        };
    }

    public static JsonObject ToJson(MemoryDecision decision)
    {
        ArgumentNullException.ThrowIfNull(decision);
        return new JsonObject
        {
            ["operation"] = MemoryNames.Of(decision.Operation),
            ["targetId"] = decision.TargetId,
            ["text"] = decision.Text ?? "",
            ["reason"] = decision.Reason,
        };
    }

    private static void FillDefaults(JsonObject item)
    {
        item.TryAdd("type", "semantic");
        item.TryAdd("importance", 0.5);
        item.TryAdd("entities", new JsonArray());
        item.TryAdd("scope", "user");
        item.TryAdd("retraction", false);
    }

    // Unambiguous spelling differences only: case, numbers and booleans as strings, null lists, string entities.
    private static void Coerce(JsonObject item)
    {
        if (item["type"] is JsonValue type && type.TryGetValue<string>(out var typeText))
        {
            item["type"] = typeText.Trim().ToLowerInvariant();
        }
        if (item["scope"] is JsonValue scope && scope.TryGetValue<string>(out var scopeText))
        {
            item["scope"] = scopeText.Trim().ToLowerInvariant();
        }
        else if (item.ContainsKey("scope") && item["scope"] is null)
        {
            item["scope"] = "user";
        }
        if (item["importance"] is JsonValue importance && importance.TryGetValue<string>(out var importanceText)
            && double.TryParse(importanceText, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed))
        {
            item["importance"] = parsed;
        }
        foreach (var name in (string[])["retraction", "supersedes"])
        {
            if (item[name] is JsonValue value && value.TryGetValue<string>(out var text) && bool.TryParse(text, out var flag))
            {
                item[name] = flag;
            }
        }
        if (item.ContainsKey("entities") && item["entities"] is null)
        {
            item["entities"] = new JsonArray();
        }
        if (item["entities"] is JsonArray entities)
        {
            for (var i = 0; i < entities.Count; i++)
            {
                if (entities[i] is JsonValue name && name.TryGetValue<string>(out var nameText))
                {
                    entities[i] = new JsonObject { ["name"] = nameText, ["type"] = "other" };
                }
            }
        }
    }

    private static MemoryFact ToFact(JsonObject item)
    {
        var entities = item["entities"]!.AsArray()
            .OfType<JsonObject>()
            .Select(e => new MemoryEntity(MemoryText.Clean(e["name"]!.GetValue<string>()) ?? "", (MemoryText.Clean(e["type"]!.GetValue<string>()) ?? "other").ToLowerInvariant()))
            .Where(e => e.Name.Length > 0)
            .ToList();
        return new MemoryFact(
            MemoryText.Clean(item["text"]!.GetValue<string>()) ?? "",
            MemoryNames.ParseType(item["type"]!.GetValue<string>()),
            (float)item["importance"]!.GetValue<double>(),
            entities,
            item["retraction"]!.GetValue<bool>(),
            item["scope"]!.GetValue<string>() == "session" ? MemoryScope.Session : null,
            item["supersedes"]!.GetValue<bool>());
    }
}

/// <summary>The facts read from an extraction answer.</summary>
/// <param name="Facts">Valid facts; null when the answer had no facts array at all.</param>
/// <param name="Rejected">Facts that failed the schema, with the reason.</param>
/// <param name="Error">Why the answer as a whole is unusable.</param>
public sealed record ParsedFacts(IReadOnlyList<MemoryFact>? Facts, IReadOnlyList<string> Rejected, string? Error);

/// <summary>A consolidation decision about one fact.</summary>
/// <param name="Operation">ADD, UPDATE, DELETE or NOOP.</param>
/// <param name="TargetId">The candidate's short id (as shown to the model), or null.</param>
/// <param name="Text">The text to store for ADD/UPDATE.</param>
/// <param name="Reason">Why.</param>
public sealed record MemoryDecision(MemoryOperation Operation, string? TargetId, string? Text, string Reason);
