using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Serialization;
using AspireAi.Core.Memory;

namespace AspireAi.Api.Memories;

/// <summary>One message to extract memories from.</summary>
public sealed record MemoryMessageRequest(string? Role, string? Content);

/// <summary>
/// <c>POST /v1/memories</c>: either <c>messages</c> or <c>text</c>. <c>infer</c> (default true) extracts facts from
/// them in a job (202); <c>infer=false</c> stores <c>text</c> as written (201, or 200 when the scope already holds it).
/// </summary>
public sealed record CreateMemoryRequest(
    IReadOnlyList<MemoryMessageRequest>? Messages,
    [property: MaxLength(2000)] string? Text,
    bool? Infer,
    string? Scope,
    [property: MaxLength(100), RegularExpression("^[A-Za-z0-9_-]+$")] string? SessionId,
    [property: MaxLength(64), RegularExpression("^[a-z0-9][a-z0-9_.-]*$")] string? AgentId,
    string? Type,
    [property: Range(0.0, 1.0)] double? Importance,
    DateTimeOffset? ExpiresAt,
    JsonElement? Metadata);

/// <summary><c>PUT /v1/memories/{id}</c>: the new text (a new version), and optionally a new type or importance.</summary>
public sealed record UpdateMemoryRequest(
    [property: Required, MinLength(1), MaxLength(2000)] string? Text,
    string? Type,
    [property: Range(0.0, 1.0)] double? Importance);

/// <summary>Filters of a search: <c>scope</c> and <c>type</c> take one name or a list.</summary>
public sealed record MemorySearchFilters(
    JsonElement? Scope,
    JsonElement? Type,
    [property: MaxLength(64)] string? AgentId,
    [property: MaxLength(100)] string? SessionId);

/// <summary><c>POST /v1/memories/search</c>. <c>top_k</c> (as in the issue and mem0) and <c>topK</c> are both accepted.</summary>
public sealed record SearchMemoriesRequest(
    [property: MaxLength(2000)] string? Query,
    int? TopK,
    [property: JsonPropertyName("top_k")] int? TopKAlias,
    MemorySearchFilters? Filters,
    bool? Explain);

public sealed record MemoryEntityResponse(string Name, string Type);

public sealed record MemoryResponse(
    Guid Id, string Scope, string Type, string Text, float Importance, string? AgentId, string? SessionId,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset ValidFrom, DateTimeOffset? InvalidatedAt, string? InvalidatedReason,
    DateTimeOffset? ExpiresAt, DateTimeOffset? LastAccessedAt, int AccessCount, bool IsCurrent, Guid LineageId, Guid? SupersedesId,
    Guid? SupersededById, IReadOnlyList<Guid> SourceMessageIds, IReadOnlyList<MemoryEntityResponse> Entities, string EmbeddingModel,
    JsonElement Metadata,
    // Only in the administrators' list, which spans users: a user's own answers never name the owner.
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? OwnerUserId = null)
{
    public static MemoryResponse From(MemoryRecord m)
    {
        ArgumentNullException.ThrowIfNull(m);
        return new(m.Id, MemoryNames.Of(m.Scope), MemoryNames.Of(m.Type), m.Text, m.Importance, m.AgentId, m.SessionId, m.CreatedAt, m.UpdatedAt,
            m.ValidFrom, m.InvalidatedAt, m.InvalidatedReason, m.ExpiresAt, m.LastAccessedAt, m.AccessCount, m.IsCurrent, m.LineageId, m.SupersedesId,
            m.SupersededById, m.SourceMessageIds, [.. m.Entities.Select(e => new MemoryEntityResponse(e.Name, e.Type))], m.EmbeddingModel, m.Metadata);
    }
}

/// <summary>A write's outcome: ADD/UPDATE/DELETE/NOOP, the memory now holding the text, and the version it replaced.</summary>
public sealed record MemoryWriteResponse(string Operation, MemoryResponse? Memory, Guid? PreviousId, string Reason)
{
    public static MemoryWriteResponse From(MemoryWriteResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return new(MemoryNames.Of(result.Operation), result.Memory is null ? null : MemoryResponse.From(result.Memory), result.Previous?.Id, result.Reason);
    }
}

/// <summary>202 for <c>infer=true</c>: the extraction job and the source it reads.</summary>
public sealed record MemoryExtractionAccepted(long? JobId, Guid SourceId, string Status);

/// <summary><c>GET /v1/memories/extractions/{sourceId}</c>: status queued | running | done | skipped | failed.</summary>
public sealed record MemoryExtractionStatusResponse(Guid SourceId, string Status, string? Reason, int? Facts,
    IReadOnlyDictionary<string, int>? Operations, int Attempts, DateTimeOffset CreatedAt, DateTimeOffset? ProcessedAt);

public sealed record MemorySearchHit(
    Guid Id, string Scope, string Type, string Text, float Importance, string? AgentId, string? SessionId, DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt, double Score, MemoryScoreBreakdown? Explain);

public sealed record MemorySearchResponse(IReadOnlyList<MemorySearchHit> Items, string EmbeddingModel, int Candidates, double TookMs);

public sealed record MemoryHistoryItem(
    long Id, Guid MemoryId, Guid? RelatedMemoryId, string Operation, string? OldText, string? NewText, string Actor, Guid? ActorUserId,
    string? Reason, string? Source, Guid? SourceId, DateTimeOffset CreatedAt)
{
    public static MemoryHistoryItem From(MemoryHistoryEntry h)
    {
        ArgumentNullException.ThrowIfNull(h);
        return new(h.Id, h.MemoryId, h.RelatedMemoryId, h.Operation, h.OldText, h.NewText, h.Actor, h.ActorUserId, h.Reason, h.Source, h.SourceId, h.CreatedAt);
    }
}

public sealed record MemoryHistoryResponse(Guid MemoryId, Guid LineageId, IReadOnlyList<MemoryHistoryItem> Items);

public sealed record MemoryPageResponse(IReadOnlyList<MemoryResponse> Items, string? NextCursor);

public sealed record MemoryExportResponse(Guid UserId, DateTimeOffset ExportedAt, IReadOnlyList<MemoryResponse> Memories, IReadOnlyList<MemoryHistoryItem> History);

public sealed record MemoryErasureResponse(long Memories, long History, long EntityLinks, long Entities, long Sources, long RedisKeys);

/// <summary>The administrators' view of one memory: the memory, its owner (null for shared ones) and its lineage history.</summary>
public sealed record AdminMemoryResponse(MemoryResponse Memory, Guid? OwnerUserId, IReadOnlyList<MemoryHistoryItem> History);
