using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.AI;

namespace AspireAi.Api.OpenAiCompat;

/// <summary>A chat completion request checked and translated into Microsoft.Extensions.AI terms.</summary>
internal sealed record ClientChatRequest(
    IReadOnlyList<ChatMessage> Messages, IReadOnlyList<AIFunctionDeclaration> Tools, ChatToolMode? ToolMode, ChatResponseFormat? ResponseFormat,
    float? Temperature, int? MaxOutputTokens, bool Stream, bool IncludeUsage);

/// <summary>
/// Reads the body of <c>POST /v1/chat/completions</c> and says precisely what is wrong with it, naming the field
/// (<c>param</c>) as OpenAI does, before anything is stored or sent to a model.
/// </summary>
internal static partial class OpenAiRequestReader
{
    private const int MaxMessages = 500;
    private const int MaxTools = 128;
    private const int MaxUserLength = 256;

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex FunctionName();

    public static async Task<(T? Request, JsonHttpResult<OpenAiErrorResponse>? Error)> ReadBodyAsync<T>(HttpRequest request) where T : class
    {
        try
        {
            var body = await JsonSerializer.DeserializeAsync<T>(request.Body, JsonSerializerOptions.Web, request.HttpContext.RequestAborted);
            return body is null ? (null, OpenAiErrors.Invalid("body", "The request body must be a JSON object.")) : (body, null);
        }
        catch (JsonException ex)
        {
            var where = ex.Path is { Length: > 1 } path ? $" at {path}" : "";
            return (null, OpenAiErrors.Invalid(ex.Path?.TrimStart('$', '.') is { Length: > 0 } p ? p : "body", $"The request body is not valid JSON for this endpoint{where}."));
        }
    }

    public static (ClientChatRequest? Request, JsonHttpResult<OpenAiErrorResponse>? Error) Read(ChatCompletionRequest request, int maxContentChars)
    {
        if (request.Messages is not { Count: > 0 } messages)
        {
            return Fail("messages", "'messages' must contain at least one message.");
        }
        if (messages.Count > MaxMessages)
        {
            return Fail("messages", $"'messages' has {messages.Count} messages; the limit is {MaxMessages}.");
        }
        if (request.Temperature is { } temperature && (temperature < 0 || temperature > 2 || float.IsNaN(temperature)))
        {
            return Fail("temperature", "'temperature' must be between 0 and 2.");
        }
        var maxTokens = request.MaxCompletionTokens ?? request.MaxTokens;
        if (maxTokens is < 1)
        {
            return Fail(request.MaxCompletionTokens is not null ? "max_completion_tokens" : "max_tokens", "The token limit must be at least 1.");
        }
        if (request.User is { Length: > MaxUserLength })
        {
            return Fail("user", $"'user' is longer than {MaxUserLength} characters.");
        }

        var converted = new List<ChatMessage>(messages.Count);
        for (var i = 0; i < messages.Count; i++)
        {
            var (message, error) = ReadMessage(messages[i], $"messages[{i}]", maxContentChars);
            if (error is not null)
            {
                return (null, error);
            }
            converted.Add(message!);
        }
        if (!converted.Any(m => m.Role == ChatRole.User))
        {
            return Fail("messages", "'messages' must contain a message with role 'user'.");
        }

        var tools = new List<AIFunctionDeclaration>();
        if (request.Tools is { } definitions)
        {
            if (definitions.Count > MaxTools)
            {
                return Fail("tools", $"'tools' has {definitions.Count} tools; the limit is {MaxTools}.");
            }
            for (var i = 0; i < definitions.Count; i++)
            {
                var definition = definitions[i];
                var param = $"tools[{i}]";
                if (definition is not { Type: "function", Function: { } function })
                {
                    return Fail(param, $"'{param}' must be {{\"type\": \"function\", \"function\": {{...}}}}.");
                }
                if (function.Name is null || !FunctionName().IsMatch(function.Name))
                {
                    return Fail($"{param}.function.name", "A function name is 1 to 64 characters of a-z, A-Z, 0-9, '_' and '-'.");
                }
                if (tools.Any(t => t.Name == function.Name))
                {
                    return Fail($"{param}.function.name", $"The function '{function.Name}' is defined twice.");
                }
                if (function.Parameters is { } parameters && parameters.ValueKind != JsonValueKind.Object)
                {
                    return Fail($"{param}.function.parameters", "'parameters' must be a JSON Schema object.");
                }
                var schema = function.Parameters ?? JsonElement.Parse("""{"type":"object","properties":{}}""");
                tools.Add(AIFunctionFactory.CreateDeclaration(function.Name, function.Description ?? "", schema));
            }
        }

        var (toolMode, toolChoiceError) = ReadToolChoice(request.ToolChoice, tools);
        if (toolChoiceError is not null)
        {
            return (null, toolChoiceError);
        }

        ChatResponseFormat? format = null;
        switch (request.ResponseFormat)
        {
            case null or { Type: "text" }:
                break;
            case { Type: "json_object" }:
                format = ChatResponseFormat.Json;
                break;
            case { Type: "json_schema", JsonSchema: { Schema: { ValueKind: JsonValueKind.Object } schema } jsonSchema }:
                if (jsonSchema.Name is null || !FunctionName().IsMatch(jsonSchema.Name))
                {
                    return Fail("response_format.json_schema.name", "The schema name is 1 to 64 characters of a-z, A-Z, 0-9, '_' and '-'.");
                }
                format = ChatResponseFormat.ForJsonSchema(schema, jsonSchema.Name, jsonSchema.Description);
                break;
            case { Type: "json_schema" }:
                return Fail("response_format.json_schema.schema", "'json_schema.schema' must be a JSON Schema object.");
            default:
                return Fail("response_format.type", "'response_format.type' must be 'text', 'json_object' or 'json_schema'.");
        }

        var stream = request.Stream ?? false;
        if (!stream && request.StreamOptions is not null)
        {
            return Fail("stream_options", "'stream_options' is only allowed when 'stream' is true.");
        }
        return (new ClientChatRequest(converted, tools, toolMode, format, request.Temperature, maxTokens, stream, request.StreamOptions?.IncludeUsage ?? false), null);
    }

