using System.Diagnostics;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AspireAi.Core.Llm;

/// <summary>
/// Loads the local embedding model and embeds once at start, and keeps <c>/health</c> unhealthy until that is done:
/// the first extraction and session creation take about a second, which would otherwise land on the first user's
/// request (or time it out). Remote embedding providers have nothing to warm up and are ready at once.
/// </summary>
internal sealed partial class EmbeddingWarmup(
    IServiceProvider services, IOptions<LlmOptions> options, ILogger<EmbeddingWarmup> logger) : BackgroundService, IHealthCheck
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The raw local model, not the app's pipeline: a warm-up is no query, so it must not be cached or counted.
        if (options.Value.ResolveEmbeddingProvider() != LlmProvider.Offline
            || services.GetKeyedService<IEmbeddingGenerator<string, Embedding<float>>>(OfflineModels.ServiceKey) is not { } local)
        {
            _ready.TrySetResult();
            return;
        }

        var model = local.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelId ?? OfflineModels.EmbeddingModelId;
        var started = Stopwatch.GetTimestamp();
        try
        {
            // Off the host's start-up path: the other hosted services and Kestrel start meanwhile.
            await Task.Run(() => local.GenerateAsync(["warm-up"], cancellationToken: stoppingToken), stoppingToken).ConfigureAwait(false);
            var elapsed = Stopwatch.GetElapsedTime(started);
            LogWarm(logger, model, elapsed.TotalMilliseconds);
            _ready.TrySetResult();
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            _ready.TrySetCanceled(stoppingToken);
        }
        catch (Exception exception)
        {
            LogFailed(logger, exception, model);
            _ready.TrySetException(exception);
        }
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(_ready.Task.Status switch
        {
            TaskStatus.RanToCompletion => HealthCheckResult.Healthy(),
            TaskStatus.Faulted => HealthCheckResult.Unhealthy("The embedding model failed to load.", _ready.Task.Exception?.InnerException),
            _ => HealthCheckResult.Unhealthy("The embedding model is loading."),
        });

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedding model {Model} loaded and warmed up in {ElapsedMs:0} ms")]
    private static partial void LogWarm(ILogger logger, string model, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "Embedding model {Model} failed to load; /health stays unhealthy")]
    private static partial void LogFailed(ILogger logger, Exception exception, string model);
}
