using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace AspireAi.Core.Llm.Json;

/// <summary>
/// Checks a JSON value against the subset of JSON Schema that tool parameters and structured-output schemas use:
/// type (also as an array, for nullable), enum, const, properties, required, additionalProperties, items,
/// min/maxItems, min/maxLength, pattern, minimum/maximum (also exclusive), anyOf, oneOf, allOf and local
/// <c>$ref</c>s (<c>#/$defs/...</c>). Unknown keywords are ignored, as the specification asks.
/// </summary>
public static class JsonSchemaValidator
{
    private static readonly TimeSpan PatternTimeout = TimeSpan.FromMilliseconds(100);

    /// <summary>Problems found, each prefixed with the JSON path of the value (<c>$.items[0].name</c>); empty when valid.</summary>
    public static IReadOnlyList<string> Validate(JsonElement schema, JsonElement instance)
    {
        var errors = new List<string>();
        Check(schema, schema, instance, "$", errors, depth: 0);
        return errors;
    }

    /// <summary>True when <paramref name="instance"/> satisfies <paramref name="schema"/>.</summary>
    public static bool IsValid(JsonElement schema, JsonElement instance) => Validate(schema, instance).Count == 0;

    /// <summary>Resolves a local <c>$ref</c> (<c>#</c>, <c>#/$defs/x</c>, <c>#/definitions/x</c>) against the root schema.</summary>
    public static JsonElement Resolve(JsonElement root, JsonElement schema)
    {
        for (var hops = 0; hops < 32 && schema.ValueKind == JsonValueKind.Object
            && schema.TryGetProperty("$ref", out var reference) && reference.ValueKind == JsonValueKind.String; hops++)
        {
            var pointer = reference.GetString()!;
            if (!pointer.StartsWith('#'))
            {
                return schema; // remote references are not supported; treat as "anything goes"
            }

            var target = root;
            foreach (var segment in pointer[1..].Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                var name = segment.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
                if (target.ValueKind != JsonValueKind.Object || !target.TryGetProperty(name, out target))
                {
                    return default;
                }
            }

            schema = target;
        }

        return schema;
    }

    /// <summary>The schema's types (from <c>type</c>, a string or an array); empty when unconstrained.</summary>
    public static IReadOnlyList<string> Types(JsonElement schema)
    {
        if (schema.ValueKind != JsonValueKind.Object || !schema.TryGetProperty("type", out var type))
        {
            return [];
        }

        return type.ValueKind switch
        {
            JsonValueKind.String => [type.GetString()!],
            JsonValueKind.Array => [.. type.EnumerateArray().Where(t => t.ValueKind == JsonValueKind.String).Select(t => t.GetString()!)],
            _ => [],
        };
    }

    private static void Check(JsonElement root, JsonElement schema, JsonElement value, string path, List<string> errors, int depth)
    {
        if (depth > 64)
        {
            errors.Add($"{path}: schema nests too deeply.");
            return;
        }

        schema = Resolve(root, schema);
        switch (schema.ValueKind)
        {
            case JsonValueKind.True or JsonValueKind.Undefined:
                return;
            case JsonValueKind.False:
                errors.Add($"{path}: no value is allowed here.");
                return;
            case JsonValueKind.Object:
                break;
            default:
                return;
        }

        var types = Types(schema);
        if (types.Count > 0 && !types.Any(type => HasType(value, type)))
        {
            errors.Add($"{path}: expected {string.Join(" or ", types)}, got {Describe(value)}.");
            return;
        }

        if (schema.TryGetProperty("const", out var constant) && !JsonElement.DeepEquals(constant, value))
        {
            errors.Add($"{path}: must be {constant.GetRawText()}.");
        }

        if (schema.TryGetProperty("enum", out var allowed) && allowed.ValueKind == JsonValueKind.Array
            && !allowed.EnumerateArray().Any(option => JsonElement.DeepEquals(option, value)))
        {
            errors.Add($"{path}: must be one of {allowed.GetRawText()}.");
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                CheckObject(root, schema, value, path, errors, depth);
                break;
            case JsonValueKind.Array:
                CheckArray(root, schema, value, path, errors, depth);
                break;
            case JsonValueKind.String:
                CheckString(schema, value.GetString()!, path, errors);
                break;
            case JsonValueKind.Number:
                CheckNumber(schema, value.GetDouble(), path, errors);
                break;
            default:
                break;
        }

        CheckCombinators(root, schema, value, path, errors, depth);
    }

    private static void CheckObject(JsonElement root, JsonElement schema, JsonElement value, string path, List<string> errors, int depth)
    {
        var properties = schema.TryGetProperty("properties", out var p) && p.ValueKind == JsonValueKind.Object ? p : default;
        if (schema.TryGetProperty("required", out var required) && required.ValueKind == JsonValueKind.Array)
        {
            foreach (var name in required.EnumerateArray().Where(n => n.ValueKind == JsonValueKind.String).Select(n => n.GetString()!))
            {
                if (!value.TryGetProperty(name, out _))
                {
                    errors.Add($"{path}: missing required property '{name}'.");
                }
            }
        }

        schema.TryGetProperty("additionalProperties", out var additional);
        foreach (var property in value.EnumerateObject())
        {
            var childPath = $"{path}.{property.Name}";
            if (properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(property.Name, out var propertySchema))
            {
                Check(root, propertySchema, property.Value, childPath, errors, depth + 1);
            }
            else if (additional.ValueKind == JsonValueKind.False)
            {
                errors.Add($"{path}: property '{property.Name}' is not allowed.");
            }
            else if (additional.ValueKind == JsonValueKind.Object)
            {
                Check(root, additional, property.Value, childPath, errors, depth + 1);
            }
        }
    }

