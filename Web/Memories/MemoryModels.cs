namespace AspireAi.Web.Memories;

// The Api's memory bodies (Api/Memories/MemoriesContracts.cs), as far as the pages use them. Public because
// components (public classes) take them as parameters.

/// <summary>One version of a memory. <c>OwnerUserId</c> is only sent in the administrators' list.</summary>
public sealed record Memory(
    Guid Id,
    string Scope,
    string Type,
    string Text,
    float Importance,
    string? AgentId,
    string? SessionId,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset ValidFrom,
    DateTimeOffset? InvalidatedAt,
    string? InvalidatedReason,
    DateTimeOffset? ExpiresAt,
    bool IsCurrent,
    Guid LineageId,
    Guid? SupersedesId,
    Guid? SupersededById,
    IReadOnlyList<MemoryEntity>? Entities,
    Guid? OwnerUserId)
{
    // Agent and org memories are shared with the whole organisation; only administrators write them.
    public bool IsShared => Scope is MemoryScopes.Agent or MemoryScopes.Org;
}

public sealed record MemoryEntity(string Name, string Type);

public sealed record MemoryWrite(string Operation, Memory? Memory, Guid? PreviousId, string? Reason);

public sealed record MemoryHistoryItem(
    long Id,
    Guid MemoryId,
    Guid? RelatedMemoryId,
    string Operation,
    string? OldText,
    string? NewText,
    string Actor,
    Guid? ActorUserId,
    string? Reason,
    string? Source,
    DateTimeOffset CreatedAt);

public sealed record MemoryHistory(Guid MemoryId, Guid LineageId, IReadOnlyList<MemoryHistoryItem> Items);

public sealed record MemoryErasure(long Memories, long History, long EntityLinks, long Entities, long Sources, long RedisKeys);

public sealed record AdminMemory(Memory Memory, Guid? OwnerUserId, IReadOnlyList<MemoryHistoryItem> History);

internal sealed record CreateMemoryBody(string? Text, bool Infer, string? Type, double? Importance);

internal sealed record UpdateMemoryBody(string? Text, string? Type, double? Importance);

/// <summary>The list filters both lists share; empty values are left out of the query.</summary>
public sealed record MemoryListQuery(string? Scope = null, string? Type = null, bool IncludeInvalidated = false, string? Cursor = null, int Limit = 20);

public static class MemoryScopes
{
    public const string User = "user";
    public const string Session = "session";
    public const string Agent = "agent";
    public const string Org = "org";

    public static readonly IReadOnlyList<string> All = [User, Session, Agent, Org];

    public static string Describe(string scope) => scope switch
    {
        User => "About you",
        Session => "For one conversation",
        Agent => "Shared: assistant",
        Org => "Shared: organisation",
        _ => scope,
    };
}

public static class MemoryTypes
{
    public static readonly IReadOnlyList<string> All = ["semantic", "episodic", "procedural"];

    public static string Describe(string type) => type switch
    {
        "semantic" => "Fact",
        "episodic" => "Event",
        "procedural" => "Instruction",
        _ => type,
    };
}

public static class MemoryAccess
{
    // Mirrors the Api's rule (MemoryService.CanWrite) to decide which buttons to show; the Api still decides.
    public static bool CanWrite(Memory memory, System.Security.Claims.ClaimsPrincipal user)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(user);
        return !memory.IsShared || user.IsInRole(ApiClients.ApiRoles.Admin);
    }
}
