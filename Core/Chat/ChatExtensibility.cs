using Microsoft.Extensions.AI;
using Npgsql;

namespace AspireAi.Core.Chat;

/// <summary>What a context provider is told about the turn being answered.</summary>
public sealed record ChatContextRequest(Guid UserId, Guid OrgId, string AgentId, Guid ConversationId, string Query);

/// <summary>A block of context for the model (memories, retrieved passages) and the ids it was built from.</summary>
public sealed record ChatContextBlock(string Text, IReadOnlyList<Guid> MemoryIds, IReadOnlyList<Citation> Citations);

/// <summary>
/// A passage of the user's documents that an answer may cite; <c>[Sn]</c> in the answer is the n-th citation.
/// <paramref name="Page"/> is the page the passage starts on, for paged formats (PDF).
/// </summary>
public sealed record Citation(Guid DocumentId, string Title, Guid ChunkId, int? Page = null);

/// <summary>
/// Supplies context before every completion (long-term memory, documents). Providers run concurrently; one that
/// fails or is slow is skipped so that chat degrades instead of failing.
/// </summary>
public interface IChatContextProvider
{
    string Name { get; }

    Task<ChatContextBlock?> GetContextAsync(ChatContextRequest request, CancellationToken cancellationToken);
}

/// <summary>Supplies the tools offered to the model for one user's turn.</summary>
public interface IChatToolProvider
{
    IEnumerable<AITool> GetTools(ChatContextRequest request);
}

/// <summary>
/// A tool whose results are passages of the user's documents (e.g. <c>search_documents</c>). After each of its calls the
/// chat asks it what the result cites, so an answer's citations also cover what the model found with the tool, not only
/// what the context providers put in front of it.
/// </summary>
public interface ICitingTool
{
    /// <summary>
    /// The citations in <paramref name="result"/>, a result of this tool instance as the model received it, in result
    /// order. Empty for an error and for anything this instance did not itself return: a result is only ever trusted
    /// as far as the tool, bound to the turn's user, produced it.
    /// </summary>
    IReadOnlyList<Citation> CitationsIn(FunctionResultContent result);
}

/// <summary>What a finished exchange produced, handed to observers inside the transaction that stores it.</summary>
public sealed record ChatExchangeCompleted(
    Guid UserId, Guid OrgId, string AgentId, Guid ConversationId, Guid UserMessageId, Guid AssistantMessageId,
    string UserText, string AssistantText, string? TraceId);

/// <summary>
/// Runs inside the transaction that completes an exchange, so follow-up work (e.g. a memory-extraction job) is
/// enqueued atomically with the answer: both commit or neither does.
/// </summary>
public interface IChatExchangeObserver
{
    Task OnCompletedAsync(ChatExchangeCompleted exchange, NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken);
}

/// <summary>A conversation its owner deleted.</summary>
public sealed record ConversationDeleted(Guid UserId, Guid ConversationId);

/// <summary>
/// Ends what lives only as long as a conversation (e.g. its session memory) when the conversation is deleted:
/// <see cref="OnDeletingAsync"/> runs inside the transaction of the delete, so both commit or neither does;
/// <see cref="OnDeletedAsync"/> runs after the commit, for stores outside Postgres.
/// </summary>
public interface IConversationDeletionObserver
{
    Task OnDeletingAsync(ConversationDeleted conversation, NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken);

    Task OnDeletedAsync(ConversationDeleted conversation, CancellationToken cancellationToken);
}
