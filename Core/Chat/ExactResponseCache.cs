using System.Text.Json;
using AspireAi.Core.Caching;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AspireAi.Core.Chat;

/// <summary>A stored answer of a deterministic turn.</summary>
public sealed record CachedResponse(string Text, string Model);

/// <summary>
/// Answers of deterministic turns (temperature 0) kept in the shared cache, so that the same request from the same
/// user is answered again without a provider call. Off unless <see cref="ChatSettings.ExactResponseCache"/> is set.
/// The key is the user, the model, the prompt version and a hash of everything the model is sent (every message,
/// the output limit, the offered tools, the response format): one user's answers are never served to another, and
/// any change in history, retrieved context or prompt is a different key.
/// </summary>
public sealed partial class ExactResponseCache(IOptions<ChatSettings> settings, ILogger<ExactResponseCache> logger, SharedCache? cache = null)
{
    private static readonly HybridCacheEntryOptions ReadOnly = new()
    {
        Flags = HybridCacheEntryFlags.DisableLocalCacheWrite | HybridCacheEntryFlags.DisableDistributedCacheWrite | HybridCacheEntryFlags.DisableUnderlyingData,
    };

    /// <summary>The cache key of <paramref name="turn"/>, or null when its answer may not be cached (cache off, temperature not 0).</summary>
    public string? KeyFor(ChatTurn turn)
    {
        ArgumentNullException.ThrowIfNull(turn);
        var options = turn.Options;
        if (cache is null || !settings.Value.ExactResponseCache || options.Temperature is not 0f)
        {
            return null;
        }
        var format = options.ResponseFormat switch
        {
            null => "",
            ChatResponseFormatJson json => "json:" + json.Schema?.GetRawText(),
            var other => other.GetType().Name,
        };
        // Messages through M.E.AI's own serializer, so tool calls and results a client sends back are part of the hash.
        var hash = AIJsonUtilities.HashDataToString(
            [
                options.ModelId, turn.Prompt.Name, turn.Prompt.Version, options.MaxOutputTokens, options.ToolMode?.ToString(), format,
                (options.Tools ?? []).Select(t => t.Name).ToArray(), turn.Messages,
            ],
            AIJsonUtilities.DefaultOptions);
        return $"chat:response:{turn.UserId:N}:{hash}";
    }

    /// <summary>The stored answer under <paramref name="key"/>, or null; a cache outage is a miss.</summary>
    public async Task<CachedResponse?> GetAsync(string key, CancellationToken cancellationToken)
    {
        if (cache is null)
        {
            return null;
        }
        try
        {
            return await cache.Cache.GetOrCreateAsync<CachedResponse?>(key, null!, ReadOnly, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // An entry that no longer reads (another version wrote it) is a miss, never a failed turn.
            LogUnreadable(ex);
            return null;
        }
    }

    /// <summary>Stores the complete answer of a turn that called no tools (a tool's result can change between runs).</summary>
    public async Task SetAsync(string key, CachedResponse response, CancellationToken cancellationToken)
    {
        if (cache is null)
        {
            return;
        }
        var duration = settings.Value.ExactResponseCacheDuration;
        // Process memory only briefly: answers can be long, and Redis holds them for every instance.
        var local = duration < TimeSpan.FromMinutes(1) ? duration : TimeSpan.FromMinutes(1);
        await cache.Cache.SetAsync(key, response, new HybridCacheEntryOptions { Expiration = duration, LocalCacheExpiration = local },
            cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A cached chat response could not be read; answering from the model")]
    private partial void LogUnreadable(Exception error);
}
