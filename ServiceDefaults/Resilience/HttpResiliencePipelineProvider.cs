using System.Net;
using System.Net.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Registry;
using Polly.Retry;
using Polly.Timeout;

namespace AspireAi.ServiceDefaults;

// IHttpClientFactory rebuilds handler chains every few minutes; a circuit breaker living in the handler
// would forget its state each time. Pipelines are therefore kept here, one per client and profile, for
// the lifetime of the container.
internal sealed partial class HttpResiliencePipelineProvider(
    IOptionsMonitor<HttpResilienceProfile> profiles,
    ILogger<HttpResiliencePipelineProvider> logger,
    TimeProvider? timeProvider = null) : IDisposable
{
    private readonly ResiliencePipelineRegistry<string> _registry = new();
    private readonly TimeProvider _timeProvider = timeProvider ?? TimeProvider.System;

    public ResiliencePipeline<HttpResponseMessage> GetPipeline(string clientName, string profileName) =>
        _registry.GetOrAddPipeline<HttpResponseMessage>(
            $"{clientName}/{profileName}",
            builder => Configure(builder, clientName, profiles.Get(profileName)));

    public void Dispose() => _registry.Dispose();

    private void Configure(ResiliencePipelineBuilder<HttpResponseMessage> builder, string clientName, HttpResilienceProfile profile)
    {
        // Retry and circuit breaker agree on what a failure is: transport errors, attempt timeouts,
        // 408, 429 and 5xx. An open circuit (BrokenCircuitException) is deliberately not retried.
        var isTransient = new PredicateBuilder<HttpResponseMessage>()
            .Handle<HttpRequestException>()
            .Handle<TimeoutRejectedException>()
            .HandleResult(IsTransientStatus);
        Func<RetryPredicateArguments<HttpResponseMessage>, ValueTask<bool>> isTransientForRetry = isTransient;

        builder.TimeProvider = _timeProvider;
        builder
            .AddTimeout(profile.TotalRequestTimeout)
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                // Unsafe requests are replayed only when they provably never reached the server.
                ShouldHandle = args => args.Context.Properties.GetValue(ResilienceHandler.SafeToReplay, false)
                    || args.Outcome.Exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError }
                        ? isTransientForRetry(args)
                        : PredicateResult.False(),
                MaxRetryAttempts = profile.MaxRetryAttempts,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = profile.RetryBaseDelay,
                MaxDelay = profile.RetryMaxDelay,
                DelayGenerator = args => ValueTask.FromResult(
                    RetryAfter.GetDelay(args.Outcome.Result, _timeProvider, profile.RetryMaxDelay)),
                OnRetry = args =>
                {
                    LogRetry(clientName, Describe(args.Outcome), args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds);
                    return ValueTask.CompletedTask;
                },
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = isTransient,
                FailureRatio = profile.CircuitBreakerFailureRatio,
                MinimumThroughput = profile.CircuitBreakerMinimumThroughput,
                SamplingDuration = profile.CircuitBreakerSamplingDuration,
                BreakDuration = profile.CircuitBreakerBreakDuration,
                OnOpened = args =>
                {
                    LogCircuitOpened(clientName, args.BreakDuration.TotalSeconds, Describe(args.Outcome));
                    return ValueTask.CompletedTask;
                },
                OnHalfOpened = _ =>
                {
                    LogCircuitHalfOpened(clientName);
                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    LogCircuitClosed(clientName);
                    return ValueTask.CompletedTask;
                },
            })
            .AddTimeout(profile.AttemptTimeout);
    }

    private static bool IsTransientStatus(HttpResponseMessage response) =>
        response.StatusCode is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests
        || (int)response.StatusCode >= 500;

    private static string Describe(Outcome<HttpResponseMessage> outcome) =>
        outcome.Exception?.GetType().Name
        ?? (outcome.Result is { } response ? $"HTTP {(int)response.StatusCode}" : "no result");

    [LoggerMessage(Level = LogLevel.Warning, Message = "HTTP client {ClientName} got {Outcome}; retry {RetryNumber} in {DelayMs:0} ms")]
    private partial void LogRetry(string clientName, string outcome, int retryNumber, double delayMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "Circuit of HTTP client {ClientName} opened for {BreakSeconds:0.#} s after {Outcome}")]
    private partial void LogCircuitOpened(string clientName, double breakSeconds, string outcome);

    [LoggerMessage(Level = LogLevel.Information, Message = "Circuit of HTTP client {ClientName} half-open: sending a probe request")]
    private partial void LogCircuitHalfOpened(string clientName);

    [LoggerMessage(Level = LogLevel.Information, Message = "Circuit of HTTP client {ClientName} closed")]
    private partial void LogCircuitClosed(string clientName);
}
