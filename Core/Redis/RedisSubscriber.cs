using System.Buffers;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace AspireAi.Core.Redis;

/// <summary>
/// The pub/sub connection. A RESP2 connection in subscribed mode can run nothing but (UN)SUBSCRIBE and PING, so
/// it is separate from the command connection. After every reconnect it subscribes to all channels again.
/// </summary>
internal sealed class RedisSubscriber : ReconnectingConnection
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, RedisSubscription[]> _channels = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TaskCompletionSource> _confirmations = new(StringComparer.Ordinal);
    // SUBSCRIBE/UNSUBSCRIBE requests are queued under _gate, so they reach the server in the order the
    // subscription table changed, and one writer loop per connection sends them.
    private readonly Channel<(string Command, string[] Channels)> _requests = Channel.CreateUnbounded<(string, string[])>(
        new UnboundedChannelOptions { SingleReader = true });
    // Handlers run on their own loop: a handler that awaits another Redis call must not stall the reader.
    private readonly Channel<(string Channel, string Message)> _messages = Channel.CreateUnbounded<(string, string)>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly Task _dispatcher;
    private bool _disposed;

    public RedisSubscriber(RedisOptions options, ILogger logger)
        : base(options, logger, "subscriber", selectDatabase: false)
    {
        _dispatcher = Task.Run(DispatchLoopAsync);
        Start();
    }

    public async Task<IAsyncDisposable> SubscribeAsync(string channel, Action<string, string> handler, CancellationToken cancellationToken)
    {
        var subscription = new RedisSubscription(this, channel, handler);
        TaskCompletionSource? confirmation;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, typeof(RedisClient));
            if (_channels.TryGetValue(channel, out var existing))
            {
                _channels[channel] = [.. existing, subscription];
                // Already subscribed: return at once, unless the first SUBSCRIBE is still unconfirmed.
                _confirmations.TryGetValue(channel, out confirmation);
            }
            else
            {
                _channels[channel] = [subscription];
                confirmation = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _confirmations[channel] = confirmation;
                _requests.Writer.TryWrite(("SUBSCRIBE", [channel]));
            }
        }
        if (confirmation is null)
        {
            return subscription;
        }
        try
        {
            await confirmation.Task.WaitAsync(Options.CommandTimeout, cancellationToken).ConfigureAwait(false);
            return subscription;
        }
        catch (TimeoutException ex)
        {
            await subscription.DisposeAsync().ConfigureAwait(false);
            throw IsConnected
                ? new RedisTimeoutException($"Redis did not confirm the subscription within {(long)Options.CommandTimeout.TotalMilliseconds} ms.", ex)
                : new RedisConnectionException(
                    $"No subscriber connection to Redis became available within {(long)Options.CommandTimeout.TotalMilliseconds} ms.{(LastConnectError is { } last ? " Last error: " + last.Message : "")}",
                    LastConnectError);
        }
        catch
        {
            await subscription.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    internal void Unsubscribe(RedisSubscription subscription)
    {
        lock (_gate)
        {
            if (!_channels.TryGetValue(subscription.Channel, out var existing))
            {
                return;
            }
            var remaining = existing.Where(s => s != subscription).ToArray();
            if (remaining.Length > 0)
            {
                _channels[subscription.Channel] = remaining;
                return;
            }
            _channels.Remove(subscription.Channel);
            _confirmations.Remove(subscription.Channel);
            if (!_disposed)
            {
                _requests.Writer.TryWrite(("UNSUBSCRIBE", [subscription.Channel]));
            }
        }
    }

    public override async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
        }
        await StopAsync(alsoWaitFor: Task.CompletedTask).ConfigureAwait(false);
        TaskCompletionSource[] unconfirmed;
        lock (_gate)
        {
            unconfirmed = [.. _confirmations.Values];
            _confirmations.Clear();
        }
        foreach (var confirmation in unconfirmed)
        {
            confirmation.TrySetException(new ObjectDisposedException(nameof(RedisClient)));
        }
        _messages.Writer.TryComplete();
        await _dispatcher.ConfigureAwait(false);
    }

    protected override async Task<(Exception Reason, int CommandsLost)> RunConnectedAsync(RedisTransport transport, CancellationToken lifetime)
    {
        lock (_gate)
        {
            // Whatever was queued for the previous connection is superseded by one SUBSCRIBE for the whole table.
            while (_requests.Reader.TryRead(out _))
            {
            }
            if (_channels.Count > 0)
            {
                _requests.Writer.TryWrite(("SUBSCRIBE", [.. _channels.Keys]));
            }
        }
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(lifetime);
        var writer = WriteLoopAsync(transport, stop.Token);
        var reader = ReadLoopAsync(transport, stop.Token);
        var first = await Task.WhenAny(writer, reader).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(writer, reader).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return (first.Exception?.GetBaseException() ?? new IOException("The connection was closed."), 0);
    }

    private async Task WriteLoopAsync(RedisTransport transport, CancellationToken cancellationToken)
    {
        while (true)
        {
            var (command, channels) = await _requests.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = RespEncoder.Encode(command, channels, out var length);
            try
            {
                transport.Output.Write(buffer.AsSpan(0, length));
            }
            finally
            {
                RespEncoder.Return(buffer);
            }
            if (!_requests.Reader.TryPeek(out _))
            {
                await transport.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task ReadLoopAsync(RedisTransport transport, CancellationToken cancellationToken)
    {
        var input = transport.Input;
        while (true)
        {
            var read = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = read.Buffer;
            try
            {
                while (RespParser.TryRead(ref buffer, out var frame))
                {
                    Handle(frame);
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

    private void Handle(RedisResult frame)
    {
        if (frame.Type == RedisResultType.Error)
        {
            Logger.SubscriberError(frame.ErrorMessage!);
            return;
        }
        // Only message and subscribe frames matter; unsubscribe confirmations need no action because the table
        // was updated when the request was queued.
        if (frame.Type != RedisResultType.Array || frame.AsArray() is not [var kind, var channel, var payload])
        {
            return;
        }
        var kindBytes = kind.AsBytes();
        if (kindBytes.AsSpan().SequenceEqual("message"u8))
        {
            _messages.Writer.TryWrite((channel.AsString()!, payload.AsString() ?? ""));
        }
        else if (kindBytes.AsSpan().SequenceEqual("subscribe"u8))
        {
            lock (_gate)
            {
                if (_confirmations.Remove(channel.AsString()!, out var confirmation))
                {
                    confirmation.TrySetResult();
                }
            }
        }
    }

    private async Task DispatchLoopAsync()
    {
        await foreach (var (channel, message) in _messages.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            RedisSubscription[]? handlers;
            lock (_gate)
            {
                _channels.TryGetValue(channel, out handlers);
            }
            foreach (var subscription in handlers ?? [])
            {
                try
                {
                    subscription.Handler(channel, message);
                }
#pragma warning disable CA1031 // A faulty handler must not end delivery for every other subscriber.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    Logger.HandlerFailed(channel, ex);
                }
            }
        }
    }
}
