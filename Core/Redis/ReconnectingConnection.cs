using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace AspireAi.Core.Redis;

/// <summary>
/// Keeps one logical connection alive for the life of the client: connect (with handshake), run until the
/// connection fails, then reconnect with exponential backoff and jitter, forever, in the background.
/// </summary>
internal abstract class ReconnectingConnection : IAsyncDisposable
{
    private readonly CancellationTokenSource _lifetime = new();
    private readonly CancellationToken _lifetimeToken;
    private readonly bool _selectDatabase;
    private Task _loop = Task.CompletedTask;
    private volatile Exception? _lastConnectError;
    private volatile RedisTransport? _transport;

    protected ReconnectingConnection(RedisOptions options, ILogger logger, string role, bool selectDatabase)
    {
        Options = options;
        Logger = logger;
        Role = role;
        _selectDatabase = selectDatabase;
        // Cached so loops that start late, or outlive StopAsync, never touch the disposed source.
        _lifetimeToken = _lifetime.Token;
    }

    protected RedisOptions Options { get; }
    protected ILogger Logger { get; }
    protected string Role { get; }
    protected CancellationToken Lifetime => _lifetimeToken;

    public bool IsConnected => _transport is not null;

    /// <summary>Why the most recent connect attempt failed; null once connected.</summary>
    public Exception? LastConnectError => _lastConnectError;

    /// <summary>The endpoint currently connected to, else the first configured one (for span tags).</summary>
    public System.Net.DnsEndPoint CurrentEndPoint => _transport?.EndPoint ?? Options.Endpoints[0];

    protected void Start() => _loop = Task.Run(RunAsync);

    public abstract ValueTask DisposeAsync();

    /// <summary>Runs one established connection until it ends: why, and how many commands it cut off.</summary>
    protected abstract Task<(Exception Reason, int CommandsLost)> RunConnectedAsync(RedisTransport transport, CancellationToken lifetime);

    protected virtual void OnConnectFailed(Exception error) { }

    /// <summary>Stops reconnecting, waits for the current connection to wind down, then <paramref name="alsoWaitFor"/>.</summary>
    protected async Task StopAsync(Task alsoWaitFor)
    {
        await _lifetime.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        await alsoWaitFor.ConfigureAwait(false);
        _lifetime.Dispose();
    }

    private async Task RunAsync()
    {
        var failures = 0;
        var everConnected = false;
        while (!Lifetime.IsCancellationRequested)
        {
            RedisTransport transport;
            try
            {
                transport = await RedisTransport.ConnectAsync(Options, _selectDatabase, Lifetime).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (Lifetime.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Anything else escaping here would end the loop and leave the client disconnected for good.
                var error = ex as RedisException ?? new RedisConnectionException($"Could not connect to Redis: {ex.Message}", ex);
                failures++;
                _lastConnectError = error;
                OnConnectFailed(error);
                var delay = Backoff(failures);
                Logger.ConnectFailed(Role, failures, (long)delay.TotalMilliseconds, error.Message);
                if (!await DelayAsync(delay).ConfigureAwait(false))
                {
                    return;
                }
                continue;
            }

            _lastConnectError = null;
            if (everConnected)
            {
                RedisTelemetry.Reconnects.Add(1, new KeyValuePair<string, object?>("redis.connection.role", Role));
                Logger.Reconnected(Role, transport.EndPointText, failures);
            }
            else
            {
                Logger.Connected(Role, transport.EndPointText);
            }
            everConnected = true;
            failures = 0;

            (Exception Reason, int CommandsLost) end;
            _transport = transport;
            try
            {
                end = await RunConnectedAsync(transport, Lifetime).ConfigureAwait(false);
            }
            finally
            {
                _transport = null;
                await transport.DisposeAsync().ConfigureAwait(false);
            }
            if (Lifetime.IsCancellationRequested)
            {
                return;
            }
            Logger.Disconnected(Role, transport.EndPointText, end.CommandsLost, end.Reason.Message);
            // A short pause even for the first retry keeps a server that accepts and then drops us from being hammered.
            if (!await DelayAsync(Backoff(1)).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    private TimeSpan Backoff(int failures)
    {
        var exponential = Options.ReconnectBackoffBase.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 16));
        var capped = Math.Min(exponential, Options.ReconnectBackoffMax.TotalMilliseconds);
        // Jitter in [50 %, 100 %] so many clients restarted together do not reconnect in lockstep.
        return TimeSpan.FromMilliseconds(capped * (0.5 + (Random.Shared.NextDouble() / 2)));
    }

    private async Task<bool> DelayAsync(TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, Lifetime).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    protected static long DeadlineFromNow(TimeSpan timeout) =>
        Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
}
