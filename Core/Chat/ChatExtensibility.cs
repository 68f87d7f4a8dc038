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
/// <remarks>
/// The chat may start <see cref="SearchAsync"/> before it has checked the turn (beside the read that checks it, from
/// the conversation's agent as last seen) and drop what it finds if the turn is refused. So the search must not count
/// on the turn going ahead: what only an answered turn should leave behind (a memory's use counted) belongs in the
/// returned draft's <see cref="ChatContextDraft.CompleteAsync"/>, which runs once the turn is accepted.
/// </remarks>
public interface IChatContextProvider
{
    string Name { get; }

    /// <summary>Finds the turn's context; <see langword="null"/> when there is none to give.</summary>
    Task<ChatContextDraft?> SearchAsync(ChatContextRequest request, CancellationToken cancellationToken);
}

/// <summary>Context found for a turn that may still be refused (see <see cref="IChatContextProvider"/>).</summary>
public abstract class ChatContextDraft
{
    /// <summary>The block for the model, and whatever the turn's acceptance commits (uses counted, metrics).</summary>
    public abstract Task<ChatContextBlock?> CompleteAsync(CancellationToken cancellationToken);

    /// <summary>A draft with nothing left to do: the block is final as found.</summary>
    public static ChatContextDraft Final(ChatContextBlock? block) => new FinalDraft(block);

    private sealed class FinalDraft(ChatContextBlock? block) : ChatContextDraft
    {
        public override Task<ChatContextBlock?> CompleteAsync(CancellationToken cancellationToken) => Task.FromResult(block);
    }
}

public static class ChatContextProviderExtensions
{
    /// <summary>Searches and completes at once, for a caller that has already accepted the turn.</summary>
    public static async Task<ChatContextBlock?> GetContextAsync(this IChatContextProvider provider, ChatContextRequest request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(provider);
        var draft = await provider.SearchAsync(request, cancellationToken).ConfigureAwait(false);
        return draft is null ? null : await draft.CompleteAsync(cancellationToken).ConfigureAwait(false);
    }
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
