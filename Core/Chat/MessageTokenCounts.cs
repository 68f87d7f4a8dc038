using AspireAi.Core.Llm;
using Microsoft.Extensions.Caching.Memory;

namespace AspireAi.Core.Chat;

/// <summary>
/// Token counts of stored messages, by message id and model. A conversation's history is counted against its token
/// budget on every turn, and tokenizing the same twenty messages again was 5.5 % of the Api's CPU samples (perf, 50
/// streams). A complete message's text never changes (key rotation re-encrypts the same text; erasure deletes the
/// row), so a count stays right for its id. Only counts are kept, never text.
/// </summary>
public sealed class MessageTokenCounts : IDisposable
{
    // ~250 bytes an entry: at most ~12 MB, the histories of a few thousand active conversations.
    private const int MaxEntries = 50_000;
    private static readonly MemoryCacheEntryOptions EntryOptions = new() { Size = 1, SlidingExpiration = TimeSpan.FromHours(1) };

    private readonly MemoryCache _counts = new(new MemoryCacheOptions { SizeLimit = MaxEntries });

    /// <summary>Tokens of the stored message <paramref name="messageId"/>, whose text is <paramref name="text"/>, for <paramref name="model"/>.</summary>
    public int Count(Guid messageId, string text, string? model)
    {
        var key = (messageId, model ?? "");
        if (_counts.TryGetValue(key, out int count))
        {
            return count;
        }
        count = TokenCounter.Count(text, model);
        _counts.Set(key, count, EntryOptions);
        return count;
    }

    public void Dispose() => _counts.Dispose();
}
