using AspireAi.Core.Jobs;
using Microsoft.Extensions.Options;

namespace AspireAi.Workers.Jobs;

/// <summary>This process's worker id, as written to leases and attempt history.</summary>
internal sealed class WorkerIdentity(IOptions<JobsOptions> options)
{
    public string Id { get; } = options.Value.WorkerId
        ?? $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}";
}

/// <summary>The registered handlers by job type. Types given only by an instance are read once, at start-up.</summary>
internal sealed class JobHandlerRegistry
{
    private readonly Dictionary<string, JobHandlerRegistration> _handlers = new(StringComparer.Ordinal);

    public JobHandlerRegistry(IEnumerable<JobHandlerRegistration> registrations, IServiceScopeFactory scopes, IOptions<JobsOptions> options)
    {
        using var scope = scopes.CreateScope();
        foreach (var registration in registrations)
        {
            var type = registration.Type ?? registration.Create(scope.ServiceProvider).Type;
            if (!_handlers.TryAdd(type, registration))
            {
                throw new InvalidOperationException($"More than one handler is registered for job type '{type}'.");
            }
        }
        var handled = options.Value.HandledTypes;
        Types = [.. _handlers.Keys.Where(t => handled.Count == 0 || handled.Contains(t, StringComparer.Ordinal)).Order(StringComparer.Ordinal)];
    }

    /// <summary>Whether this process runs jobs of <paramref name="type"/> (Jobs:HandledTypes).</summary>
    public bool Handles(string type) => Array.BinarySearch(Types, type, StringComparer.Ordinal) >= 0;

    /// <summary>The job types this process runs, sorted.</summary>
    public string[] Types { get; }

    public IJobHandler Create(string type, IServiceProvider services) => _handlers[type].Create(services);
}

/// <summary>An auto-reset signal for one waiter: Set before WaitAsync is remembered, many Sets collapse into one.</summary>
internal sealed class AsyncSignal : IDisposable
{
    private readonly SemaphoreSlim _semaphore = new(0, 1);

    public void Set()
    {
        try
        {
            _semaphore.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already set.
        }
        catch (ObjectDisposedException)
        {
            // The worker has stopped.
        }
    }

    public Task WaitAsync(CancellationToken cancellationToken) => _semaphore.WaitAsync(cancellationToken);

    public void Dispose() => _semaphore.Dispose();
}
