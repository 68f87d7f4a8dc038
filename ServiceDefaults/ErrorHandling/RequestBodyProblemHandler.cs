using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;

namespace AspireAi.ServiceDefaults.ErrorHandling;

/// <summary>
/// A request the framework could not bind (a body that is not JSON, a value of the wrong type, a missing required
/// property, a query value that is not a number) answers with a ProblemDetails that names the field and says what
/// was expected. Without this, production answers such a request with a bare 400 that names nothing, and
/// Development with the developer exception page.
/// </summary>
internal sealed partial class RequestBodyProblemHandler(IProblemDetailsService problems, ILogger<RequestBodyProblemHandler> logger)
    : ProblemExceptionHandler(problems)
{
    protected override HandledProblem? Describe(HttpContext httpContext, Exception exception)
    {
        if (Find<BadHttpRequestException>(exception) is not { } bad || bad.StatusCode != StatusCodes.Status400BadRequest)
        {
            return null;
        }

        LogRejected(httpContext.Request.Method, httpContext.Request.Path.Value, bad.Message);
        if (Find<JsonException>(bad) is not { } json)
        {
            // Route, query and header binding failures: the framework's message names the parameter and the value.
            return new HandledProblem(new ProblemDetails
            {
                Status = StatusCodes.Status400BadRequest,
                Title = "The request could not be read",
                Detail = bad.Message,
                Type = "https://tools.ietf.org/html/rfc9110#section-15.5.1",
            }, null);
        }

        // The exception handler clears the request's endpoint before handlers run; its feature keeps it.
        var endpoint = httpContext.Features.Get<IExceptionHandlerFeature>()?.Endpoint ?? httpContext.GetEndpoint();
        var bodyType = endpoint?.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType;
        return new HandledProblem(new HttpValidationProblemDetails(JsonBodyErrors.Describe(json, bodyType))
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "The request body is not valid",
            Type = "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        }, null);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Rejected {Method} {Path}: {Reason}")]
    private partial void LogRejected(string method, string? path, string reason);
}

/// <summary>Describes a <see cref="JsonException"/> from reading a request body as field errors.</summary>
public static partial class JsonBodyErrors
{
    private static readonly string[] Required = ["The field is required."];

    /// <summary>
    /// Field errors for a body the serializer refused, keyed by the field's JSON path ("body" for the whole body):
    /// what was expected, which required members are missing, or where the syntax broke. Endpoints that read their
    /// body themselves use it to answer the way bound endpoints do.
    /// </summary>
    public static Dictionary<string, string[]> Describe(JsonException json, Type? bodyType)
    {
        ArgumentNullException.ThrowIfNull(json);
        var field = FieldName(json.Path);
        if (json is RejectedTextException rejected)
        {
            return new() { [field] = [rejected.Reason] };
        }

        var message = json.Message;
        if (MissingRequired().Match(message) is { Success: true } missing)
        {
            // "… was missing required properties including: 'content', 'title'." names every missing member.
            var prefix = field == "body" ? "" : field + ".";
            return missing.Groups["names"].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(name => prefix + name.Trim('\''))
                .ToDictionary(name => name, _ => Required, StringComparer.Ordinal);
        }
        if (NotConvertible().Match(message) is { Success: true } conversion)
        {
            // The serializer names the member's type, except inside a constructor-bound record, where it names the
            // record: then the member's type is found by walking the path through the endpoint's body type.
            var named = conversion.Groups["type"].Value;
            var type = named.StartsWith("System.", StringComparison.Ordinal) ? null : MemberType(bodyType, json.Path);
            return new() { [field] = [$"Expected {Expected(type is null ? named : TypeName(type))}."] };
        }

        // A syntax error: the reader's message says where (line and byte), which is what the client needs.
        return new() { ["body"] = [$"The request body is not valid JSON: {StripPath(message)}"] };
    }

