using System.Runtime.InteropServices;
using System.Text.Json;
using StackExchange.Redis;

namespace AspireAi.Core.Memory;

/// <summary>A session memory as Redis holds it for retrieval.</summary>
public sealed record SessionMemoryEntry(Guid Id, MemoryType Type, string Text, float Importance, DateTimeOffset UpdatedAt,
    DateTimeOffset? LastAccessedAt, float[] Embedding, string EmbeddingModel);

/// <summary>
/// Session memory in Redis: one hash per (user, session), field = the memory's content hash (so a retried write
/// overwrites instead of duplicating), value = the memory with its vector. The key expires when the session does
/// (<see cref="MemoryOptions.SessionTtl"/> after the session's last memory write), which is when the memory stops
/// being retrieved; Postgres keeps the same expiry in <c>expires_at</c> for the API and the history.
/// </summary>
public sealed class SessionMemoryStore(IConnectionMultiplexer redis)
{
    private const string Prefix = "aspireai:memory:session:";

    public static string KeyOf(Guid userId, string sessionId) => $"{Prefix}{userId:N}:{sessionId}";

    // One script, so the field and the key's expiry are set together: a key is never left without a TTL (it would
    // outlive its session), and a superseded version's field goes in the same step as its successor arrives.
    private const string UpsertScript = """
        if ARGV[4] ~= '' then redis.call('HDEL', KEYS[1], ARGV[4]) end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        return 1
        """;

    /// <summary>Adds or replaces an entry (removing <paramref name="removedHash"/>, a superseded version) and sets the session's expiry, atomically.</summary>
    public async Task UpsertAsync(Guid userId, string sessionId, string contentHash, SessionMemoryEntry entry, DateTimeOffset expiresAt,
        string? removedHash, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var milliseconds = Math.Max(1, (long)(expiresAt - DateTimeOffset.UtcNow).TotalMilliseconds);
        await redis.GetDatabase().ScriptEvaluateAsync(UpsertScript, [KeyOf(userId, sessionId)],
            [contentHash, Serialize(entry), milliseconds, removedHash ?? ""]).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task RemoveAsync(Guid userId, string sessionId, string contentHash, CancellationToken cancellationToken) =>
        await redis.GetDatabase().HashDeleteAsync(KeyOf(userId, sessionId), contentHash).WaitAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>The session's current memories; empty when it has none or has ended.</summary>
    public async Task<IReadOnlyList<SessionMemoryEntry>> ReadAsync(Guid userId, string sessionId, CancellationToken cancellationToken)
    {
        var fields = await redis.GetDatabase().HashGetAllAsync(KeyOf(userId, sessionId)).WaitAsync(cancellationToken).ConfigureAwait(false);
        var entries = new List<SessionMemoryEntry>(fields.Length);
        foreach (var field in fields)
        {
            if (Deserialize(field.Value.ToString()) is { } entry)
            {
                entries.Add(entry);
            }
        }
        return entries;
    }

    /// <summary>Deletes one session's key (its conversation was deleted).</summary>
    public async Task EndAsync(Guid userId, string sessionId, CancellationToken cancellationToken)
    {
        await redis.GetDatabase().KeyDeleteAsync(KeyOf(userId, sessionId)).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes every session key of the user (erasure); returns how many keys existed.</summary>
    public async Task<long> EraseAsync(Guid userId, CancellationToken cancellationToken)
    {
        var database = redis.GetDatabase();
        long deleted = 0;
        foreach (var batch in (await KeysAsync(userId, cancellationToken).ConfigureAwait(false)).Chunk(200))
        {
            deleted += await database.KeyDeleteAsync(Array.ConvertAll(batch, key => (RedisKey)key)).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        return deleted;
    }

    /// <summary>Keys left for the user (tests and diagnostics).</summary>
    public async Task<IReadOnlyList<string>> KeysAsync(Guid userId, CancellationToken cancellationToken)
    {
        // SCAN (never KEYS, which blocks the server) on every primary; SCAN may return a key twice.
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var server in redis.GetServers().Where(s => !s.IsReplica))
        {
            await foreach (var key in server.KeysAsync(pattern: $"{Prefix}{userId:N}:*", pageSize: 250).WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                keys.Add(key.ToString());
            }
        }
        return [.. keys];
    }

    private static string Serialize(SessionMemoryEntry entry) => JsonSerializer.Serialize(new StoredEntry(
        entry.Id, MemoryNames.Of(entry.Type), entry.Text, entry.Importance, entry.UpdatedAt, entry.LastAccessedAt,
        Convert.ToBase64String(MemoryMarshal.AsBytes(entry.Embedding.AsSpan())), entry.EmbeddingModel), JsonSerializerOptions.Web);

    private static SessionMemoryEntry? Deserialize(string value)
    {
        try
        {
            var stored = JsonSerializer.Deserialize<StoredEntry>(value, JsonSerializerOptions.Web);
            if (stored is null || !MemoryNames.TryParseType(stored.Type, out var type))
            {
                return null;
            }
            var bytes = Convert.FromBase64String(stored.Embedding);
            var vector = MemoryMarshal.Cast<byte, float>(bytes).ToArray();
            return new SessionMemoryEntry(stored.Id, type, stored.Text, stored.Importance, stored.UpdatedAt, stored.LastAccessedAt, vector, stored.Model);
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            return null; // a foreign or corrupt value is not a memory
        }
    }

    private sealed record StoredEntry(Guid Id, string Type, string Text, float Importance, DateTimeOffset UpdatedAt,
        DateTimeOffset? LastAccessedAt, string Embedding, string Model);
}
