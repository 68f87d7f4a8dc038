using System.Diagnostics.Metrics;
using AspireAi.Core.Redis;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Logging;

namespace AspireAi.Core.Caching;

/// <summary>
/// HybridCache's second level (Redis) such that an outage only costs cache hits: a failed or slow read is a miss, a
/// failed write is skipped, and after a failure Redis is left alone for a pause (<see cref="RedisFallback"/>), so
/// requests do not each wait out a timeout. Logged once per outage; every bypassed call counts in
/// <c>aspireai.cache.l2_bypassed</c>.
/// </summary>
public sealed partial class FailSoftDistributedCache : IDistributedCache
{
    private readonly IDistributedCache _inner;
    private readonly RedisFallback _fallback;
    private readonly ILogger<FailSoftDistributedCache> _logger;
    private readonly Counter<long> _bypassed;

    public FailSoftDistributedCache(IDistributedCache inner, TimeProvider time, IMeterFactory meters, ILogger<FailSoftDistributedCache> logger)
    {
        ArgumentNullException.ThrowIfNull(meters);
        _inner = inner;
        _logger = logger;
        _fallback = new RedisFallback(time, timeout: TimeSpan.FromMilliseconds(250), pause: TimeSpan.FromSeconds(15));
        _bypassed = meters.Create(CachingExtensions.MeterName)
            .CreateCounter<long>("aspireai.cache.l2_bypassed", description: "Distributed-cache calls skipped or failed because Redis was unavailable.");
    }

    public byte[]? Get(string key) => GetAsync(key).GetAwaiter().GetResult();

    public async Task<byte[]?> GetAsync(string key, CancellationToken token = default) =>
        await RunAsync(t => _inner.GetAsync(key, t), token).ConfigureAwait(false);

    public void Set(string key, byte[] value, DistributedCacheEntryOptions options) => SetAsync(key, value, options).GetAwaiter().GetResult();

    public Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default) =>
        RunAsync(async t => { await _inner.SetAsync(key, value, options, t).ConfigureAwait(false); return (byte[]?)null; }, token);

    public void Refresh(string key) => RefreshAsync(key).GetAwaiter().GetResult();

    public Task RefreshAsync(string key, CancellationToken token = default) =>
        RunAsync(async t => { await _inner.RefreshAsync(key, t).ConfigureAwait(false); return (byte[]?)null; }, token);

    public void Remove(string key) => RemoveAsync(key).GetAwaiter().GetResult();

    public Task RemoveAsync(string key, CancellationToken token = default) =>
        RunAsync(async t => { await _inner.RemoveAsync(key, t).ConfigureAwait(false); return (byte[]?)null; }, token);

    private async Task<byte[]?> RunAsync(Func<CancellationToken, Task<byte[]?>> operation, CancellationToken token)
    {
        var (succeeded, value) = await _fallback.TryAsync(operation, error => LogUnavailable(error, (int)_fallback.Pause.TotalSeconds), token)
            .ConfigureAwait(false);
        if (!succeeded)
        {
            _bypassed.Add(1);
        }
        return succeeded ? value : null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is unavailable for the shared cache; serving from process memory and the database for the next {Seconds} s")]
    private partial void LogUnavailable(Exception error, int seconds);
}
