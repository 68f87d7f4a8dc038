using System.Text.Json;

namespace AspireAi.Core.Chat;

/// <summary>The events of one streamed answer; the Api writes them as SSE or folds them into one JSON reply.</summary>
public abstract record ChatEvent([property: System.Text.Json.Serialization.JsonIgnore] string EventName);

public sealed record DeltaEvent(string Text) : ChatEvent("delta");

public sealed record ToolCallEvent(string Id, string Name, JsonElement Arguments) : ChatEvent("tool_call");

public sealed record ToolResultEvent(string Id, string Name, string Result, bool IsError) : ChatEvent("tool_result");

public sealed record UsageEvent(int InputTokens, int OutputTokens) : ChatEvent("usage");

public sealed record DoneEvent(
    Guid MessageId, Guid UserMessageId, string Model, string PromptName, int PromptVersion, int InputTokens, int OutputTokens,
    decimal Cost, string? TraceId, IReadOnlyList<Guid> MemoryIds, IReadOnlyList<Citation> Citations) : ChatEvent("done");

/// <summary>A failure after the stream started, as RFC 9457 fields.</summary>
public sealed record ErrorEvent(int Status, string Title, string Detail, string Type, string? TraceId) : ChatEvent("error");
