using System.Diagnostics;
using AspireAi.LocalServers;
using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.Jobs;

/// <summary>
/// The real Workers service, started from its build output as its own process (the way the AppHost starts it),
/// with the test handlers enabled. It can be killed with SIGKILL to simulate a crash.
/// </summary>
public sealed class WorkersProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];

    private WorkersProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Pid => _process.Id;
    public int Port { get; }
    public bool HasExited => _process.HasExited;

    public string Output
    {
        get { lock (_output) { return string.Join('\n', _output); } }
    }

    public static WorkersProcess Start(TestServers servers, IReadOnlyDictionary<string, string> settings)
    {
        ArgumentNullException.ThrowIfNull(servers);
        ArgumentNullException.ThrowIfNull(settings);
        // The test runs from artifacts/bin/AspireAi.Tests/<config>; the Workers' own build sits beside it.
        var workersDll = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "AspireAi.Workers",
            new DirectoryInfo(AppContext.BaseDirectory).Name, "AspireAi.Workers.dll"));
        var port = NativeProcess.FreeTcpPort();
        var startInfo = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(workersDll)!,
            ArgumentList = { workersDll },
            Environment =
            {
                ["DOTNET_ENVIRONMENT"] = "Development",
                ["ASPNETCORE_ENVIRONMENT"] = "Development",
                ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
                ["ConnectionStrings__postgres"] = servers.PostgresConnectionString,
                ["ConnectionStrings__redis"] = servers.RedisConnectionString,
                ["Jobs__EnableTestHandlers"] = "true",
                ["Logging__LogLevel__Default"] = "Information",
                ["Logging__LogLevel__Microsoft"] = "Warning",
                ["NO_COLOR"] = "1",
            },
        };
        foreach (var (key, value) in settings)
        {
            startInfo.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }
        var process = Process.Start(startInfo)!;
        var workers = new WorkersProcess(process, port);
        process.OutputDataReceived += (_, e) => workers.Append(e.Data);
        process.ErrorDataReceived += (_, e) => workers.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return workers;
    }

    /// <summary>SIGKILL: no shutdown code runs; its connections drop and open transactions roll back.</summary>
    public async Task KillAsync()
    {
        NativeProcess.Signal(_process.Id, NativeProcess.SigKill);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            NativeProcess.Signal(_process.Id, NativeProcess.SigTerm);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.Add(line);
            }
        }
    }
}
