using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using AspireAi.Core.Redis;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AspireAi.Core.Identity;

/// <summary>Whether a sign-in attempt may proceed; when it may, it holds one unit of both failure budgets.</summary>
public sealed class LoginThrottleLease
{
    internal LoginThrottleLease(bool allowed, TimeSpan retryAfter, string[] keys, bool local)
    {
        Allowed = allowed;
        RetryAfter = retryAfter;
        Keys = keys;
        Local = local;
    }

    /// <summary>False when the account or the client address has used up its failures for the window.</summary>
    public bool Allowed { get; }

    /// <summary>When <see cref="Allowed"/> is false: how long until the blocking window ends.</summary>
    public TimeSpan RetryAfter { get; }

    internal string[] Keys { get; }

    /// <summary>Counted by the in-process fallback rather than Redis; the refund must go to the same place.</summary>
    internal bool Local { get; }
}

/// <summary>
/// Limits failed sign-ins per account and per client address over a fixed window, with counters in Redis so all
/// Api instances share them. Every attempt reserves one unit of both budgets before the password is checked, so
/// concurrent attempts cannot overshoot; a successful sign-in gives its unit back, so only failures count.
/// When Redis is unreachable the same rules run in process (per instance) and Redis is retried after a pause.
/// </summary>
public sealed partial class LoginThrottle(IConnectionMultiplexer redis, IOptions<AuthOptions> options, TimeProvider time, ILogger<LoginThrottle> logger)
{

    // KEYS: account, address. ARGV: account limit, address limit, window (ms). Returns 0 when reserved, otherwise
    // the milliseconds until the blocking window ends.
    private const string AcquireScript = """
        local function wait_for(key)
          local ttl = redis.call('PTTL', key)
          if ttl < 0 then
            redis.call('PEXPIRE', key, ARGV[3])
            ttl = tonumber(ARGV[3])
          end
          return ttl
        end
        local wait = 0
        for i = 1, 2 do
          if tonumber(redis.call('GET', KEYS[i]) or '0') >= tonumber(ARGV[i]) then
            wait = math.max(wait, wait_for(KEYS[i]))
          end
        end
        if wait > 0 then return wait end
        for i = 1, 2 do
          if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
        end
        return 0
        """;

    private const string RefundScript = """
        for i = 1, #KEYS do
          if redis.call('DECR', KEYS[i]) <= 0 then redis.call('DEL', KEYS[i]) end
        end
        return 0
        """;

    private readonly LocalCounters _local = new(time);

    // A login must not wait out the multiplexer's command timeout when Redis is gone.
    private readonly RedisFallback _redis = new(time, timeout: TimeSpan.FromSeconds(1), pause: TimeSpan.FromSeconds(15));

    /// <summary>Reserves one failure from the account's and the address's budgets, or says how long to wait.</summary>
    public async Task<LoginThrottleLease> AcquireAsync(string email, IPAddress? clientAddress, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(email);
        var settings = options.Value;
        string[] keys = [AccountKey(email), AddressKey(clientAddress)];
        int[] limits = [settings.MaxLoginFailuresPerAccount, settings.MaxLoginFailuresPerIp];
        var window = TimeSpan.FromMinutes(settings.LoginWindowMinutes);

        var (reserved, wait) = await _redis.TryAsync(
            async token => (long)await redis.GetDatabase().ScriptEvaluateAsync(AcquireScript, RedisKeys(keys),
                [limits[0], limits[1], (long)window.TotalMilliseconds]).WaitAsync(token).ConfigureAwait(false),
            LogRedisUnavailable, cancellationToken).ConfigureAwait(false);
        if (reserved)
        {
            return new LoginThrottleLease(wait == 0, TimeSpan.FromMilliseconds(wait), keys, local: false);
        }

        var localWait = _local.TryAcquire(keys, limits, window);
        return new LoginThrottleLease(localWait == TimeSpan.Zero, localWait, keys, local: true);
    }

    /// <summary>Gives back the unit a successful sign-in reserved: successes do not count against the limits.</summary>
    public async Task RefundAsync(LoginThrottleLease lease, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lease);
        if (!lease.Allowed)
        {
            return;
        }
        if (lease.Local)
        {
            _local.Refund(lease.Keys);
            return;
        }
        // When Redis fails the unit stays counted until the window ends: it errs on the strict side, which is acceptable.
        await _redis.TryAsync(
            token => redis.GetDatabase().ScriptEvaluateAsync(RefundScript, RedisKeys(lease.Keys)).WaitAsync(token),
            LogRedisUnavailable, cancellationToken).ConfigureAwait(false);
    }

    private static RedisKey[] RedisKeys(string[] keys) => Array.ConvertAll(keys, key => (RedisKey)key);

    /// <summary>Per account: a hash of the normalised email, so Redis never holds the address itself.</summary>
    internal static string AccountKey(string email)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(email.Trim().ToLowerInvariant()));
        return "auth:login:account:" + Convert.ToHexStringLower(hash.AsSpan(0, 16));
    }

    /// <summary>Per client address; IPv6 clients are grouped by /64, the block one subscriber usually holds.</summary>
    internal static string AddressKey(IPAddress? address)
    {
        if (address is null)
        {
            return "auth:login:ip:unknown";
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var bytes = address.GetAddressBytes();
            Array.Clear(bytes, 8, 8);
            return "auth:login:ip:" + new IPAddress(bytes) + "/64";
        }
        return "auth:login:ip:" + address;
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Redis is unavailable for sign-in throttling; counting failures in this process for the next {Seconds} s")]
    private partial void LogRedisUnavailable(Exception error, int seconds);

    private void LogRedisUnavailable(Exception error) => LogRedisUnavailable(error, (int)_redis.Pause.TotalSeconds);

    /// <summary>The fallback: the same fixed-window counters in memory, for this instance only.</summary>
    private sealed class LocalCounters(TimeProvider time)
    {
        private const int SweepThreshold = 10_000;
        private readonly Lock _gate = new();
        private readonly Dictionary<string, (int Count, DateTimeOffset ResetAt)> _counters = new(StringComparer.Ordinal);

        public TimeSpan TryAcquire(string[] keys, int[] limits, TimeSpan window)
        {
            var now = time.GetUtcNow();
            lock (_gate)
            {
                if (_counters.Count > SweepThreshold)
                {
                    foreach (var expired in _counters.Where(c => c.Value.ResetAt <= now).Select(c => c.Key).ToList())
                    {
                        _counters.Remove(expired);
                    }
                }
                var wait = TimeSpan.Zero;
                for (var i = 0; i < keys.Length; i++)
                {
                    if (_counters.TryGetValue(keys[i], out var c) && c.ResetAt > now && c.Count >= limits[i])
                    {
                        wait = TimeSpan.FromTicks(Math.Max(wait.Ticks, (c.ResetAt - now).Ticks));
                    }
                }
                if (wait > TimeSpan.Zero)
                {
                    return wait;
                }
                foreach (var key in keys)
                {
                    _counters[key] = _counters.TryGetValue(key, out var c) && c.ResetAt > now ? (c.Count + 1, c.ResetAt) : (1, now + window);
                }
                return TimeSpan.Zero;
            }
        }

        public void Refund(string[] keys)
        {
            lock (_gate)
            {
                foreach (var key in keys)
                {
                    if (_counters.TryGetValue(key, out var c))
                    {
                        if (c.Count <= 1)
                        {
                            _counters.Remove(key);
                        }
                        else
                        {
                            _counters[key] = (c.Count - 1, c.ResetAt);
                        }
                    }
                }
            }
        }
    }
}
