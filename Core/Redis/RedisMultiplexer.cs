using System.Buffers;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace AspireAi.Core.Redis;

/// <summary>
/// The one command connection shared by all callers. Callers enqueue encoded commands; a single writer loop drains
/// the queue and writes whatever has accumulated back-to-back before flushing (pipelining); a single reader loop
/// parses replies and hands each to the oldest in-flight command. A sweep enforces per-command deadlines.
/// </summary>
internal sealed class RedisMultiplexer : ReconnectingConnection
{
    private const int BatchSize = 256;
    private const int FlushThresholdBytes = 64 * 1024;

    private readonly Lock _outboundLock = new();
    private readonly Queue<PendingCommand> _outbound = new();
    // Capacity one, extra signals dropped: a wake-up for the writer, however many commands arrived meanwhile.
    private readonly Channel<bool> _writeSignal = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly Task _sweeper;
    private volatile InFlightQueue? _inFlight;
    private volatile RedisAuthenticationException? _authFailure;
    private bool _disposed;

    public RedisMultiplexer(RedisOptions options, ILogger logger)
        : base(options, logger, "command", selectDatabase: true)
    {
        _sweeper = Task.Run(SweepLoopAsync);
        Start();
    }

    /// <summary>Queues an encoded command; the payload buffer is owned by the multiplexer from here on.</summary>
    public PendingCommand Enqueue(string name, byte[] payload, int length, CancellationToken cancellationToken)
    {
        PendingCommand command;
        lock (_outboundLock)
        {
            var authFailure = _authFailure;
            if (_disposed || authFailure is not null || cancellationToken.IsCancellationRequested)
            {
                RespEncoder.Return(payload);
                ObjectDisposedException.ThrowIf(_disposed, typeof(RedisClient));
                cancellationToken.ThrowIfCancellationRequested();
                // Until the credentials are fixed every attempt fails the same way: say so at once instead of
                // letting each caller wait out its timeout.
                throw new RedisAuthenticationException(authFailure!.Message, authFailure);
            }
            // Taking the deadline under the lock keeps the queue (and so the in-flight queue) in deadline order,
            // which lets the sweep stop at the first command that is not yet due.
            command = new PendingCommand(name, payload, length, DeadlineFromNow(Options.CommandTimeout));
            _outbound.Enqueue(command);
        }
        _writeSignal.Writer.TryWrite(true);
        if (cancellationToken.CanBeCanceled)
        {
            command.Cancellation = cancellationToken.UnsafeRegister(
                static (state, token) => ((PendingCommand)state!).TrySetCanceled(token), command);
        }
        return command;
    }

    public override async ValueTask DisposeAsync()
    {
        lock (_outboundLock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
        }
        await StopAsync(alsoWaitFor: _sweeper).ConfigureAwait(false);
        FailOutbound(command => new RedisConnectionException($"The Redis client was disposed before {command.Name} was sent; it was not executed."));
    }

    protected override async Task<(Exception Reason, int CommandsLost)> RunConnectedAsync(RedisTransport transport, CancellationToken lifetime)
    {
        _authFailure = null;
        var inFlight = new InFlightQueue(transport.EndPointText);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(lifetime);
        _inFlight = inFlight;
        // Commands queued while disconnected go out first, now that AUTH and SELECT have completed.
        _writeSignal.Writer.TryWrite(true);
        var writer = WriteLoopAsync(transport, inFlight, stop.Token);
        var reader = ReadLoopAsync(transport, inFlight, stop.Token);
        var first = await Task.WhenAny(writer, reader).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        // The loop that failed first carries the reason; the other one only noticed the cancellation.
        await Task.WhenAll(writer, reader).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var reason = first.Exception?.GetBaseException() ?? new IOException("The connection was closed.");
        var lost = inFlight.Close(reason, disposing: lifetime.IsCancellationRequested);
        _inFlight = null;
        return (reason, lost);
    }

    protected override void OnConnectFailed(Exception error)
    {
        if (error is RedisAuthenticationException auth)
        {
            _authFailure = auth;
            FailOutbound(_ => new RedisAuthenticationException(auth.Message, auth));
        }
    }