    private static void CheckArray(JsonElement root, JsonElement schema, JsonElement value, string path, List<string> errors, int depth)
    {
        var count = value.GetArrayLength();
        if (TryGetNumber(schema, "minItems", out var minItems) && count < minItems)
        {
            errors.Add($"{path}: needs at least {minItems} items, has {count}.");
        }

        if (TryGetNumber(schema, "maxItems", out var maxItems) && count > maxItems)
        {
            errors.Add($"{path}: allows at most {maxItems} items, has {count}.");
        }

        if (schema.TryGetProperty("items", out var items) && items.ValueKind is JsonValueKind.Object or JsonValueKind.False)
        {
            var index = 0;
            foreach (var item in value.EnumerateArray())
            {
                Check(root, items, item, $"{path}[{index++}]", errors, depth + 1);
            }
        }
    }

    private static void CheckString(JsonElement schema, string text, string path, List<string> errors)
    {
        // Lengths count code points, as JSON Schema defines them, not UTF-16 units.
        var length = text.EnumerateRunes().Count();
        if (TryGetNumber(schema, "minLength", out var minLength) && length < minLength)
        {
            errors.Add($"{path}: needs at least {minLength} characters.");
        }

        if (TryGetNumber(schema, "maxLength", out var maxLength) && length > maxLength)
        {
            errors.Add($"{path}: allows at most {maxLength} characters.");
        }

        if (schema.TryGetProperty("pattern", out var pattern) && pattern.ValueKind == JsonValueKind.String)
        {
            try
            {
                if (!Regex.IsMatch(text, pattern.GetString()!, RegexOptions.None, PatternTimeout))
                {
                    errors.Add($"{path}: does not match pattern {pattern.GetString()}.");
                }
            }
            catch (ArgumentException)
            {
                // An invalid pattern in the schema is the schema's problem, not the value's.
            }
            catch (RegexMatchTimeoutException)
            {
                errors.Add($"{path}: pattern check timed out.");
            }
        }
    }

    private static void CheckNumber(JsonElement schema, double number, string path, List<string> errors)
    {
        if (TryGetNumber(schema, "minimum", out var minimum) && number < minimum)
        {
            errors.Add($"{path}: must be >= {Format(minimum)}.");
        }

        if (TryGetNumber(schema, "maximum", out var maximum) && number > maximum)
        {
            errors.Add($"{path}: must be <= {Format(maximum)}.");
        }

        if (TryGetNumber(schema, "exclusiveMinimum", out var exclusiveMinimum) && number <= exclusiveMinimum)
        {
            errors.Add($"{path}: must be > {Format(exclusiveMinimum)}.");
        }

        if (TryGetNumber(schema, "exclusiveMaximum", out var exclusiveMaximum) && number >= exclusiveMaximum)
        {
            errors.Add($"{path}: must be < {Format(exclusiveMaximum)}.");
        }
    }

    private static void CheckCombinators(JsonElement root, JsonElement schema, JsonElement value, string path, List<string> errors, int depth)
    {
        if (schema.TryGetProperty("allOf", out var allOf) && allOf.ValueKind == JsonValueKind.Array)
        {
            foreach (var branch in allOf.EnumerateArray())
            {
                Check(root, branch, value, path, errors, depth + 1);
            }
        }

        if (schema.TryGetProperty("anyOf", out var anyOf) && anyOf.ValueKind == JsonValueKind.Array
            && !anyOf.EnumerateArray().Any(branch => Matches(root, branch, value, path, depth)))
        {
            errors.Add($"{path}: matches none of the anyOf alternatives.");
        }

        if (schema.TryGetProperty("oneOf", out var oneOf) && oneOf.ValueKind == JsonValueKind.Array)
        {
            var matches = oneOf.EnumerateArray().Count(branch => Matches(root, branch, value, path, depth));
            if (matches != 1)
            {
                errors.Add($"{path}: must match exactly one oneOf alternative, matches {matches}.");
            }
        }
    }

    private static bool Matches(JsonElement root, JsonElement schema, JsonElement value, string path, int depth)
    {
        var branchErrors = new List<string>();
        Check(root, schema, value, path, branchErrors, depth + 1);
        return branchErrors.Count == 0;
    }

    private static bool HasType(JsonElement value, string type) => type switch
    {
        "object" => value.ValueKind == JsonValueKind.Object,
        "array" => value.ValueKind == JsonValueKind.Array,
        "string" => value.ValueKind == JsonValueKind.String,
        "number" => value.ValueKind == JsonValueKind.Number,
        "integer" => value.ValueKind == JsonValueKind.Number && IsInteger(value),
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "null" => value.ValueKind == JsonValueKind.Null,
        _ => true,
    };

    private static bool IsInteger(JsonElement value) =>
        value.TryGetInt64(out _) || (value.TryGetDouble(out var number) && Math.Floor(number) == number && !double.IsInfinity(number));

    private static bool TryGetNumber(JsonElement schema, string keyword, out double number)
    {
        number = 0;
        return schema.TryGetProperty(keyword, out var element) && element.ValueKind == JsonValueKind.Number && element.TryGetDouble(out number);
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Number when IsInteger(value) => "integer",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        var kind => kind.ToString().ToLowerInvariant(),
    };

    private static string Format(double number) => number.ToString(CultureInfo.InvariantCulture);
}
