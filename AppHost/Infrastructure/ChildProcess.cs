using System.Diagnostics;

namespace AspireAi.AppHost.Infrastructure;

/// <summary>What to start: the executable, its arguments, environment and the user it runs as.</summary>
public sealed record ChildProcessSpec(string FileName, IReadOnlyList<string> Arguments)
{
    public string? WorkingDirectory { get; init; }
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();

    /// <summary>When set and we are root, the process is exec'd as this user through setpriv, so that its pid
    /// is the real server's pid (runuser would sit in between and swallow signals).</summary>
    public string? RunAsUser { get; init; }
}

/// <summary>A started child process whose output arrives line by line, and that can be stopped gracefully.</summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ChildProcess(Process process) => _process = process;

    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    public static ChildProcess Start(ChildProcessSpec spec, Action<string> onOutput)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(onOutput);

        var startInfo = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = spec.WorkingDirectory ?? Directory.GetCurrentDirectory(),
        };
        if (spec.RunAsUser is { } user && NativeProcess.IsRoot)
        {
            startInfo.FileName = "setpriv";
            foreach (var arg in (string[])["--reuid", user, "--regid", user, "--init-groups", "--", spec.FileName])
            {
                startInfo.ArgumentList.Add(arg);
            }
        }
        else
        {
            startInfo.FileName = spec.FileName;
        }
        foreach (var arg in spec.Arguments)
        {
            startInfo.ArgumentList.Add(arg);
        }
        foreach (var (key, value) in spec.Environment)
        {
            startInfo.Environment[key] = value;
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) onOutput(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) onOutput(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ChildProcess(process);
    }

    public Task WaitForExitAsync(CancellationToken cancellationToken = default) =>
        _process.WaitForExitAsync(cancellationToken);

    /// <summary>Sends <paramref name="signal"/> and waits; past the grace period the whole tree is killed.</summary>
    public async Task StopAsync(int signal, TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }
        NativeProcess.Signal(_process.Id, signal);
        using var timeout = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill();
            await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(NativeProcess.SigTerm, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        _process.Dispose();
    }
}
