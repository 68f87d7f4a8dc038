using System.Text.Json;

namespace AspireAi.Core.Memory;

/// <summary>Who a memory belongs to and who sees it.</summary>
public enum MemoryScope
{
    /// <summary>One user's long-term memory.</summary>
    User,

    /// <summary>One user's memory for one session (conversation); mirrored to Redis and expiring with the session.</summary>
    Session,

    /// <summary>Shared by every user of the organisation talking to one agent.</summary>
    Agent,

    /// <summary>Shared by every user of the organisation.</summary>
    Org,
}

/// <summary>What kind of knowledge a memory holds; it weighs into retrieval (<see cref="MemoryOptions.TypeWeights"/>).</summary>
public enum MemoryType
{
    /// <summary>Lasting facts and preferences.</summary>
    Semantic,

    /// <summary>Events at a point in time.</summary>
    Episodic,

    /// <summary>Instructions on how the assistant should work.</summary>
    Procedural,
}

/// <summary>The four consolidation decisions, as recorded in the history.</summary>
public enum MemoryOperation
{
    Add,
    Update,
    Delete,
    Noop,
}

/// <summary>Who made a change: the extraction pipeline, the user, an administrator, an API client or scheduled maintenance.</summary>
public enum MemoryActor
{
    Extractor,
    User,
    Admin,
    Api,
    System,
}

/// <summary>The wire and database names of the memory enums (lowercase scopes and types, uppercase operations).</summary>
public static class MemoryNames
{
    /// <summary>Every type's name: the filter of a search across all types. Not to be modified.</summary>
    public static readonly string[] AllTypes = [.. Enum.GetValues<MemoryType>().Select(Of)];

    public static string Of(MemoryScope scope) => scope switch
    {
        MemoryScope.User => "user",
        MemoryScope.Session => "session",
        MemoryScope.Agent => "agent",
        _ => "org",
    };

    public static string Of(MemoryType type) => type switch
    {
        MemoryType.Semantic => "semantic",
        MemoryType.Episodic => "episodic",
        _ => "procedural",
    };

    public static string Of(MemoryOperation operation) => operation switch
    {
        MemoryOperation.Add => "ADD",
        MemoryOperation.Update => "UPDATE",
        MemoryOperation.Delete => "DELETE",
        _ => "NOOP",
    };

    public static string Of(MemoryActor actor) => actor switch
    {
        MemoryActor.Extractor => "extractor",
        MemoryActor.User => "user",
        MemoryActor.Admin => "admin",
        MemoryActor.Api => "api",
        _ => "system",
    };

    public static bool TryParseScope(string? text, out MemoryScope scope)
    {
        switch (text?.Trim().ToUpperInvariant())
        {
            case "USER": scope = MemoryScope.User; return true;
            case "SESSION": scope = MemoryScope.Session; return true;
            case "AGENT": scope = MemoryScope.Agent; return true;
            case "ORG": scope = MemoryScope.Org; return true;
            default: scope = default; return false;
        }
    }

    public static bool TryParseType(string? text, out MemoryType type)
    {
        switch (text?.Trim().ToUpperInvariant())
        {
            case "SEMANTIC": type = MemoryType.Semantic; return true;
            case "EPISODIC": type = MemoryType.Episodic; return true;
            case "PROCEDURAL": type = MemoryType.Procedural; return true;
            default: type = default; return false;
        }
    }

    public static bool TryParseOperation(string? text, out MemoryOperation operation)
    {
        switch (text?.Trim().ToUpperInvariant())
        {
            case "ADD": operation = MemoryOperation.Add; return true;
            case "UPDATE": operation = MemoryOperation.Update; return true;
            case "DELETE": operation = MemoryOperation.Delete; return true;
            case "NOOP" or "NONE": operation = MemoryOperation.Noop; return true;
            default: operation = default; return false;
        }
    }

    public static MemoryScope ParseScope(string text) =>
        TryParseScope(text, out var scope) ? scope : throw new FormatException($"Unknown memory scope '{text}'.");

    public static MemoryType ParseType(string text) =>
        TryParseType(text, out var type) ? type : throw new FormatException($"Unknown memory type '{text}'.");
}

/// <summary>
/// One scope instance: the user's memory, one session of it, one agent of an organisation, or the organisation.
/// <see cref="Key"/> is the <c>scope_key</c> column the database generates from the same fields.
/// </summary>
public sealed record MemoryScopeRef(MemoryScope Scope, Guid OrgId, Guid? UserId, string? AgentId, string? SessionId)
{
    public static MemoryScopeRef ForUser(Guid orgId, Guid userId) => new(MemoryScope.User, orgId, userId, null, null);

