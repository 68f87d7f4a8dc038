using System.Text.Json;
using System.Text.Json.Serialization;

namespace AspireAi.Api.OpenAiCompat;

// The wire shapes of OpenAI's Chat Completions, Embeddings and Models APIs, as far as this server implements them.
// Names are spelled out (snake_case) so the OpenAPI document and the JSON agree whatever the app's JSON defaults are.

public sealed record ChatCompletionRequest(
    [property: JsonPropertyName("model")] string? Model,
    [property: JsonPropertyName("messages")] IReadOnlyList<ChatCompletionMessage?>? Messages,
    [property: JsonPropertyName("stream")] bool? Stream,
    [property: JsonPropertyName("stream_options")] StreamOptions? StreamOptions,
    [property: JsonPropertyName("tools")] IReadOnlyList<ToolDefinition?>? Tools,
    [property: JsonPropertyName("tool_choice")] JsonElement? ToolChoice,
    [property: JsonPropertyName("response_format")] ResponseFormat? ResponseFormat,
    [property: JsonPropertyName("user")] string? User,
    [property: JsonPropertyName("max_tokens")] int? MaxTokens,
    [property: JsonPropertyName("max_completion_tokens")] int? MaxCompletionTokens,
    [property: JsonPropertyName("temperature")] float? Temperature,
    [property: JsonPropertyName("metadata")] IReadOnlyDictionary<string, string>? Metadata);

public sealed record StreamOptions([property: JsonPropertyName("include_usage")] bool? IncludeUsage);

/// <summary>A message; <c>content</c> is a string, an array of text parts, or null (an assistant message with tool calls).</summary>
public sealed record ChatCompletionMessage(
    [property: JsonPropertyName("role")] string? Role,
    [property: JsonPropertyName("content")] JsonElement? Content,
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("tool_calls")] IReadOnlyList<ToolCall?>? ToolCalls,
    [property: JsonPropertyName("tool_call_id")] string? ToolCallId);

public sealed record ToolCall(
    [property: JsonPropertyName("id")] string? Id,
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("function")] FunctionCall? Function);

public sealed record FunctionCall(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("arguments")] string? Arguments);

public sealed record ToolDefinition(
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("function")] FunctionDefinition? Function);

public sealed record FunctionDefinition(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("parameters")] JsonElement? Parameters,
    [property: JsonPropertyName("strict")] bool? Strict);

public sealed record ResponseFormat(
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("json_schema")] JsonSchemaFormat? JsonSchema);

public sealed record JsonSchemaFormat(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("schema")] JsonElement? Schema,
    [property: JsonPropertyName("strict")] bool? Strict);

public sealed record ChatCompletion(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("object")] string ObjectType,
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("choices")] IReadOnlyList<ChatCompletionChoice> Choices,
    [property: JsonPropertyName("usage")] CompletionUsage? Usage);

public sealed record ChatCompletionChoice(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("message")] AssistantMessage Message,
    [property: JsonPropertyName("finish_reason")] string FinishReason);

public sealed record AssistantMessage(
    [property: JsonPropertyName("role")] string Role,
    [property: JsonPropertyName("content")] string? Content,
    [property: JsonPropertyName("tool_calls")] IReadOnlyList<ToolCall>? ToolCalls);

public sealed record CompletionUsage(
    [property: JsonPropertyName("prompt_tokens")] int PromptTokens,
    [property: JsonPropertyName("completion_tokens")] int CompletionTokens,
    [property: JsonPropertyName("total_tokens")] int TotalTokens);

public sealed record ChatCompletionChunk(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("object")] string ObjectType,
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("choices")] IReadOnlyList<ChunkChoice> Choices,
    [property: JsonPropertyName("usage")] CompletionUsage? Usage);

public sealed record ChunkChoice(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("delta")] ChunkDelta Delta,
    [property: JsonPropertyName("finish_reason")] string? FinishReason);

public sealed record ChunkDelta(
    [property: JsonPropertyName("role")] string? Role,
    [property: JsonPropertyName("content")] string? Content,
    [property: JsonPropertyName("tool_calls")] IReadOnlyList<ChunkToolCall>? ToolCalls);

public sealed record ChunkToolCall(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("function")] FunctionCall Function);

/// <summary><c>input</c> is a string or an array of strings (token arrays are not accepted).</summary>
public sealed record EmbeddingsRequest(
    [property: JsonPropertyName("model")] string? Model,
    [property: JsonPropertyName("input")] JsonElement? Input,
    [property: JsonPropertyName("encoding_format")] string? EncodingFormat,
    [property: JsonPropertyName("dimensions")] int? Dimensions,
    [property: JsonPropertyName("user")] string? User);

/// <summary><c>embedding</c> is an array of floats, or a base64 string of little-endian float32 values.</summary>
public sealed record EmbeddingItem(
    [property: JsonPropertyName("object")] string ObjectType,
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("embedding")] JsonElement Embedding);

public sealed record EmbeddingsResponse(
    [property: JsonPropertyName("object")] string ObjectType,
    [property: JsonPropertyName("data")] IReadOnlyList<EmbeddingItem> Data,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("usage")] EmbeddingsUsage Usage);

public sealed record EmbeddingsUsage(
    [property: JsonPropertyName("prompt_tokens")] int PromptTokens,
    [property: JsonPropertyName("total_tokens")] int TotalTokens);

public sealed record ModelInfo(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("object")] string ObjectType,
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("owned_by")] string OwnedBy);

public sealed record ModelList(
    [property: JsonPropertyName("object")] string ObjectType,
    [property: JsonPropertyName("data")] IReadOnlyList<ModelInfo> Data);

/// <summary>OpenAI's error body: <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
public sealed record OpenAiErrorResponse([property: JsonPropertyName("error")] OpenAiError Error);

public sealed record OpenAiError(
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("param")] string? Param,
    [property: JsonPropertyName("code")] string? Code);
