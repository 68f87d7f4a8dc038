using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AspireAi.Core.Memory;

/// <summary>
/// Turns the almost-JSON that small models produce into JSON: code fences and prose around the value, single-quoted
/// strings, unquoted keys, Python literals, trailing commas, comments, and answers cut off mid-way (an open string,
/// object or array is closed; a dangling key or a half-written element is dropped).
/// </summary>
public static class JsonRepair
{
    private const int MaxTrims = 64;

    /// <summary>Parses <paramref name="text"/> as JSON, repairing it if needed.</summary>
    /// <param name="text">The model's answer.</param>
    /// <param name="result">The value and what had to be done to get it.</param>
    /// <param name="error">Why nothing could be recovered.</param>
    public static bool TryParse(string? text, [NotNullWhen(true)] out JsonRepairResult? result, [NotNullWhen(false)] out string? error)
    {
        result = null;
        error = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "The answer is empty.";
            return false;
        }
        if (TryStrict(text.Trim(), out var node))
        {
            result = new JsonRepairResult(node, Repaired: false, Truncated: false);
            return true;
        }

        var body = ExtractBody(text);
        if (body is null)
        {
            error = "The answer contains no JSON object or array.";
            return false;
        }
        var normalized = Normalize(body);
        // A cut-off answer: close what is open. A string cut mid-way is never kept (a truncated "Works at Ac" would be
        // a wrong fact), so the incomplete last element is dropped and closing is tried again.
        var candidate = normalized;
        for (var attempt = 0; attempt < MaxTrims && candidate.Length > 0; attempt++)
        {
            if (Close(candidate, out var truncated) is { } closed && TryStrict(closed, out node))
            {
                result = new JsonRepairResult(node, Repaired: true, Truncated: truncated || attempt > 0);
                return true;
            }
            var cut = LastElementBoundary(candidate);
            if (cut <= 0)
            {
                break;
            }
            candidate = candidate[..cut];
        }
        error = "The answer is not JSON and could not be repaired.";
        return false;
    }

    private static bool TryStrict(string text, [NotNullWhen(true)] out JsonNode? node)
    {
        try
        {
            node = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
            return node is not null;
        }
        catch (JsonException)
        {
            node = null;
            return false;
        }
    }

    // From the first { or [ on: drops ```json fences and any prose before the value (and, once balanced, after it).
    private static string? ExtractBody(string text)
    {
        var fence = text.IndexOf("```", StringComparison.Ordinal);
        if (fence >= 0)
        {
            var start = text.IndexOf('\n', fence);
            var end = start < 0 ? -1 : text.IndexOf("```", start, StringComparison.Ordinal);
            text = start < 0 ? text[(fence + 3)..] : end < 0 ? text[(start + 1)..] : text[(start + 1)..end];
        }
        var first = text.IndexOfAny(['{', '[']);
        if (first < 0)
        {
            return null;
        }
        text = text[first..];
        var balancedEnd = BalancedEnd(text);
        return balancedEnd > 0 ? text[..balancedEnd] : text;
    }

    // Index just after the value that starts at 0 when it closes; -1 when the text ends first.
    private static int BalancedEnd(string text)
    {
        var depth = 0;
        var end = -1;
        ForEachOutsideStrings(text, singleQuotes: true, i =>
        {
            switch (text[i])
            {
                case '{' or '[':
                    depth++;
                    break;
                case '}' or ']':
                    depth--;
                    if (depth == 0)
                    {
                        end = i + 1;
                        return false;
                    }
                    break;
            }
            return true;
        });
        return end;
    }

    // Rewrites to strict JSON syntax token by token: double-quoted strings, quoted keys, JSON literals, no comments,
    // no trailing commas. Whatever is unterminated at the end stays unterminated (Close deals with it).
    private static string Normalize(string text)
    {
        var output = new StringBuilder(text.Length + 16);
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c is '"' or '\'')
            {
                i = CopyString(text, i, output);
                continue;
            }
            if (c == '/' && i + 1 < text.Length && text[i + 1] is '/' or '*')
            {
                i = SkipComment(text, i);
                continue;
            }
            if (c == ',')
            {
                // Trailing comma: the next significant character closes the container.
                var next = NextSignificant(text, i + 1);
                if (next < text.Length && text[next] is '}' or ']')
                {
                    i++;
                    continue;
                }
                output.Append(c);
                i++;
                continue;
            }
            if (char.IsLetter(c) || c == '_' || c == '$')
            {
                var start = i;
                while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] is '_' or '$' or '-'))
                {
                    i++;
                }
                var word = text[start..i];
                var after = NextSignificant(text, i);
                if (after < text.Length && text[after] == ':')
                {
                    output.Append('"').Append(word).Append('"'); // unquoted key
                }
                else
                {
                    output.Append(word switch
                    {
                        "True" or "TRUE" => "true",
                        "False" or "FALSE" => "false",
                        "None" or "NULL" or "Null" or "undefined" => "null",
                        _ => word,
                    });
                }
                continue;
            }
            output.Append(c);
            i++;
        }
        return output.ToString();
    }

    private static int CopyString(string text, int start, StringBuilder output)
    {
        var quote = text[start];
        output.Append('"');
        var i = start + 1;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '\\' && i + 1 < text.Length)
            {
                var escaped = text[i + 1];
                // \' is not a JSON escape; a lone quote is fine inside double quotes.
                if (escaped == '\'')
                {
                    output.Append('\'');
                }
                else
                {
                    output.Append(c).Append(escaped);
                }
                i += 2;
                continue;
            }
            if (c == quote)
            {
                output.Append('"');
                return i + 1;
            }
            switch (c)
            {
                case '"':
                    output.Append("\\\""); // only reachable inside a single-quoted string
                    break;
                case '\n':
                    output.Append("\\n");
                    break;
                case '\r':
                    output.Append("\\r");
                    break;
                case '\t':
                    output.Append("\\t");
                    break;
                default:
                    output.Append(c);
                    break;
            }
            i++;
        }
        return i; // unterminated: Close adds the quote
    }

    private static int SkipComment(string text, int i)
    {
        if (text[i + 1] == '/')
        {
            var end = text.IndexOf('\n', i);
            return end < 0 ? text.Length : end;
        }
        var close = text.IndexOf("*/", i + 2, StringComparison.Ordinal);
        return close < 0 ? text.Length : close + 2;
    }

    private static int NextSignificant(string text, int i)
    {
        while (i < text.Length && char.IsWhiteSpace(text[i]))
        {
            i++;
        }
        return i;
    }

    // Closes every open container after removing a dangling ',' or ':' (or a key without a value); null when the
    // text ends inside a string. truncated: something had to be closed or dropped.
    private static string? Close(string text, out bool truncated)
    {
        truncated = false;
        var stack = new Stack<char>();
        var endsInString = ForEachOutsideStrings(text, singleQuotes: false, i =>
        {
            switch (text[i])
            {
                case '{':
                    stack.Push('}');
                    break;
                case '[':
                    stack.Push(']');
                    break;
                case '}' or ']':
                    if (stack.Count > 0)
                    {
                        stack.Pop();
                    }
                    break;
            }
            return true;
        });
        if (endsInString)
        {
            return null;
        }
        var trimmed = text.TrimEnd();
        while (trimmed.EndsWith(',') || trimmed.EndsWith(':'))
        {
            truncated = true;
            if (trimmed.EndsWith(':'))
            {
                // A key without its value: drop the key too.
                var body = trimmed[..^1].TrimEnd();
                var keyStart = body.EndsWith('"') ? body.LastIndexOf('"', body.Length - 2) : -1;
                trimmed = keyStart >= 0 ? body[..keyStart].TrimEnd() : body;
            }
            else
            {
                trimmed = trimmed[..^1].TrimEnd();
            }
        }
        // A bare string right after '{' or ',' inside an object is a key without a value.
        if (stack.Count > 0 && stack.Peek() == '}' && trimmed.EndsWith('"') && trimmed.Length >= 2)
        {
            var open = trimmed.LastIndexOf('"', trimmed.Length - 2);
            var before = open > 0 ? trimmed[..open].TrimEnd() : "";
            if (before.EndsWith('{') || before.EndsWith(','))
            {
                truncated = true;
                trimmed = before.EndsWith(',') ? before[..^1].TrimEnd() : before;
            }
        }
        if (stack.Count == 0)
        {
            return trimmed;
        }
        truncated = true;
        var result = new StringBuilder(trimmed);
        while (stack.Count > 0)
        {
            result.Append(stack.Pop());
        }
        return result.ToString();
    }

    // The position of the last ',' outside strings (to cut an incomplete last element), or 0 when there is none.
    private static int LastElementBoundary(string text)
    {
        var last = 0;
        ForEachOutsideStrings(text, singleQuotes: false, i =>
        {
            if (text[i] == ',')
            {
                last = i;
            }
            return true;
        });
        return last;
    }

    // The one string-aware walk the repairs share: calls visit with the index of every character outside string
    // literals (a quote opening one is not visited; backslash escapes are honoured inside), until visit returns
    // false. Returns whether the text ended inside a string.
    private static bool ForEachOutsideStrings(string text, bool singleQuotes, Func<int, bool> visit)
    {
        char? quote = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quote is { } open)
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == open)
                {
                    quote = null;
                }
                continue;
            }
            if (c == '"' || (singleQuotes && c == '\''))
            {
                quote = c;
                continue;
            }
            if (!visit(i))
            {
                return false;
            }
        }
        return quote is not null;
    }
}

/// <summary>A value recovered by <see cref="JsonRepair"/>.</summary>
/// <param name="Value">The JSON value.</param>
/// <param name="Repaired">The text was not valid JSON as it stood.</param>
/// <param name="Truncated">The answer was cut off: containers had to be closed or an incomplete element dropped, so the
/// last element of an array may be missing fields.</param>
public sealed record JsonRepairResult(JsonNode Value, bool Repaired, bool Truncated);