    private static (ChatMessage? Message, JsonHttpResult<OpenAiErrorResponse>? Error) ReadMessage(ChatCompletionMessage? message, string param, int maxContentChars)
    {
        if (message is null)
        {
            return (null, OpenAiErrors.Invalid(param, $"'{param}' must be an object."));
        }
        var (text, textError) = ReadContent(message.Content, $"{param}.content", maxContentChars);
        if (textError is not null)
        {
            return (null, textError);
        }
        switch (message.Role)
        {
            case "system" or "developer":
                return text is null ? Missing() : (new ChatMessage(ChatRole.System, text), null);
            case "user":
                return text is null ? Missing() : (new ChatMessage(ChatRole.User, text) { AuthorName = message.Name }, null);
            case "assistant":
                var contents = new List<AIContent>();
                if (!string.IsNullOrEmpty(text))
                {
                    contents.Add(new TextContent(text));
                }
                for (var i = 0; i < (message.ToolCalls?.Count ?? 0); i++)
                {
                    var call = message.ToolCalls![i];
                    var callParam = $"{param}.tool_calls[{i}]";
                    if (call is not { Id.Length: > 0, Function.Name.Length: > 0 })
                    {
                        return (null, OpenAiErrors.Invalid(callParam, $"'{callParam}' needs an 'id' and a 'function.name'."));
                    }
                    Dictionary<string, object?>? arguments;
                    try
                    {
                        arguments = JsonSerializer.Deserialize<Dictionary<string, object?>>(string.IsNullOrWhiteSpace(call.Function.Arguments) ? "{}" : call.Function.Arguments);
                    }
                    catch (JsonException)
                    {
                        return (null, OpenAiErrors.Invalid($"{callParam}.function.arguments", "'arguments' must be a JSON object encoded as a string."));
                    }
                    contents.Add(new FunctionCallContent(call.Id, call.Function.Name, arguments));
                }
                return contents.Count == 0
                    ? (null, OpenAiErrors.Invalid(param, $"'{param}' needs 'content' or 'tool_calls'."))
                    : (new ChatMessage(ChatRole.Assistant, contents), null);
            case "tool":
                if (string.IsNullOrEmpty(message.ToolCallId))
                {
                    return (null, OpenAiErrors.Invalid($"{param}.tool_call_id", "A 'tool' message needs the 'tool_call_id' it answers."));
                }
                return (new ChatMessage(ChatRole.Tool, [new FunctionResultContent(message.ToolCallId, text ?? "")]), null);
            default:
                return (null, OpenAiErrors.Invalid($"{param}.role", "'role' must be 'system', 'developer', 'user', 'assistant' or 'tool'."));
        }

        (ChatMessage?, JsonHttpResult<OpenAiErrorResponse>?) Missing() => (null, OpenAiErrors.Invalid($"{param}.content", $"'{param}.content' is required."));
    }

