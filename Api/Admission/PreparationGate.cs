using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Threading.RateLimiting;
using AspireAi.Api.OpenAiCompat;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace AspireAi.Api.Admission;

/// <summary>
/// Bounds the pre-stream part of a chat turn (history, retrieval, query embedding, the durable insert of the user
/// message) per instance. That part is what costs CPU and pooled connections; the stream that follows mostly waits on
/// the provider. A turn waits for a slot only while the expected wait stays under
/// <see cref="AdmissionOptions.MaxPreparationWait"/>, estimated from the queue length and the recent preparation
/// time; beyond that it is refused at once with 503 + Retry-After, so overload is a quick retryable answer instead of
/// a queue in which every admitted stream also gets slow, and the connection pool never runs dry.
/// </summary>
public sealed partial class PreparationGate : IDisposable
{
    public const string MeterName = "AspireAi.Admission";

    private readonly AdmissionOptions _options;
    private readonly ConcurrencyLimiter? _limiter;
    private readonly Counter<long> _refused;
    private readonly Histogram<double> _waited;
    private readonly ILogger<PreparationGate> _logger;
    private readonly Lock _gate = new();
    // Mean preparation time in milliseconds (moving average); seeded with a typical figure until turns are measured.
    private double _meanMilliseconds = 20;

    public PreparationGate(IOptions<AdmissionOptions> options, IMeterFactory meters, ILogger<PreparationGate> logger)
    {
        _options = options.Value;
        _logger = logger;
        _limiter = _options.Enabled
            ? new ConcurrencyLimiter(new ConcurrencyLimiterOptions
            {
                PermitLimit = _options.MaxConcurrentPreparations,
                QueueLimit = _options.MaxConcurrentChatTurns,
                QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            })
            : null;
        var meter = meters.Create(MeterName);
        _refused = meter.CreateCounter<long>("aspireai.admission.preparations.refused", "{turn}",
            "Chat turns refused with 503 because their preparation would have waited too long.");
        _waited = meter.CreateHistogram<double>("aspireai.admission.preparation.wait", "ms",
            "Time an admitted chat turn waited for a preparation slot.");
    }

    /// <summary>Waits for a preparation slot, or refuses when the wait would exceed the configured bound.</summary>
    public async ValueTask<PreparationSlot> EnterAsync(CancellationToken cancellationToken)
    {
        if (_limiter is null)
        {
            return new PreparationSlot(this, null, TimeSpan.Zero);
        }
        var statistics = _limiter.GetStatistics();
        if (statistics is not null && statistics.CurrentAvailablePermits == 0)
        {
            var expected = ExpectedWait(statistics.CurrentQueuedCount + 1);
            if (expected > _options.MaxPreparationWait)
            {
                return Refuse(expected);
            }
        }

        var started = Stopwatch.GetTimestamp();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.MaxPreparationWait);
        RateLimitLease lease;
        try
        {
            lease = await _limiter.AcquireAsync(1, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Refuse(ExpectedWait(_limiter.GetStatistics()?.CurrentQueuedCount ?? 1));
        }
        if (!lease.IsAcquired)
        {
            lease.Dispose();
            return Refuse(ExpectedWait(_options.MaxConcurrentChatTurns));
        }
        _waited.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return new PreparationSlot(this, lease, TimeSpan.Zero);
    }

    /// <summary>The 503 for a refused turn, as ProblemDetails.</summary>
    public static ProblemHttpResult Refusal(HttpContext http, PreparationSlot slot)
    {
        var seconds = RetryAfterSeconds(slot);
        return AdmissionExtensions.AtCapacity(http, seconds, string.Create(CultureInfo.InvariantCulture,
            $"This instance is preparing as many chat turns as it can answer in time (Admission:MaxConcurrentPreparations). Nothing was sent or stored. Try again in {seconds} seconds."));
    }

    /// <summary>The 503 for a refused turn, in OpenAI's error shape (its SDKs retry it after Retry-After).</summary>
    public static JsonHttpResult<OpenAiErrorResponse> OpenAiRefusal(HttpContext http, PreparationSlot slot)
    {
        var seconds = RetryAfterSeconds(slot);
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return OpenAiErrors.Result(StatusCodes.Status503ServiceUnavailable,
            string.Create(CultureInfo.InvariantCulture, $"The server is at capacity. Nothing was sent or stored. Try again in {seconds} seconds."),
            code: "server_overloaded");
    }

    public void Dispose() => _limiter?.Dispose();

    internal void Completed(long startedTimestamp)
    {
        var milliseconds = Stopwatch.GetElapsedTime(startedTimestamp).TotalMilliseconds;
        lock (_gate)
        {
            _meanMilliseconds += 0.1 * (milliseconds - _meanMilliseconds);
        }
    }

    private TimeSpan ExpectedWait(long position)
    {
        double mean;
        lock (_gate)
        {
            mean = _meanMilliseconds;
        }
        return TimeSpan.FromMilliseconds(mean * position / _options.MaxConcurrentPreparations);
    }

    private PreparationSlot Refuse(TimeSpan expectedWait)
    {
        _refused.Add(1);
        LogRefused(_logger, expectedWait.TotalMilliseconds, _options.MaxPreparationWait.TotalMilliseconds);
        // The queue drains in about the expected wait; asking to come back after it spreads the retries out.
        return new PreparationSlot(this, null, expectedWait < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : expectedWait);
    }

    private static int RetryAfterSeconds(PreparationSlot slot) => Math.Max(1, (int)Math.Ceiling(slot.RetryAfter.TotalSeconds));

    // Debug: under overload this fires hundreds of times a second; the counter above is what to watch.
    [LoggerMessage(Level = LogLevel.Debug, Message = "Refused a chat turn: expected preparation wait {ExpectedMs:0} ms exceeds {MaxMs:0} ms")]
    private static partial void LogRefused(ILogger logger, double expectedMs, double maxMs);
}

/// <summary>
/// A preparation slot, or a refusal (<see cref="Admitted"/> false, with the Retry-After to send). Dispose it as soon
/// as the turn is prepared: the stream does not hold it.
/// </summary>
public sealed class PreparationSlot(PreparationGate gate, RateLimitLease? lease, TimeSpan retryAfter) : IDisposable
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private RateLimitLease? _lease = lease;

    public bool Admitted => retryAfter == TimeSpan.Zero;

    public TimeSpan RetryAfter => retryAfter;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _lease, null) is { } held)
        {
            gate.Completed(_started);
            held.Dispose();
        }
    }
}
