using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace AspireAi.LocalServers;

public sealed record RedisServerOptions
{
    public required string DataDirectory { get; init; }
    public required string Password { get; init; }
    public int Port { get; init; } = 56379;

    /// <summary>False for throw-away test servers: the append-only file is still written but never fsynced.</summary>
    public bool Durable { get; init; } = true;

    public string Executable { get; init; } = "redis-server";
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>Runs redis-server as a foreground child process with AOF persistence in its own directory.</summary>
/// <remarks>SIGTERM makes redis flush the AOF and exit cleanly.</remarks>
public sealed class RedisServer(RedisServerOptions options, Action<string>? onOutput = null)
    : ForegroundServer(NativeProcess.SigTerm, TimeSpan.FromSeconds(15))
{
    public RedisServerOptions Options => options;

    /// <summary>StackExchange.Redis-style configuration string, the format Aspire hands to services.</summary>
    public string ConnectionString => $"127.0.0.1:{options.Port},password={options.Password}";

    public override async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (IsRunning)
        {
            return;
        }
        var dataDir = Path.GetFullPath(options.DataDirectory);
        Directory.CreateDirectory(dataDir);
        await StopStaleServerAsync(dataDir).ConfigureAwait(false);

        string[] args =
        [
            "--port", options.Port.ToString(CultureInfo.InvariantCulture),
            "--bind", "127.0.0.1",
            "--dir", dataDir,
            "--pidfile", Path.Combine(dataDir, "redis.pid"),
            "--daemonize", "no",
            "--appendonly", "yes",
            "--appendfsync", options.Durable ? "everysec" : "no",
            // AOF is the persistence; RDB snapshots would only duplicate it.
            "--save", "",
            "--requirepass", options.Password,
            "--loglevel", "warning",
        ];
        Process = ChildProcess.Start(new ChildProcessSpec(options.Executable, args) { WorkingDirectory = dataDir },
            line => onOutput?.Invoke(line));
        // PING every 50 ms: a fresh server answers within a few hundred.
        await WaitUntilReadyAsync($"redis-server on port {options.Port}", options.StartTimeout, TimeSpan.FromMilliseconds(50),
            PingAsync, cancellationToken).ConfigureAwait(false);
    }

    private static async Task StopStaleServerAsync(string dataDir)
    {
        var pidFile = Path.Combine(dataDir, "redis.pid");
        if (File.Exists(pidFile)
            && int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid)
            && NativeProcess.IsAlive(pid)
            && File.ReadAllText($"/proc/{pid}/cmdline").Contains("redis-server", StringComparison.Ordinal))
        {
            NativeProcess.Signal(pid, NativeProcess.SigTerm);
            await NativeProcess.WaitForExitAsync(pid, TimeSpan.FromSeconds(15)).ConfigureAwait(false);
        }
    }

    /// <summary>AUTH + PING over a raw socket: readiness must not depend on the client library under test.
    /// While redis replays its AOF it answers -LOADING, which counts as not ready.</summary>
    private async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var client = new TcpClient();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            await client.ConnectAsync("127.0.0.1", options.Port, timeout.Token).ConfigureAwait(false);
            var stream = client.GetStream();
            var pw = Encoding.UTF8.GetBytes(options.Password);
            var request = Encoding.UTF8.GetBytes($"*2\r\n$4\r\nAUTH\r\n${pw.Length}\r\n{options.Password}\r\n*1\r\n$4\r\nPING\r\n");
            await stream.WriteAsync(request, timeout.Token).ConfigureAwait(false);
            var buffer = new byte[256];
            var text = new StringBuilder();
            while (!text.ToString().Contains("PONG", StringComparison.Ordinal))
            {
                var read = await stream.ReadAsync(buffer, timeout.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return false;
                }
                text.Append(Encoding.UTF8.GetString(buffer, 0, read));
                if (text.ToString().Contains("-LOADING", StringComparison.Ordinal) || text.ToString().Contains("-ERR", StringComparison.Ordinal) || text.ToString().Contains("-WRONGPASS", StringComparison.Ordinal))
                {
                    return false;
                }
            }
            return true;
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
        {
            return cancellationToken.IsCancellationRequested ? throw new OperationCanceledException(cancellationToken) : false;
        }
    }
}