    // A string, an array of text parts, or null. Images and audio are refused: no configured model is asked to see them.
    private static (string? Text, JsonHttpResult<OpenAiErrorResponse>? Error) ReadContent(JsonElement? content, string param, int maxChars)
    {
        string? text;
        switch (content)
        {
            case null or { ValueKind: JsonValueKind.Null or JsonValueKind.Undefined }:
                return (null, null);
            case { ValueKind: JsonValueKind.String } s:
                text = s.GetString();
                break;
            case { ValueKind: JsonValueKind.Array } parts:
                var builder = new System.Text.StringBuilder();
                var index = 0;
                foreach (var part in parts.EnumerateArray())
                {
                    if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.GetString() != "text"
                        || !part.TryGetProperty("text", out var partText) || partText.ValueKind != JsonValueKind.String)
                    {
                        return (null, OpenAiErrors.Invalid($"{param}[{index}]", "Only text content parts ({\"type\": \"text\", \"text\": \"...\"}) are supported."));
                    }
                    builder.Append(partText.GetString());
                    index++;
                }
                text = builder.ToString();
                break;
            default:
                return (null, OpenAiErrors.Invalid(param, "'content' must be a string or an array of text parts."));
        }
        return text!.Length > maxChars
            ? (null, OpenAiErrors.Invalid(param, $"The content is {text.Length} characters long; the limit is {maxChars}."))
            : (text, null);
    }

    private static (ChatToolMode? Mode, JsonHttpResult<OpenAiErrorResponse>? Error) ReadToolChoice(JsonElement? choice, List<AIFunctionDeclaration> tools)
    {
        switch (choice)
        {
            case null or { ValueKind: JsonValueKind.Null or JsonValueKind.Undefined }:
                return (null, null);
            case { ValueKind: JsonValueKind.String } s when s.GetString() is "auto":
                return (ChatToolMode.Auto, null);
            case { ValueKind: JsonValueKind.String } s when s.GetString() is "none":
                return (ChatToolMode.None, null);
            case { ValueKind: JsonValueKind.String } s when s.GetString() is "required":
                return (ChatToolMode.RequireAny, null);
            case { ValueKind: JsonValueKind.Object } o when o.TryGetProperty("function", out var f) && f.ValueKind == JsonValueKind.Object
                && f.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String:
                var name = n.GetString()!;
                return tools.Any(t => t.Name == name)
                    ? (ChatToolMode.RequireSpecific(name), null)
                    : (null, OpenAiErrors.Invalid("tool_choice", $"'tool_choice' names '{name}', which is not in 'tools'."));
            default:
                return (null, OpenAiErrors.Invalid("tool_choice", "'tool_choice' must be 'auto', 'none', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}."));
        }
    }

    private static (ClientChatRequest?, JsonHttpResult<OpenAiErrorResponse>?) Fail(string param, string message) => (null, OpenAiErrors.Invalid(param, message));
}
