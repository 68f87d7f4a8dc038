using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AspireAi.Core.Redis;

/// <summary>
/// <see cref="IRedisClient"/> over one multiplexed, pipelined RESP2 command connection plus, from the first
/// subscription on, one pub/sub connection. Both reconnect by themselves. Register one instance per application.
/// </summary>
public sealed partial class RedisClient : IRedisClient, IDisposable
{
    // These would change the state of the connection every caller shares (or stop it answering in order).
    private static readonly FrozenSet<string> RefusedCommands = FrozenSet.Create(StringComparer.OrdinalIgnoreCase,
        "SELECT", "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH", "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE",
        "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE", "MONITOR", "QUIT", "RESET", "HELLO", "AUTH", "SYNC", "PSYNC");

    private const int MaxCachedScripts = 1_000;

    private readonly ILogger _logger;
    private readonly RedisOptions _options;
    private readonly RedisMultiplexer _multiplexer;
    private readonly ConcurrentDictionary<string, string> _scriptShas = new(StringComparer.Ordinal);
    private readonly Lock _subscriberLock = new();
    private RedisSubscriber? _subscriber;
    private bool _disposed;

    /// <summary>Creates the client and starts connecting in the background; the constructor never blocks on Redis.</summary>
    public RedisClient(RedisOptions options, ILogger<RedisClient>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options.Clone();
        _logger = logger ?? NullLogger<RedisClient>.Instance;
        _multiplexer = new RedisMultiplexer(_options, _logger);
    }

    /// <summary>Whether the command connection is currently established.</summary>
    public bool IsConnected => _multiplexer.IsConnected;

    /// <inheritdoc/>
    public async Task<RedisResult> ScriptEvaluateAsync(string script, string[]? keys = null, object[]? args = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(script);
        keys ??= [];
        args ??= [];
        if (!_scriptShas.TryGetValue(script, out var sha))
        {
            sha = Sha1Hex(script);
            // Scripts are meant to be constants with data in ARGV; the cap keeps a misuse from growing memory forever.
            if (_scriptShas.Count < MaxCachedScripts)
            {
                _scriptShas.TryAdd(script, sha);
            }
        }
        try
        {
            return await SendAsync("EVALSHA", ScriptArguments(sha, keys, args), cancellationToken).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            // NOSCRIPT means nothing ran, so EVAL (which also caches the script on the server) is safe to send.
            return await SendAsync("EVAL", ScriptArguments(script, keys, args), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async Task<IAsyncDisposable> SubscribeAsync(string channel, Action<string, string> handler, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        ArgumentNullException.ThrowIfNull(handler);
        RedisSubscriber subscriber;
        lock (_subscriberLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // Opened on first use: most services never subscribe and should not hold a second connection.
            subscriber = _subscriber ??= new RedisSubscriber(_options, _logger);
        }
        return await subscriber.SubscribeAsync(channel, handler, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<TimeSpan> PingAsync(CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        await SendAsync("PING", [], cancellationToken).ConfigureAwait(false);
        return Stopwatch.GetElapsedTime(started);
    }

    /// <inheritdoc/>
    public Task<RedisResult> ExecuteAsync(string command, params object[] args) => ExecuteAsync(command, args, CancellationToken.None);

    /// <inheritdoc/>
    public async Task<RedisResult> ExecuteAsync(string command, IReadOnlyList<object> args, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(command);
        ArgumentNullException.ThrowIfNull(args);
        if (command.Any(char.IsWhiteSpace))
        {
            throw new ArgumentException("Pass sub-commands as separate arguments: ExecuteAsync(\"CLIENT\", \"LIST\"), not ExecuteAsync(\"CLIENT LIST\").", nameof(command));
        }
        if (RefusedCommands.Contains(command)
            || (command.Equals("CLIENT", StringComparison.OrdinalIgnoreCase) && args is [string sub, ..] && sub.Equals("REPLY", StringComparison.OrdinalIgnoreCase)))
        {
            throw new ArgumentException($"{command.ToUpperInvariant()} would change the state of the shared connection and is not supported by ExecuteAsync.", nameof(command));
        }
        var array = args as object[] ?? [.. args];
        return await SendAsync(command, array, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops both connections; commands still pending fail with <see cref="RedisConnectionException"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        RedisSubscriber? subscriber;
        lock (_subscriberLock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            subscriber = _subscriber;
        }
        await _multiplexer.DisposeAsync().ConfigureAwait(false);
        if (subscriber is not null)
        {
            await subscriber.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Synchronous <see cref="DisposeAsync"/>, for containers and hosts disposed synchronously (a service that is
    /// only IAsyncDisposable makes their Dispose throw). Nothing awaited here needs the caller's context.
    /// </summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private Task<RedisResult> SendAsync(string command, ReadOnlySpan<object> args, CancellationToken cancellationToken)
    {
        var payload = RespEncoder.Encode(command, args, out var length);
        return SendEncodedAsync(command, payload, length, cancellationToken);
    }

    // Encoding happens in the synchronous SendAsync (a span cannot cross an await); the span covers queueing, the
    // wait for a connection and the round trip, which is what a caller experiences.
    private async Task<RedisResult> SendEncodedAsync(string command, byte[] payload, int length, CancellationToken cancellationToken)
    {
        using var activity = RedisTelemetry.StartCommand(command, _multiplexer.CurrentEndPoint);
        var started = Stopwatch.GetTimestamp();
        PendingCommand? pending = null;
        try
        {
            pending = _multiplexer.Enqueue(command, payload, length, cancellationToken);
            var reply = await pending.Task.ConfigureAwait(false);
            RedisTelemetry.RecordCommand(command, started, activity, error: null);
            return reply;
        }
        catch (Exception ex)
        {
            RedisTelemetry.RecordCommand(command, started, activity, ex);
            throw;
        }
        finally
        {
            pending?.Cancellation.Dispose();
        }
    }

    private static object[] ScriptArguments(string scriptOrSha, string[] keys, object[] args)
    {
        var all = new object[2 + keys.Length + args.Length];
        all[0] = scriptOrSha;
        all[1] = keys.Length;
        keys.CopyTo(all, 2);
        args.CopyTo(all, 2 + keys.Length);
        return all;
    }

#pragma warning disable CA5350 // Redis identifies scripts by SHA1; this is an identifier, not a security use.
    private static string Sha1Hex(string script) => Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(script)));
#pragma warning restore CA5350
}