    public static MemoryScopeRef ForSession(Guid orgId, Guid userId, string sessionId) => new(MemoryScope.Session, orgId, userId, null, sessionId);

    public static MemoryScopeRef ForAgent(Guid orgId, string agentId) => new(MemoryScope.Agent, orgId, null, agentId, null);

    public static MemoryScopeRef ForOrg(Guid orgId) => new(MemoryScope.Org, orgId, null, null, null);

    /// <summary>Same string as the generated <c>memories.scope_key</c> column (uuid::text is lowercase "D" format).</summary>
    public string Key => Scope switch
    {
        MemoryScope.User => $"u:{UserId!.Value:D}",
        MemoryScope.Session => $"s:{UserId!.Value:D}:{SessionId}",
        MemoryScope.Agent => $"a:{OrgId:D}:{AgentId}",
        _ => $"o:{OrgId:D}",
    };

    /// <summary>True for the scopes that belong to one user (and that erasure removes).</summary>
    public bool IsPersonal => Scope is MemoryScope.User or MemoryScope.Session;
}

/// <summary>Who is reading or writing memories through the API or a tool.</summary>
public sealed record MemoryCaller(Guid UserId, Guid OrgId, bool IsAdmin);

/// <summary>A named thing a memory mentions (the entity index).</summary>
public sealed record MemoryEntity(string Name, string Type);

/// <summary>One stored version of a memory.</summary>
public sealed record MemoryRecord(
    Guid Id, Guid LineageId, Guid? SupersedesId, Guid? SupersededById, Guid OrgId, Guid? UserId, string? AgentId, string? SessionId,
    MemoryScope Scope, MemoryType Type, string Text, float Importance, string EmbeddingModel,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset ValidFrom, DateTimeOffset? InvalidatedAt, string? InvalidatedReason,
    DateTimeOffset? LastAccessedAt, int AccessCount, DateTimeOffset? ExpiresAt, IReadOnlyList<Guid> SourceMessageIds,
    IReadOnlyList<MemoryEntity> Entities, Guid? CreatedBy, JsonElement Metadata)
{
    public bool IsCurrent => InvalidatedAt is null;

    public MemoryScopeRef ScopeRef => new(Scope, OrgId, UserId, AgentId, SessionId);
}

/// <summary>One history row: a decision about a memory version.</summary>
public sealed record MemoryHistoryEntry(
    long Id, Guid MemoryId, Guid? RelatedMemoryId, string Operation, string? OldText, string? NewText, string Actor,
    Guid? ActorUserId, string? Reason, string? Source, Guid? SourceId, DateTimeOffset CreatedAt);

/// <summary>A fact to store, as extracted or as written by a user.</summary>
/// <param name="Text">The fact (one line).</param>
/// <param name="Type">Its kind.</param>
/// <param name="Importance">0..1.</param>
/// <param name="Entities">Named things it mentions.</param>
/// <param name="Retraction">True when the user retracted this fact: consolidation may only delete, never add it.</param>
/// <param name="Scope">Requested scope: <see cref="MemoryScope.Session"/> for session-only facts, otherwise the source's default.</param>
/// <param name="Supersedes">True when the user said the fact replaces what was true before ("now", "again", "actually",
/// "switched to", "from now on"): consolidation then updates the closest memory of the same kind instead of adding.</param>
public sealed record MemoryFact(string Text, MemoryType Type, float Importance, IReadOnlyList<MemoryEntity> Entities, bool Retraction,
    MemoryScope? Scope = null, bool Supersedes = false);

/// <summary>Where a write comes from, for the history and the memory's provenance.</summary>
/// <param name="Actor">Who decided.</param>
/// <param name="ActorUserId">The user behind the actor, if any.</param>
/// <param name="Source">"chat", "api", "tool" or a job name.</param>
/// <param name="SourceId">The memory_sources row (chat: the user message id).</param>
/// <param name="SourceMessageIds">Message ids the fact came from.</param>
public sealed record MemoryProvenance(MemoryActor Actor, Guid? ActorUserId, string Source, Guid? SourceId, IReadOnlyList<Guid> SourceMessageIds)
{
    public static MemoryProvenance System(string job) => new(MemoryActor.System, null, job, null, []);
}

/// <summary>The outcome of one consolidation decision.</summary>
/// <param name="Operation">What was done.</param>
/// <param name="Memory">The memory that now holds the fact (ADD/UPDATE/NOOP), or the one invalidated (DELETE); null for a NOOP without a target.</param>
/// <param name="Previous">UPDATE: the superseded version.</param>
/// <param name="Reason">Why.</param>
public sealed record MemoryWriteResult(MemoryOperation Operation, MemoryRecord? Memory, MemoryRecord? Previous, string Reason);
