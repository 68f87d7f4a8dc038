using System.Net.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// The two resilience profiles of the app, both Microsoft.Extensions.Http.Resilience's standard handler (total
/// timeout, retry with backoff and Retry-After, circuit breaker, attempt timeout). Settings bind from
/// <c>Resilience:Standard</c> and <c>Resilience:Llm</c> in the shape of <see cref="HttpStandardResilienceOptions"/>,
/// e.g. <c>Resilience:Llm:AttemptTimeout:Timeout = "00:03:00"</c>.
/// </summary>
public static class HttpResilience
{
    public const string StandardSection = "Resilience:Standard";
    public const string LlmSection = "Resilience:Llm";

    /// <summary>
    /// For clients calling a model server. Takes the place of the standard handler that AddServiceDefaults puts on
    /// every client: stacked pipelines would multiply the retries and timeouts.
    /// </summary>
    public static IHttpClientBuilder AddLlmResilienceHandler(this IHttpClientBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);

        // The profile's total timeout governs; HttpClient's own 100 s default would cut a generation short.
        builder.ConfigureHttpClient(client => client.Timeout = Timeout.InfiniteTimeSpan);
        // Experimental, but the library's documented way to replace a handler that ConfigureHttpClientDefaults added.
#pragma warning disable EXTEXP0001
        builder.RemoveAllResilienceHandlers()
            .AddStandardResilienceHandler()
            .Configure((options, services) =>
            {
                ApplyLlmDefaults(options);
                services.GetRequiredService<IConfiguration>().GetSection(LlmSection).Bind(options);
                ReplayOnlyWhenSafe(options);
            });
#pragma warning restore EXTEXP0001
        return builder;
    }

    internal static void ConfigureStandard(HttpStandardResilienceOptions options, IServiceProvider services)
    {
        services.GetRequiredService<IConfiguration>().GetSection(StandardSection).Bind(options);
        ReplayOnlyWhenSafe(options);
    }

    // A POST that reached the server may have done its work even if the answer was a 503 or never came: resending
    // it could, say, post a chat message twice. Idempotent methods, requests carrying an Idempotency-Key the server
    // deduplicates on, and requests that failed to connect (so were never sent) are retried; nothing else is.
    private static void ReplayOnlyWhenSafe(HttpStandardResilienceOptions options)
    {
        options.Retry.ShouldRetryAfterHeader = true;
        options.Retry.ShouldHandle = args => ValueTask.FromResult(
            HttpClientResiliencePredicates.IsTransient(args.Outcome)
            && (args.Outcome.Exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError }
                || args.Context.GetRequestMessage() is not { } request
                || IsSafeToReplay(request)));
    }

    private static bool IsSafeToReplay(HttpRequestMessage request) =>
        request.Method == HttpMethod.Get || request.Method == HttpMethod.Head || request.Method == HttpMethod.Options
        || request.Method == HttpMethod.Put || request.Method == HttpMethod.Delete || request.Method == HttpMethod.Trace
        || request.Headers.Contains("Idempotency-Key");

    // Generations take minutes and each one is expensive, so wait longer and retry less; model servers see little
    // traffic per client, hence a lower throughput floor and a higher ratio before breaking.
    private static void ApplyLlmDefaults(HttpStandardResilienceOptions options)
    {
        options.AttemptTimeout.Timeout = TimeSpan.FromMinutes(2);
        options.TotalRequestTimeout.Timeout = TimeSpan.FromMinutes(5);
        options.Retry.MaxRetryAttempts = 2;
        options.CircuitBreaker.SamplingDuration = TimeSpan.FromMinutes(5);
        options.CircuitBreaker.MinimumThroughput = 10;
        options.CircuitBreaker.FailureRatio = 0.5;
        options.CircuitBreaker.BreakDuration = TimeSpan.FromSeconds(15);
    }
}
