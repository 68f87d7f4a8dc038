using System.Diagnostics;

namespace AspireAi.LocalServers;

/// <summary>What to start: the executable, its arguments, environment and the user it runs as.</summary>
public sealed record ChildProcessSpec(string FileName, IReadOnlyList<string> Arguments)
{
    public string? WorkingDirectory { get; init; }
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();

    /// <summary>When set and we are root, the process is exec'd as this user through setpriv (runuser would stay
    /// in between as a parent and swallow signals).</summary>
    public string? RunAsUser { get; init; }

    /// <summary>Runs the process in a session of its own (setsid), so that a terminal's Ctrl+C or a process-group
    /// signal reaches only the AppHost, which then stops its children in order.</summary>
    public bool NewSession { get; init; } = true;
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
        // Both wrappers exec in place (the child is not a group leader, so setsid does not fork): the pid we hold
        // is the real program's pid.
        List<string> command = [spec.FileName, .. spec.Arguments];
        if (spec.RunAsUser is { } user && NativeProcess.IsRoot)
        {
            command.InsertRange(0, ["setpriv", "--reuid", user, "--regid", user, "--init-groups", "--"]);
        }
        if (spec.NewSession)
        {
            command.Insert(0, "setsid");
        }
        startInfo.FileName = command[0];
        foreach (var arg in command.Skip(1))
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
