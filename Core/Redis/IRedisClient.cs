namespace AspireAi.Core.Redis;

/// <summary>
/// The Redis operations the application relies on (rate-limit buckets, idempotency locks, caches, session working
/// memory, pub/sub), kept narrow so a StackExchange.Redis-backed implementation can replace this one.
/// </summary>
/// <remarks>
/// <para>All commands share one multiplexed, pipelined connection; the implementation is thread-safe. Every call
/// either completes or fails within <see cref="RedisOptions.CommandTimeout"/>.</para>
/// <para>Failures: <see cref="RedisServerException"/> for an error reply, <see cref="RedisTimeoutException"/> when
/// no reply arrived in time, <see cref="RedisConnectionException"/> when no connection was available or it dropped
/// mid-command (see its message for whether the command may have run), and
/// <see cref="RedisAuthenticationException"/> for rejected credentials.</para>
/// <para>Arguments passed as <c>object</c> may be <see cref="string"/> (sent as UTF-8), <see cref="byte"/>[],
/// <see cref="ReadOnlyMemory{T}"/> of bytes, <see cref="int"/>, <see cref="long"/> or <see cref="double"/>
/// (formatted with the invariant culture).</para>
/// </remarks>
public interface IRedisClient : IAsyncDisposable
{
    /// <summary>GET: the value as UTF-8 text, or null when the key does not exist.</summary>
    Task<string?> StringGetAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>GET: the raw value, or null when the key does not exist.</summary>
    Task<byte[]?> StringGetBytesAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>SET with an optional expiry (PX) and condition (NX/XX).</summary>
    /// <returns>True when the value was written; false when <paramref name="when"/> was not met.</returns>
    Task<bool> StringSetAsync(string key, string value, TimeSpan? expiry = null, When when = When.Always, CancellationToken cancellationToken = default);

    /// <inheritdoc cref="StringSetAsync(string, string, TimeSpan?, When, CancellationToken)"/>
    Task<bool> StringSetAsync(string key, byte[] value, TimeSpan? expiry = null, When when = When.Always, CancellationToken cancellationToken = default);

    /// <summary>INCRBY: adds <paramref name="by"/> (which may be negative) to an integer value, creating it at 0.</summary>
    /// <returns>The value after the increment.</returns>
    Task<long> StringIncrementAsync(string key, long by = 1, CancellationToken cancellationToken = default);

    /// <summary>DEL: removes the keys.</summary>
    /// <returns>How many of them existed.</returns>
    Task<long> KeyDeleteAsync(params string[] keys);

    /// <summary>EXISTS: whether the key exists.</summary>
    Task<bool> KeyExistsAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>PEXPIRE, or PERSIST when <paramref name="expiry"/> is null.</summary>
    /// <returns>False when the key does not exist (or, for null, had no expiry).</returns>
    Task<bool> KeyExpireAsync(string key, TimeSpan? expiry, CancellationToken cancellationToken = default);

    /// <summary>PTTL: the remaining time to live, or null when the key does not exist or does not expire.</summary>
    Task<TimeSpan?> KeyTimeToLiveAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>HSET of one field.</summary>
    /// <returns>True when the field is new, false when an existing field was overwritten.</returns>
    Task<bool> HashSetAsync(string key, string field, string value, CancellationToken cancellationToken = default);

    /// <summary>HSET of several fields in one command.</summary>
    /// <returns>How many of the fields are new.</returns>
    Task<long> HashSetAsync(string key, IEnumerable<KeyValuePair<string, string>> fields, CancellationToken cancellationToken = default);

    /// <summary>HGET: the field's value, or null when the key or field does not exist.</summary>
    Task<string?> HashGetAsync(string key, string field, CancellationToken cancellationToken = default);

    /// <summary>HGETALL: every field and value (empty when the key does not exist).</summary>
    Task<IReadOnlyDictionary<string, string>> HashGetAllAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>HDEL of one field.</summary>
    /// <returns>True when the field existed.</returns>
    Task<bool> HashDeleteAsync(string key, string field, CancellationToken cancellationToken = default);

    /// <summary>RPUSH of one value.</summary>
    /// <returns>The length of the list afterwards.</returns>
    Task<long> ListRightPushAsync(string key, string value, CancellationToken cancellationToken = default);

    /// <summary>RPUSH of several values in one command, in order.</summary>
    /// <returns>The length of the list afterwards.</returns>
    Task<long> ListRightPushAsync(string key, IEnumerable<string> values, CancellationToken cancellationToken = default);

    /// <summary>LRANGE with inclusive, possibly negative indexes (0, -1 is the whole list).</summary>
    Task<IReadOnlyList<string>> ListRangeAsync(string key, long start = 0, long stop = -1, CancellationToken cancellationToken = default);

    /// <summary>LTRIM: keeps only the elements between the inclusive, possibly negative indexes.</summary>
    Task ListTrimAsync(string key, long start, long stop, CancellationToken cancellationToken = default);

    /// <summary>
    /// Runs a Lua script by its SHA1 (EVALSHA), falling back to EVAL when the server does not know it (NOSCRIPT,
    /// e.g. after a restart or SCRIPT FLUSH); the fallback is safe because a NOSCRIPT reply means nothing ran.
    /// </summary>
    /// <returns>The script's reply; an error raised by the script is thrown as <see cref="RedisServerException"/>.</returns>
    Task<RedisResult> ScriptEvaluateAsync(string script, string[]? keys = null, object[]? args = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Iterates the keys matching a glob pattern with SCAN (never KEYS, which blocks the server). As with SCAN, a key
    /// may be returned more than once, and keys created or deleted during the iteration may be missed.
    /// </summary>
    IAsyncEnumerable<string> ScanKeysAsync(string pattern, int pageSize = 250, CancellationToken cancellationToken = default);

    /// <summary>PUBLISH a UTF-8 message.</summary>
    /// <returns>How many subscribers received it.</returns>
    Task<long> PublishAsync(string channel, string message, CancellationToken cancellationToken = default);

    /// <summary>
    /// SUBSCRIBE on a dedicated connection; the subscription is active when the task completes and is renewed
    /// automatically after a reconnect (messages published while disconnected are lost, as in Redis itself).
    /// </summary>
    /// <param name="channel">The channel name (exact match).</param>
    /// <param name="handler">Called with (channel, message) one message at a time, in order; keep it short and
    /// non-blocking, and hand long work to a queue. Exceptions are logged and do not end the subscription.</param>
    /// <param name="cancellationToken">Cancels waiting for the server's confirmation.</param>
    /// <returns>Dispose it to unsubscribe.</returns>
    Task<IAsyncDisposable> SubscribeAsync(string channel, Action<string, string> handler, CancellationToken cancellationToken = default);

    /// <summary>PING: the round-trip time of one command, including any wait for a connection.</summary>
    Task<TimeSpan> PingAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends any other command, e.g. <c>ExecuteAsync("ZADD", key, 1.5, member)</c>. Pass sub-commands as separate
    /// arguments (<c>"CLIENT", "LIST"</c>). Commands that would change the state of the shared connection
    /// (SELECT, MULTI/EXEC, SUBSCRIBE, MONITOR, QUIT...) are refused; avoid blocking commands (BLPOP...), which
    /// hold up every other caller until they return.
    /// </summary>
    /// <returns>The reply; an error reply is thrown as <see cref="RedisServerException"/>.</returns>
    Task<RedisResult> ExecuteAsync(string command, params object[] args);

    /// <inheritdoc cref="ExecuteAsync(string, object[])"/>
    Task<RedisResult> ExecuteAsync(string command, IReadOnlyList<object> args, CancellationToken cancellationToken);
}