    private async Task WriteLoopAsync(RedisTransport transport, InFlightQueue inFlight, CancellationToken cancellationToken)
    {
        var output = transport.Output;
        var batch = new List<PendingCommand>(BatchSize);
        try
        {
            while (true)
            {
                var unflushed = 0;
                while (true)
                {
                    lock (_outboundLock)
                    {
                        while (batch.Count < BatchSize && _outbound.TryDequeue(out var next))
                        {
                            batch.Add(next);
                        }
                    }
                    if (batch.Count == 0)
                    {
                        break;
                    }
                    // In-flight before on the wire: a fast reply must find its command already waiting.
                    if (!inFlight.TryAdd(batch))
                    {
                        return;
                    }
                    foreach (var command in batch)
                    {
                        if (command.Sent)
                        {
                            output.Write(command.Payload);
                            unflushed += command.Payload.Length;
                        }
                        command.ReleasePayload();
                    }
                    batch.Clear();
                    if (unflushed >= FlushThresholdBytes)
                    {
                        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
                        unflushed = 0;
                    }
                }
                if (unflushed > 0)
                {
                    await output.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
                await _writeSignal.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            foreach (var command in batch)
            {
                command.ReleasePayload();
            }
        }
    }

    private static async Task ReadLoopAsync(RedisTransport transport, InFlightQueue inFlight, CancellationToken cancellationToken)
    {
        var input = transport.Input;
        while (true)
        {
            var read = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = read.Buffer;
            try
            {
                while (RespParser.TryRead(ref buffer, out var reply))
                {
                    inFlight.Complete(reply);
                }
            }
            finally
            {
                input.AdvanceTo(buffer.Start, buffer.End);
            }
            if (read.IsCompleted)
            {
                throw new IOException("The server closed the connection.");
            }
        }
    }

    private async Task SweepLoopAsync()
    {
        // Deadlines are enforced by one periodic sweep rather than a timer per command; the price is up to one
        // tick of lateness, so the tick is a small fraction of the timeout.
        var tick = TimeSpan.FromMilliseconds(Math.Clamp(Options.CommandTimeout.TotalMilliseconds / 20, 5, 100));
        using var timer = new PeriodicTimer(tick);
        try
        {
            while (await timer.WaitForNextTickAsync(Lifetime).ConfigureAwait(false))
            {
                Sweep();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Sweep()
    {
        var now = Stopwatch.GetTimestamp();
        List<PendingCommand>? expired = null;
        lock (_outboundLock)
        {
            // The outbound queue is in deadline order too: only its head can be overdue before the rest.
            while (_outbound.TryPeek(out var head) && (head.IsCompleted || head.Deadline <= now))
            {
                (expired ??= []).Add(_outbound.Dequeue());
            }
        }
        if (expired is not null)
        {
            var connected = IsConnected;
            foreach (var command in expired)
            {
                if (!command.IsCompleted)
                {
                    command.TrySetException(connected ? QueuedTooLong(command) : NoConnection(command));
                }
                command.ReleasePayload();
            }
        }
        _inFlight?.ExpireOverdue(now);
    }

    private RedisTimeoutException QueuedTooLong(PendingCommand command) =>
        new($"Redis command {command.Name} timed out after {(long)Options.CommandTimeout.TotalMilliseconds} ms before it could be sent " +
            "(the connection is saturated); it was not executed.");

    private RedisConnectionException NoConnection(PendingCommand command)
    {
        var last = LastConnectError;
        var endpoints = string.Join(", ", Options.Endpoints.Select(RedisOptions.FormatEndpoint));
        return new RedisConnectionException(
            $"No connection to Redis ({endpoints}) became available within {(long)Options.CommandTimeout.TotalMilliseconds} ms, " +
            $"so {command.Name} was not sent and was not executed.{(last is null ? "" : " Last error: " + last.Message)}", last);
    }

    private void FailOutbound(Func<PendingCommand, Exception> error)
    {
        List<PendingCommand> failed;
        lock (_outboundLock)
        {
            failed = [.. _outbound];
            _outbound.Clear();
        }
        foreach (var command in failed)
        {
            command.TrySetException(error(command));
            command.ReleasePayload();
        }
    }
}
