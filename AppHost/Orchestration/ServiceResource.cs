using AspireAi.LocalServers;

namespace AspireAi.AppHost.Orchestration;

/// <summary>
/// Runs one service process and keeps it running: polls its /health, restarts it with exponential backoff
/// when it exits on its own, and stops it gracefully (SIGTERM, then a tree kill) when the AppHost stops.
/// </summary>
public sealed class ServiceResource(
    ServiceProject project,
    string url,
    IReadOnlyDictionary<string, string?> environment,
    ResourceRegistry registry,
    ConsoleOutput console,
    string runDirectory,
    TimeSpan maxRestartDelay)
{
    private static readonly TimeSpan HealthyResetAfter = TimeSpan.FromSeconds(60);
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(3) };

    public string Name => project.Name;

    public async Task RunAsync(CancellationToken stopping)
    {
        var consecutiveFailures = 0;
        while (!stopping.IsCancellationRequested)
        {
            var (fileName, arguments) = project.Command();
            var child = ChildProcess.Start(
                new ChildProcessSpec(fileName, arguments) { WorkingDirectory = project.ProjectDirectory, Environment = environment },
                line => console.Log(Name, line));
            PidFiles.Write(runDirectory, Name, child.Pid);
            registry.Update(Name, r => r with { State = ResourceState.Starting, Pid = child.Pid, Url = url, Health = null, ExitCode = null, Detail = null });

            var startedAt = DateTime.UtcNow;
            using var exitedOrStopping = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            var exit = child.WaitForExitAsync(CancellationToken.None).ContinueWith(_ => exitedOrStopping.Cancel(), TaskScheduler.Default);
            var healthy = await WatchHealthAsync(exitedOrStopping.Token).ConfigureAwait(false);

            if (stopping.IsCancellationRequested)
            {
                registry.Update(Name, r => r with { State = ResourceState.Stopping });
                await child.StopAsync(NativeProcess.SigTerm, TimeSpan.FromSeconds(15)).ConfigureAwait(false);
                await exit.ConfigureAwait(false);
                PidFiles.Delete(runDirectory, Name);
                registry.Update(Name, r => r with { State = ResourceState.Stopped, Pid = null, Health = null, ExitCode = child.ExitCode });
                return;
            }

            await exit.ConfigureAwait(false);
            PidFiles.Delete(runDirectory, Name);
            consecutiveFailures = healthy && DateTime.UtcNow - startedAt > HealthyResetAfter ? 1 : consecutiveFailures + 1;
            var delay = RestartDelay(consecutiveFailures);
            registry.Update(Name, r => r with
            {
                State = ResourceState.Restarting, Pid = null, Health = null, ExitCode = child.ExitCode, Restarts = r.Restarts + 1,
                Detail = $"exited with code {child.ExitCode}; restarting in {delay.TotalSeconds:0.#}s",
            });
            try
            {
                await Task.Delay(delay, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                registry.Update(Name, r => r with { State = ResourceState.Stopped });
                return;
            }
        }
    }

    /// <summary>Polls /health until the process exits or the AppHost stops; returns whether it was ever healthy.</summary>
    private async Task<bool> WatchHealthAsync(CancellationToken cancellationToken)
    {
        var everHealthy = false;
        var interval = TimeSpan.FromMilliseconds(250);
        while (!cancellationToken.IsCancellationRequested)
        {
            var (ok, detail) = await ProbeAsync(cancellationToken).ConfigureAwait(false);
            if (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            if (ok)
            {
                everHealthy = true;
                // Once up, a slower poll is enough to reflect a lost dependency in the table.
                interval = TimeSpan.FromSeconds(5);
            }
            registry.Update(Name, r => r with
            {
                State = ok ? ResourceState.Healthy : everHealthy ? ResourceState.Unhealthy : ResourceState.Starting,
                Health = ok ? "Healthy" : detail,
            });
            try
            {
                await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        return everHealthy;
    }

    private async Task<(bool Ok, string Detail)> ProbeAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Http.GetAsync(new Uri(new Uri(url), "/health"), cancellationToken).ConfigureAwait(false);
            return response.IsSuccessStatusCode ? (true, "Healthy") : (false, $"HTTP {(int)response.StatusCode}");
        }
        catch (HttpRequestException)
        {
            return (false, "not listening");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (false, "timeout");
        }
        catch (OperationCanceledException)
        {
            return (false, "stopping");
        }
    }

    private TimeSpan RestartDelay(int failures)
    {
        var seconds = Math.Min(maxRestartDelay.TotalSeconds, Math.Pow(2, Math.Max(0, failures - 1)));
        return TimeSpan.FromSeconds(seconds);
    }
}