    private static string FieldName(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "$")
        {
            return "body";
        }
        var name = path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
        // Bracketed names ("$['odd name']") stay as they are; they are rare and unambiguous.
        return name.Length == 0 ? "body" : name;
    }

    private static Type? MemberType(Type? type, string? path)
    {
        if (type is null || string.IsNullOrEmpty(path) || path == "$")
        {
            return type;
        }
        foreach (var segment in PathSegments().Matches(path).Select(m => m.Value))
        {
            if (type is null)
            {
                return null;
            }
            if (segment.StartsWith('['))
            {
                type = type.IsArray ? type.GetElementType()
                    : type.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))?.GetGenericArguments()[0];
                continue;
            }
            var name = segment.TrimStart('.');
            var property = type.GetProperties().FirstOrDefault(p =>
                string.Equals(p.GetCustomAttributes(typeof(JsonPropertyNameAttribute), true).OfType<JsonPropertyNameAttribute>().FirstOrDefault()?.Name ?? p.Name,
                    name, StringComparison.OrdinalIgnoreCase));
            type = property?.PropertyType;
        }
        return type;
    }

    private static string TypeName(Type type) =>
        Nullable.GetUnderlyingType(type) is { } underlying ? underlying.FullName ?? underlying.Name
        : type.IsArray ? type.Name
        : type.IsGenericType && typeof(System.Collections.IEnumerable).IsAssignableFrom(type) ? "System.Collections." + type.Name
        : type.FullName ?? type.Name;

    private static string Expected(string clrType)
    {
        // "System.Nullable`1[System.Int32]" expects what System.Int32 does (null aside).
        const string nullable = "System.Nullable`1[";
        var type = clrType.StartsWith(nullable, StringComparison.Ordinal) ? clrType[nullable.Length..^1] : clrType;
        return type switch
        {
            "System.Int16" or "System.Int32" or "System.Int64" or "System.UInt16" or "System.UInt32" or "System.UInt64" or "System.Byte" => "a whole number",
            "System.Single" or "System.Double" or "System.Decimal" => "a number",
            "System.Boolean" => "true or false",
            "System.String" => "a string",
            "System.Guid" => "an id (a GUID such as 3f2504e0-4f89-11d3-9a0c-0305e82c3301)",
            "System.DateTime" or "System.DateTimeOffset" => "a date and time in ISO 8601 (2026-01-31T12:00:00Z)",
            "System.DateOnly" => "a date in ISO 8601 (2026-01-31)",
            "System.TimeSpan" => "a duration (hh:mm:ss)",
            _ when type.EndsWith("[]", StringComparison.Ordinal) || type.StartsWith("System.Collections.", StringComparison.Ordinal) => "an array",
            _ when type.StartsWith("System.", StringComparison.Ordinal) => "a value of another type",
            // The service's own request records: the client sent a string, number or array where an object goes.
            _ => "an object",
        };
    }

    private static string StripPath(string message)
    {
        // "… Path: $.title | LineNumber: 0 | BytePositionInLine: 25." keeps the position, drops the path.
        var at = message.IndexOf(" Path: ", StringComparison.Ordinal);
        if (at < 0)
        {
            return message;
        }
        var bar = message.IndexOf('|', at);
        return bar < 0 ? message[..at] : $"{message[..at]} ({message[(bar + 1)..].Trim().TrimEnd('.')})";
    }

    // "$.messages[0].content" → ".messages", "[0]", ".content" (the leading $ is not matched).
    [GeneratedRegex(@"\.[^.\[]+|\[[^\]]*\]")]
    private static partial Regex PathSegments();

    [GeneratedRegex(@"missing required properties including: (?<names>.+?)\.?$")]
    private static partial Regex MissingRequired();

    [GeneratedRegex(@"^The JSON value could not be converted to (?<type>[^ ]+)\.")]
    private static partial Regex NotConvertible();
}

/// <summary>A JSON string the service refuses (its message says why); the serializer adds the path.</summary>
internal sealed class RejectedTextException(string reason) : JsonException(reason)
{
    public string Reason { get; } = reason;
}

/// <summary>
/// Refuses JSON strings holding U+0000 anywhere in a request: PostgreSQL cannot store NUL in text or jsonb, and no
/// client means to send one. Rejecting it while reading names the field, instead of a database error later.
/// </summary>
internal sealed class NulFreeStringConverter : JsonConverter<string>
{
    public override bool HandleNull => false;

    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var value = reader.GetString();
        if (value is not null && value.Contains('\0', StringComparison.Ordinal))
        {
            throw new RejectedTextException("The text must not contain NUL (U+0000) characters.");
        }
        return value;
    }

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStringValue(value);
    }

    // Dictionary keys are strings too (a string-keyed map in a body; the headers the developer exception page
    // writes): without these, any such dictionary fails to (de)serialise once this converter is registered.
    public override string ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        Read(ref reader, typeToConvert, options) ?? string.Empty;

    public override void WriteAsPropertyName(Utf8JsonWriter writer, string value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WritePropertyName(value);
    }
}
