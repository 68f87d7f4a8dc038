using Microsoft.Extensions.Caching.Memory;

namespace AspireAi.Core.Chat;

/// <summary>
/// The agent of each conversation a user has recently chatted in, as this instance last read it. A conversation's
/// agent is fixed when it is created, so knowing it lets a turn's context search start beside the read that checks the
/// turn instead of after it (see <see cref="IChatContextProvider"/>). Keyed by user and conversation: an entry is only
/// ever made from the owner's own accepted turn, and a search started from it is scoped to that owner and is dropped
/// unless the read confirms the turn.
/// </summary>
public sealed class ConversationAgents : IDisposable
{
    // An entry is a few dozen bytes: at most a few MB.
    private const int MaxEntries = 100_000;
    private static readonly MemoryCacheEntryOptions EntryOptions = new() { Size = 1, SlidingExpiration = TimeSpan.FromHours(1) };

    private readonly MemoryCache _agents = new(new MemoryCacheOptions { SizeLimit = MaxEntries });

    public string? Find(Guid userId, Guid conversationId) =>
        _agents.TryGetValue((userId, conversationId), out string? agent) ? agent : null;

    public void Remember(Guid userId, Guid conversationId, string agentId)
    {
        if (Find(userId, conversationId) != agentId)
        {
            _agents.Set((userId, conversationId), agentId, EntryOptions);
        }
    }

    /// <summary>The conversation was not found for the user (deleted, or never theirs): no more early searches for it.</summary>
    public void Forget(Guid userId, Guid conversationId) => _agents.Remove((userId, conversationId));

    public void Dispose() => _agents.Dispose();
}
