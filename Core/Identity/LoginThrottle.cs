using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using AspireAi.Core.Redis;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AspireAi.Core.Identity;

/// <summary>Whether a sign-in attempt may proceed; when it may, it holds one unit of each failure budget.</summary>
public sealed class LoginThrottleLease
{
    internal LoginThrottleLease(bool allowed, TimeSpan retryAfter, TimeSpan slowdown, string[] keys, bool local)
    {
        Allowed = allowed;
        RetryAfter = retryAfter;
        Slowdown = slowdown;
        Keys = keys;
        Local = local;
    }

    /// <summary>False when this address has used up its failures for the account, or for all accounts.</summary>
    public bool Allowed { get; }

    /// <summary>When <see cref="Allowed"/> is false: how long until the blocking window ends.</summary>
    public TimeSpan RetryAfter { get; }

    /// <summary>How long to hold the answer because the account collected many failures from everywhere (zero mostly).</summary>
    public TimeSpan Slowdown { get; }

    internal string[] Keys { get; }

    /// <summary>Counted by the in-process fallback rather than Redis; the refund must go to the same place.</summary>
    internal bool Local { get; }
}

/// <summary>
/// Limits failed sign-ins with counters in Redis, shared by all Api instances, over a fixed window:
/// <list type="bullet">
/// <item>per (account, client address): after <see cref="AuthOptions.MaxLoginFailuresPerAccount"/> failures that
/// address is refused for that account (429) — an attacker locks out only themselves, never the owner;</item>
/// <item>per client address: after <see cref="AuthOptions.MaxLoginFailuresPerIp"/> failures over any accounts that
/// address is refused (password spraying);</item>
/// <item>per account, from everywhere: never refused, but after <see cref="AuthOptions.LoginSlowdownAfterFailures"/>
/// failures each attempt is answered late (doubling up to a cap), so a guessing campaign spread over many addresses
/// is slowed while the owner with the right password still gets in.</item>
/// </list>
/// Every attempt reserves one unit of each budget before the password is checked, so concurrent attempts cannot
/// overshoot; a successful sign-in gives its units back, so only failures count. When Redis is unreachable the same
/// rules run in process (per instance) and Redis is retried after a pause.
/// </summary>
public sealed partial class LoginThrottle(IConnectionMultiplexer redis, IOptions<AuthOptions> options, TimeProvider time, ILogger<LoginThrottle> logger)
{
    // KEYS: pair (account, address), address, account. ARGV: pair limit, address limit, window (ms). Returns
    // {0, account failures so far} when reserved, otherwise {ms until the blocking window ends, 0}.
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
        if wait > 0 then return {wait, 0} end
        local account = tonumber(redis.call('GET', KEYS[3]) or '0')
        for i = 1, 3 do
          if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
        end
        return {0, account}
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

    /// <summary>Reserves one failure from each budget, or says how long this address must wait.</summary>
    public async Task<LoginThrottleLease> AcquireAsync(string email, IPAddress? clientAddress, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(email);
        var settings = options.Value;
        string[] keys = [PairKey(email, clientAddress), AddressKey(clientAddress), AccountKey(email)];
        int[] limits = [settings.MaxLoginFailuresPerAccount, settings.MaxLoginFailuresPerIp, int.MaxValue];
        var window = TimeSpan.FromMinutes(settings.LoginWindowMinutes);

        var (reserved, result) = await _redis.TryAsync(
            async token => (long[])(await redis.GetDatabase().ScriptEvaluateAsync(AcquireScript, RedisKeys(keys),
                [limits[0], limits[1], (long)window.TotalMilliseconds]).WaitAsync(token).ConfigureAwait(false))!,
            LogRedisUnavailable, cancellationToken).ConfigureAwait(false);
        if (reserved)
        {
            return new LoginThrottleLease(result![0] == 0, TimeSpan.FromMilliseconds(result[0]), Slowdown(result[1], settings), keys, local: false);
        }

        var (localWait, accountFailures) = _local.TryAcquire(keys, limits, window);
        return new LoginThrottleLease(localWait == TimeSpan.Zero, localWait, Slowdown(accountFailures, settings), keys, local: true);
    }

    /// <summary>The wait for an account that has <paramref name="failures"/> failures in the window (from anywhere).</summary>
    internal static TimeSpan Slowdown(long failures, AuthOptions settings)
    {
        var over = failures - settings.LoginSlowdownAfterFailures;
        if (over < 0)
        {
            return TimeSpan.Zero;
        }

        var doubled = settings.LoginSlowdownStep.Ticks * Math.Pow(2, Math.Min(over, 30));
        return TimeSpan.FromTicks((long)Math.Min(doubled, settings.LoginSlowdownMax.Ticks));
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

    /// <summary>Per account and client address; hashed like <see cref="AccountKey"/>.</summary>
    internal static string PairKey(string email, IPAddress? address)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(email.Trim().ToLowerInvariant() + "\n" + AddressKey(address)));
        return "auth:login:pair:" + Convert.ToHexStringLower(hash.AsSpan(0, 16));
    }

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

        // Returns the wait (zero when reserved) and, when reserved, the last key's count before this attempt.
        public (TimeSpan Wait, long LastCount) TryAcquire(string[] keys, int[] limits, TimeSpan window)
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
                    return (wait, 0);
                }
                var last = _counters.TryGetValue(keys[^1], out var lastCounter) && lastCounter.ResetAt > now ? lastCounter.Count : 0;
                foreach (var key in keys)
                {
                    _counters[key] = _counters.TryGetValue(key, out var c) && c.ResetAt > now ? (c.Count + 1, c.ResetAt) : (1, now + window);
                }
                return (TimeSpan.Zero, last);
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
