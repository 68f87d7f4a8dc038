using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;

namespace AspireAi.Core.Redis;

/// <summary>One authenticated TCP (optionally TLS) connection to Redis, exposed as a pipe pair.</summary>
internal sealed class RedisTransport : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Stream _stream;

    private RedisTransport(DnsEndPoint endpoint, Socket socket, Stream stream)
    {
        EndPoint = endpoint;
        _socket = socket;
        _stream = stream;
        Input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        Output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
    }

    public DnsEndPoint EndPoint { get; }
    public string EndPointText => RedisOptions.FormatEndpoint(EndPoint);
    public PipeReader Input { get; }
    public PipeWriter Output { get; }

    /// <summary>
    /// Connects to the first endpoint that completes the handshake: AUTH, SELECT (when <paramref name="selectDatabase"/>),
    /// CLIENT SETNAME, then PING, which also surfaces NOAUTH and LOADING before any caller's command is sent.
    /// </summary>
    public static async Task<RedisTransport> ConnectAsync(RedisOptions options, bool selectDatabase, CancellationToken cancellationToken)
    {
        RedisConnectionException? last = null;
        foreach (var endpoint in options.Endpoints)
        {
            try
            {
                return await ConnectAsync(endpoint, options, selectDatabase, cancellationToken).ConfigureAwait(false);
            }
            catch (RedisAuthenticationException)
            {
                // Credentials are shared by all endpoints, so trying the next one would only hide the real problem.
                throw;
            }
            catch (RedisConnectionException ex)
            {
                last = ex;
            }
        }
        throw options.Endpoints.Count == 1
            ? last!
            : new RedisConnectionException($"None of the {options.Endpoints.Count} Redis endpoints accepted a connection. Last error: {last!.Message}", last);
    }

    private static async Task<RedisTransport> ConnectAsync(DnsEndPoint endpoint, RedisOptions options, bool selectDatabase, CancellationToken cancellationToken)
    {
        var name = RedisOptions.FormatEndpoint(endpoint);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        RedisTransport? transport = null;
        try
        {
            EnableKeepAlive(socket);
            await socket.ConnectAsync(endpoint, timeout.Token).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: false);
            if (options.Ssl)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                await ssl.AuthenticateAsClientAsync(
                    new SslClientAuthenticationOptions { TargetHost = options.SslHost ?? endpoint.Host }, timeout.Token).ConfigureAwait(false);
            }
            transport = new RedisTransport(endpoint, socket, stream);
            await transport.HandshakeAsync(options, selectDatabase, timeout.Token).ConfigureAwait(false);
            return transport;
        }
        catch (Exception ex)
        {
            await DisposeAsync(transport, stream, socket).ConfigureAwait(false);
            var wrap = ex is SocketException or IOException or AuthenticationException or InvalidDataException
                || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested);
            if (!wrap)
            {
                throw;
            }
            var reason = ex is OperationCanceledException ? $"timed out after {(long)options.ConnectTimeout.TotalMilliseconds} ms" : ex.Message;
            throw new RedisConnectionException($"Could not connect to Redis at {name}: {reason}", ex);
        }
    }

    private async Task HandshakeAsync(RedisOptions options, bool selectDatabase, CancellationToken cancellationToken)
    {
        var steps = new List<(string Name, byte[] Buffer, int Length, bool Secret)>(4);
        try
        {
            if (options.Password is { } password)
            {
                steps.Add(Encode("AUTH", options.User is { } user ? [user, password] : [password], secret: true));
            }
            if (selectDatabase && options.DefaultDatabase != 0)
            {
                steps.Add(Encode("SELECT", [options.DefaultDatabase]));
            }
            if (options.ClientName is { } clientName)
            {
                steps.Add(Encode("CLIENT", ["SETNAME", clientName]));
            }
            steps.Add(Encode("PING", []));
            foreach (var step in steps)
            {
                Output.Write(step.Buffer.AsSpan(0, step.Length));
            }
        }
        finally
        {
            foreach (var step in steps)
            {
                RespEncoder.Return(step.Buffer, clear: step.Secret);
            }
        }
        await Output.FlushAsync(cancellationToken).ConfigureAwait(false);
        foreach (var step in steps)
        {
            var reply = await ReadReplyAsync(cancellationToken).ConfigureAwait(false);
            if (reply.Type == RedisResultType.Error)
            {
                throw HandshakeError(step.Name, reply.ErrorMessage!);
            }
        }
    }

    private Exception HandshakeError(string step, string error)
    {
        var isAuthError = step == "AUTH"
            || error.StartsWith("NOAUTH", StringComparison.Ordinal)
            || error.StartsWith("WRONGPASS", StringComparison.Ordinal)
            || error.StartsWith("NOPERM", StringComparison.Ordinal);
        if (isAuthError)
        {
            return new RedisAuthenticationException($"Redis at {EndPointText} rejected the connection's credentials: {error}");
        }
        // LOADING (replaying the AOF after a restart) and similar are transient: the reconnect loop retries.
        return new RedisConnectionException($"Redis at {EndPointText} failed the connection handshake at {step}: {error}");
    }

    private async Task<RedisResult> ReadReplyAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var read = await Input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = read.Buffer;
            if (RespParser.TryRead(ref buffer, out var reply))
            {
                Input.AdvanceTo(buffer.Start);
                return reply;
            }
            Input.AdvanceTo(buffer.Start, buffer.End);
            if (read.IsCompleted)
            {
                throw new IOException("The server closed the connection during the handshake.");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Input.CompleteAsync().ConfigureAwait(false);
        try
        {
            await Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // Completing flushes what is buffered; on a dead socket there is nobody left to receive it.
        }
        await _stream.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
    }

    private static async ValueTask DisposeAsync(RedisTransport? transport, Stream? stream, Socket socket)
    {
        if (transport is not null)
        {
            await transport.DisposeAsync().ConfigureAwait(false);
        }
        else if (stream is not null)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
        socket.Dispose();
    }

    private static (string, byte[], int, bool) Encode(string command, ReadOnlySpan<object> args, bool secret = false)
    {
        var buffer = RespEncoder.Encode(command, args, out var length);
        return (command, buffer, length, secret);
    }

    private static void EnableKeepAlive(Socket socket)
    {
        // An idle subscriber connection would otherwise never notice a peer that vanished without a FIN or RST.
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 30);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 5);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, 3);
        }
        catch (SocketException)
        {
            // Not every platform lets the interval be tuned; the OS default keep-alive still applies.
        }
    }
}
