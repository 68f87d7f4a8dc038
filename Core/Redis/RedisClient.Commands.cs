using System.Runtime.CompilerServices;

namespace AspireAi.Core.Redis;

// The typed commands: each is one round trip whose reply is converted to the natural .NET type.
public sealed partial class RedisClient
{
    /// <inheritdoc/>
    public async Task<string?> StringGetAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return (await SendAsync("GET", [key], cancellationToken).ConfigureAwait(false)).AsString();
    }

    /// <inheritdoc/>
    public async Task<byte[]?> StringGetBytesAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return (await SendAsync("GET", [key], cancellationToken).ConfigureAwait(false)).AsBytes();
    }

    /// <inheritdoc/>
    public Task<bool> StringSetAsync(string key, string value, TimeSpan? expiry = null, When when = When.Always, CancellationToken cancellationToken = default) =>
        SetAsync(key, value, expiry, when, cancellationToken);

    /// <inheritdoc/>
    public Task<bool> StringSetAsync(string key, byte[] value, TimeSpan? expiry = null, When when = When.Always, CancellationToken cancellationToken = default) =>
        SetAsync(key, value, expiry, when, cancellationToken);

    /// <inheritdoc/>
    public async Task<long> StringIncrementAsync(string key, long by = 1, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return (await SendAsync("INCRBY", [key, by], cancellationToken).ConfigureAwait(false)).AsInt64();
    }

    /// <inheritdoc/>
    public async Task<long> KeyDeleteAsync(params string[] keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (keys.Length == 0)
        {
            return 0;
        }
        return (await SendAsync("DEL", (object[])keys, CancellationToken.None).ConfigureAwait(false)).AsInt64();
    }

    /// <inheritdoc/>
    public async Task<bool> KeyExistsAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return (await SendAsync("EXISTS", [key], cancellationToken).ConfigureAwait(false)).AsInt64() == 1;
    }

    /// <inheritdoc/>
    public async Task<bool> KeyExpireAsync(string key, TimeSpan? expiry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        var reply = expiry is { } ttl
            ? await SendAsync("PEXPIRE", [key, ToMilliseconds(ttl, nameof(expiry))], cancellationToken).ConfigureAwait(false)
            : await SendAsync("PERSIST", [key], cancellationToken).ConfigureAwait(false);
        return reply.AsInt64() == 1;
    }

    /// <inheritdoc/>
    public async Task<TimeSpan?> KeyTimeToLiveAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        // PTTL answers -2 for a missing key and -1 for a key without expiry.
        var milliseconds = (await SendAsync("PTTL", [key], cancellationToken).ConfigureAwait(false)).AsInt64();
        return milliseconds < 0 ? null : TimeSpan.FromMilliseconds(milliseconds);
    }

    /// <inheritdoc/>
    public async Task<bool> HashSetAsync(string key, string field, string value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(field);
        ArgumentNullException.ThrowIfNull(value);
        return (await SendAsync("HSET", [key, field, value], cancellationToken).ConfigureAwait(false)).AsInt64() == 1;
    }

    /// <inheritdoc/>
    public async Task<long> HashSetAsync(string key, IEnumerable<KeyValuePair<string, string>> fields, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(fields);
        List<object> args = [key];
        foreach (var (field, value) in fields)
        {
            args.Add(field);
            args.Add(value);
        }
        if (args.Count == 1)
        {
            return 0;
        }
        return (await SendAsync("HSET", args.ToArray(), cancellationToken).ConfigureAwait(false)).AsInt64();
    }

    /// <inheritdoc/>
    public async Task<string?> HashGetAsync(string key, string field, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(field);
        return (await SendAsync("HGET", [key, field], cancellationToken).ConfigureAwait(false)).AsString();
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyDictionary<string, string>> HashGetAllAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        var items = (await SendAsync("HGETALL", [key], cancellationToken).ConfigureAwait(false)).AsArray() ?? [];
        var fields = new Dictionary<string, string>(items.Count / 2, StringComparer.Ordinal);
        for (var i = 0; i + 1 < items.Count; i += 2)
        {
            fields[items[i].AsString()!] = items[i + 1].AsString()!;
        }
        return fields;
    }

    /// <inheritdoc/>
    public async Task<bool> HashDeleteAsync(string key, string field, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(field);
        return (await SendAsync("HDEL", [key, field], cancellationToken).ConfigureAwait(false)).AsInt64() == 1;
    }

    /// <inheritdoc/>
    public async Task<long> ListRightPushAsync(string key, string value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        return (await SendAsync("RPUSH", [key, value], cancellationToken).ConfigureAwait(false)).AsInt64();
    }

    /// <inheritdoc/>
    public async Task<long> ListRightPushAsync(string key, IEnumerable<string> values, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(values);
        object[] args = [key, .. values];
        if (args.Length == 1)
        {
            throw new ArgumentException("RPUSH needs at least one value.", nameof(values));
        }
        return (await SendAsync("RPUSH", args, cancellationToken).ConfigureAwait(false)).AsInt64();
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<string>> ListRangeAsync(string key, long start = 0, long stop = -1, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        var items = (await SendAsync("LRANGE", [key, start, stop], cancellationToken).ConfigureAwait(false)).AsArray() ?? [];
        return [.. items.Select(item => item.AsString()!)];
    }

    /// <inheritdoc/>
    public async Task ListTrimAsync(string key, long start, long stop, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await SendAsync("LTRIM", [key, start, stop], cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<string> ScanKeysAsync(string pattern, int pageSize = 250, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pageSize);
        var cursor = "0";
        do
        {
            var page = (await SendAsync("SCAN", [cursor, "MATCH", pattern, "COUNT", pageSize], cancellationToken).ConfigureAwait(false)).AsArray()!;
            cursor = page[0].AsString()!;
            foreach (var key in page[1].AsArray()!)
            {
                yield return key.AsString()!;
            }
        }
        while (cursor != "0");
    }

    /// <inheritdoc/>
    public async Task<long> PublishAsync(string channel, string message, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        ArgumentNullException.ThrowIfNull(message);
        return (await SendAsync("PUBLISH", [channel, message], cancellationToken).ConfigureAwait(false)).AsInt64();
    }

    private async Task<bool> SetAsync(string key, object value, TimeSpan? expiry, When when, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        object? px = expiry is { } ttl ? ToMilliseconds(ttl, nameof(expiry)) : null;
        string? condition = when switch
        {
            When.Always => null,
            When.Exists => "XX",
            When.NotExists => "NX",
            _ => throw new ArgumentOutOfRangeException(nameof(when)),
        };
        var reply = (px, condition) switch
        {
            (null, null) => SendAsync("SET", [key, value], cancellationToken),
            (not null, null) => SendAsync("SET", [key, value, "PX", px], cancellationToken),
            (null, not null) => SendAsync("SET", [key, value, condition], cancellationToken),
            _ => SendAsync("SET", [key, value, "PX", px, condition], cancellationToken),
        };
        // OK when written, nil when NX/XX was not met.
        return !(await reply.ConfigureAwait(false)).IsNull;
    }

    private static long ToMilliseconds(TimeSpan expiry, string parameter)
    {
        if (expiry <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(parameter, "An expiry must be positive; delete the key instead.");
        }
        // Rounded up: a sub-millisecond expiry must not become PX 0, which Redis rejects.
        return (long)Math.Ceiling(expiry.TotalMilliseconds);
    }
}
