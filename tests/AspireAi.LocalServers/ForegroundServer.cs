namespace AspireAi.LocalServers;

/// <summary>
/// A server (Postgres, Redis) run as a foreground child of this process: the parts of its lifetime that do not
/// depend on which server it is — the child handle, clean stop with the server's own shutdown signal, crash
/// simulation and disposal.
/// </summary>
public abstract class ForegroundServer : IAsyncDisposable
{
    private readonly int _stopSignal;
    private readonly TimeSpan _stopTimeout;

    /// <param name="stopSignal">The signal the server treats as a clean, fast shutdown.</param>
    /// <param name="stopTimeout">How long it may take before it is killed.</param>
    protected ForegroundServer(int stopSignal, TimeSpan stopTimeout)
    {
        _stopSignal = stopSignal;
        _stopTimeout = stopTimeout;
    }

    public int? Pid => Process is { HasExited: false } p ? p.Pid : null;

    public ChildProcess? Process { get; protected set; }

    /// <summary>True while the child runs: start is then a no-op.</summary>
    protected bool IsRunning => Process is { HasExited: false };

    /// <summary>Starts the server (a no-op while it runs) and returns once it answers.</summary>
    public abstract Task StartAsync(CancellationToken cancellationToken = default);

    public async Task StopAsync()
    {
        if (Process is { } p)
        {
            await p.StopAsync(_stopSignal, _stopTimeout).ConfigureAwait(false);
        }
    }

    /// <summary>Simulates a crash, for failure tests.</summary>
    public async Task KillAsync()
    {
        if (Process is { } p)
        {
            p.Kill();
            await p.WaitForExitAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (Process is { } p)
        {
            await p.DisposeAsync().ConfigureAwait(false);
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Polls <paramref name="probe"/> until the server answers, failing fast when the child exits during start-up
    /// and with a timeout naming the server otherwise.
    /// </summary>
    protected async Task WaitUntilReadyAsync(string name, TimeSpan timeout, TimeSpan interval,
        Func<CancellationToken, Task<bool>> probe, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (Process is null || Process.HasExited)
            {
                throw new InvalidOperationException($"{name} exited during start-up (exit code {Process?.ExitCode}).");
            }
            if (await probe(cancellationToken).ConfigureAwait(false))
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{name} did not become ready within {timeout}.");
            }
            await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
        }
    }
}
