using System.Globalization;
using System.Text;
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

    /// <summary>The longest number a payload may hold, in characters.</summary>
    public const int MaxNumberLength = 1000;

    /// <summary>The largest decimal exponent (either sign) a payload's number may be written with.</summary>
    public const int MaxNumberExponent = 1000;

    public static bool IsValidType(string? type) => type is not null && TypePattern().IsMatch(type);

    /// <summary>
    /// Why <paramref name="payload"/> cannot be stored as a job's payload, or null when it can. PostgreSQL's jsonb
    /// rejects what System.Text.Json accepts: U+0000 in a string or a property name, lone surrogate escapes, and
    /// numbers beyond numeric's range (131072 integer digits, 16383 decimal places). Numbers must also be finite
    /// doubles, since handlers read them with System.Text.Json; the length and exponent bounds keep every such
    /// number well inside numeric's range.
    /// </summary>
    public static string? FindPayloadProblem(JsonElement payload) => FindProblem(payload, new StringBuilder("$"));

    /// <summary>Why <paramref name="key"/> cannot be a dedupe key (control characters, which include U+0000, or lone surrogates), or null.</summary>
    public static string? FindDedupeKeyProblem(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        for (var i = 0; i < key.Length; i++)
        {
            var c = key[i];
            if (char.IsControl(c))
            {
                return $"The dedupe key cannot contain control characters; it has U+{(int)c:X4} at position {i}.";
            }
            if (char.IsHighSurrogate(c) && i + 1 < key.Length && char.IsLowSurrogate(key[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return $"The dedupe key is not valid Unicode: it has a lone surrogate at position {i}.";
            }
        }
        return null;
    }

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
        // Checked here rather than left to PostgreSQL, whose error would not say which job or field was at fault.
        if (DedupeKey is { } dedupeKey && FindDedupeKeyProblem(dedupeKey) is { } keyProblem)
        {
            throw new ArgumentException(keyProblem, nameof(DedupeKey));
        }
        if (FindPayloadProblem(Payload) is { } payloadProblem)
        {
            throw new ArgumentException($"The payload of a '{Type}' job cannot be stored: {payloadProblem}", nameof(Payload));
        }
    }

    private static string? FindProblem(JsonElement element, StringBuilder path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    var length = path.Length;
                    if (!TryRead(() => property.Name, out var name))
                    {
                        return $"A property name in {path} is not valid Unicode (a lone surrogate escape).";
                    }
                    if (name.Contains('\0', StringComparison.Ordinal))
                    {
                        return $"A property name in {path} contains U+0000, which PostgreSQL cannot store.";
                    }
                    path.Append('.').Append(name);
                    if (FindProblem(property.Value, path) is { } problem)
                    {
                        return problem;
                    }
                    path.Length = length;
                }
                return null;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    var length = path.Length;
                    path.Append('[').Append(index++.ToString(CultureInfo.InvariantCulture)).Append(']');
                    if (FindProblem(item, path) is { } problem)
                    {
                        return problem;
                    }
                    path.Length = length;
                }
                return null;
            case JsonValueKind.String:
                if (!TryRead(element.GetString, out var text))
                {
                    return $"The string at {path} is not valid Unicode (a lone surrogate escape).";
                }
                return text.Contains('\0', StringComparison.Ordinal) ? $"The string at {path} contains U+0000, which PostgreSQL cannot store." : null;
            case JsonValueKind.Number:
                return IsStorableNumber(element) ? null
                    : $"The number at {path} is out of range: numbers must be finite doubles, written in at most {MaxNumberLength} characters, with an exponent from -{MaxNumberExponent} to {MaxNumberExponent}.";
            default:
                return null;
        }
    }

    private static bool IsStorableNumber(JsonElement number)
    {
        // TryGetDouble succeeds with infinity for 1e1000000, so finiteness is checked separately.
        if (!number.TryGetDouble(out var value) || !double.IsFinite(value))
        {
            return false;
        }
        var text = number.GetRawText();
        if (text.Length > MaxNumberLength)
        {
            return false;
        }
        // A finite double can still be written with an exponent numeric cannot take (0e-20000 is zero).
        var e = text.AsSpan().IndexOfAny('e', 'E');
        return e < 0 || (int.TryParse(text.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var exponent)
            && Math.Abs((long)exponent) <= MaxNumberExponent);
    }

    private static bool TryRead(Func<string?> read, out string text)
    {
        try
        {
            text = read() ?? "";
            return true;
        }
        catch (InvalidOperationException)
        {
            // System.Text.Json parses "\ud800" but throws when asked for the string.
            text = "";
            return false;
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

    // \z, not $: in .NET, $ also matches before a final "\n", which the table's CHECK constraint rejects.
    [GeneratedRegex(@"^[a-z0-9][a-z0-9._:-]{0,99}\z", RegexOptions.CultureInvariant)]
    private static partial Regex TypePattern();
}
