using System.Diagnostics;
using System.Text.Json;
using AspireAi.LocalServers;
using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.EndToEnd;

/// <summary>The real AppHost, started as a process in non-interactive mode on free ports and its own data directory.</summary>
public sealed class AppHostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];

    private AppHostProcess(Process process, string dataDirectory, Ports ports)
    {
        _process = process;
        DataDirectory = dataDirectory;
        Endpoints = ports;
    }

    public sealed record Ports(int Api, int Workers, int Web, int Postgres, int Redis)
    {
        public Uri ApiUrl => new($"http://127.0.0.1:{Api}");
        public Uri WorkersUrl => new($"http://127.0.0.1:{Workers}");
        public Uri WebUrl => new($"http://127.0.0.1:{Web}");
    }

    public sealed record Resource(string Name, string Type, string State, int? Pid, string? Url, string? Health, int Restarts);

    public string DataDirectory { get; }
    public Ports Endpoints { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    public string Output
    {
        get { lock (_output) { return string.Join('\n', _output); } }
    }

    public static AppHostProcess Start(Ports? ports = null, IReadOnlyDictionary<string, string>? environment = null, params string[] extraArgs)
    {
        ports ??= new Ports(NativeProcess.FreeTcpPort(), NativeProcess.FreeTcpPort(), NativeProcess.FreeTcpPort(),
            NativeProcess.FreeTcpPort(), NativeProcess.FreeTcpPort());
        var dataDirectory = TestServers.TempDirectory("apphost");
        // The test runs from artifacts/bin/AspireAi.Tests/<config>; the AppHost's own build sits beside it.
        var appHostDll = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "AspireAi.AppHost",
            new DirectoryInfo(AppContext.BaseDirectory).Name, "AspireAi.AppHost.dll"));
        var startInfo = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            Environment =
            {
                ["DOTNET_ENVIRONMENT"] = "Development",
                ["AppHost__Durable"] = "false",
                ["NO_COLOR"] = "1",
            },
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            startInfo.Environment[key] = value;
        }
        foreach (var arg in (string[])[appHostDll, "--non-interactive", "--data-dir", dataDirectory,
            "--api-port", $"{ports.Api}", "--workers-port", $"{ports.Workers}", "--web-port", $"{ports.Web}",
            "--postgres-port", $"{ports.Postgres}", "--redis-port", $"{ports.Redis}", .. extraArgs])
        {
            startInfo.ArgumentList.Add(arg);
        }
        var process = Process.Start(startInfo)!;
        var host = new AppHostProcess(process, dataDirectory, ports);
        process.OutputDataReceived += (_, e) => host.Append(e.Data);
        process.ErrorDataReceived += (_, e) => host.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    public IReadOnlyList<Resource> Resources()
    {
        var path = Path.Combine(DataDirectory, "run", "resources.json");
        if (!File.Exists(path))
        {
            return [];
        }
        return JsonSerializer.Deserialize<List<Resource>>(File.ReadAllText(path), JsonSerializerOptions.Web) ?? [];
    }

    public Resource Find(string name) => Resources().Single(r => r.Name == name);

    /// <summary>Waits for a condition on the AppHost's state; fails with the AppHost's output if it never holds.</summary>
    public async Task WaitUntilAsync(Func<AppHostProcess, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition(this))
        {
            if (_process.HasExited)
            {
                throw new Xunit.Sdk.XunitException($"AppHost exited ({_process.ExitCode}) while waiting for {what}.\n{Output}");
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"Timed out after {timeout} waiting for {what}.\n{Output}");
            }
            await Task.Delay(200);
        }
    }

    public async Task<int> StopAsync(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            NativeProcess.Signal(_process.Id, NativeProcess.SigTerm);
        }
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                await StopAsync(TimeSpan.FromSeconds(60));
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
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.Add(line);
        }
    }
}
