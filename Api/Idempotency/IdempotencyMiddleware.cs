using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using AspireAi.Core.Idempotency;
using AspireAi.Core.Identity;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace AspireAi.Api.Idempotency;

/// <summary>Endpoint metadata: its POSTs honour the Idempotency-Key header.</summary>
public sealed class IdempotentMetadata
{
    public static readonly IdempotentMetadata Instance = new();
}

/// <summary>
/// <c>Idempotency-Key</c> on POSTs that create or act. The first request with a key runs and its response is stored
/// per (user, key); the same request again gets that response byte for byte with <c>Idempotent-Replayed: true</c>
/// (a chat message is not sent to the provider nor charged twice); another request with the key gets a 422, and a
/// retry while the first still runs a 409 with <c>Retry-After</c>. Only answers worth repeating are stored: server
/// errors, 408/409/429 and cancelled requests release the key so a retry runs again.
/// </summary>
internal sealed partial class IdempotencyMiddleware(RequestDelegate next, IdempotencyStore store, IOptions<IdempotencyOptions> options,
    ILogger<IdempotencyMiddleware> logger)
{
    public const string KeyHeader = "Idempotency-Key";
    private static readonly object DoNotStoreItem = new();
    public const string ReplayedHeader = "Idempotent-Replayed";
    private const int MaxKeyLength = 255;

    // The headers that describe a stored response; the rest (dates, rate limits, trace ids) belong to each answer.
    private static readonly string[] StoredHeaders = [HeaderNames.ContentType, HeaderNames.Location, HeaderNames.CacheControl];

    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (!HttpMethods.IsPost(request.Method)
            || context.GetEndpoint()?.Metadata.GetMetadata<IdempotentMetadata>() is null
            || !request.Headers.TryGetValue(KeyHeader, out var values)
            || context.User.FindFirst(AspireAiClaims.UserId)?.Value is not { } sub
            || !Guid.TryParse(sub, out var userId))
        {
            await next(context);
            return;
        }

        var key = values.ToString();
        if (values.Count != 1 || key.Length is 0 or > MaxKeyLength || key.Any(c => c is < '!' or > '~'))
        {
            await TypedResults.Problem(
                title: "Invalid Idempotency-Key",
                detail: $"Send one Idempotency-Key of 1 to {MaxKeyLength} visible ASCII characters, for example a UUID.",
                statusCode: StatusCodes.Status400BadRequest).ExecuteAsync(context);
            return;
        }

        var hash = await HashAsync(context);
        switch (await store.ClaimAsync(userId, key, hash, context.RequestAborted))
        {
            case IdempotencyClaim.Completed completed:
                await ReplayAsync(context, completed.Response);
                return;
            case IdempotencyClaim.Mismatch:
                await TypedResults.Problem(
                    title: "Idempotency-Key reused",
                    detail: "This Idempotency-Key was already used for a different request (method, path, body or response format). Use a new key for a new request.",
                    statusCode: StatusCodes.Status422UnprocessableEntity).ExecuteAsync(context);
                return;
            case IdempotencyClaim.InFlight inFlight:
                // Check back soon rather than after the whole lease: the first request usually ends in seconds.
                var retry = Math.Clamp((int)Math.Ceiling(inFlight.RetryAfter.TotalSeconds), 1, 5);
                context.Response.Headers.RetryAfter = retry.ToString(CultureInfo.InvariantCulture);
                await TypedResults.Problem(
                    title: "Request in progress",
                    detail: $"A request with this Idempotency-Key is still running. Retry in {retry} s to get its response.",
                    statusCode: StatusCodes.Status409Conflict).ExecuteAsync(context);
                return;
        }

        await RunAndStoreAsync(context, userId, key);
    }

    /// <summary>
    /// For a response whose status went out before it failed (a stream ending in a server-side error event): do not
    /// store it, so a retry with the same key runs again instead of replaying the failure.
    /// </summary>
    public static void DoNotStore(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Items[DoNotStoreItem] = true;
    }

    private async Task RunAndStoreAsync(HttpContext context, Guid userId, string key)
    {
        var response = context.Response;
        var original = response.Body;
        await using var capture = new CapturingStream(original, options.Value.MaxStoredResponseBytes);
        response.Body = capture;
        var stored = false;
        try
        {
            await next(context);
            if (IsWorthStoring(response.StatusCode) && !context.RequestAborted.IsCancellationRequested && !capture.Overflowed
                && !context.Items.ContainsKey(DoNotStoreItem))
            {
                var headers = StoredHeaders.Where(h => response.Headers.ContainsKey(h))
                    .ToDictionary(h => h, h => response.Headers[h].ToString(), StringComparer.OrdinalIgnoreCase);
                // Not the request's token: a client that hangs up after the answer must not lose the stored copy.
                await store.CompleteAsync(userId, key, new StoredResponse(response.StatusCode, headers, capture.Captured), CancellationToken.None);
                stored = true;
            }
        }
        finally
        {
            response.Body = original;
            if (!stored)
            {
                await ReleaseAsync(userId, key);
            }
        }
    }

    private async Task ReleaseAsync(Guid userId, string key)
    {
        try
        {
            await store.ReleaseAsync(userId, key, CancellationToken.None);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException)
        {
            // The lease runs out by itself: a retry after it runs the request again.
            LogReleaseFailed(ex);
        }
    }

    private static bool IsWorthStoring(int status) =>
        status < 500 && status is not (StatusCodes.Status408RequestTimeout or StatusCodes.Status409Conflict or StatusCodes.Status429TooManyRequests);

    private static async Task ReplayAsync(HttpContext context, StoredResponse stored)
    {
        var response = context.Response;
        response.StatusCode = stored.Status;
        foreach (var (name, value) in stored.Headers)
        {
            response.Headers[name] = value;
        }
        response.Headers[ReplayedHeader] = "true";
        response.ContentLength = stored.Body.Length;
        await response.Body.WriteAsync(stored.Body, context.RequestAborted);
    }

    /// <summary>
    /// SHA-256 of what makes two requests the same: method, path and query, whether the answer is a stream (a replay
    /// must come back in the format asked for), content type and body. The body is buffered so the endpoint reads it again.
    /// </summary>
    private static async Task<byte[]> HashAsync(HttpContext context)
    {
        var request = context.Request;
        request.EnableBuffering();
        var stream = request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals("text/event-stream", StringComparison.OrdinalIgnoreCase));
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{request.Method}\n{request.Path}{request.QueryString}\n{(stream ? "stream" : "json")}\n{request.ContentType}\n"));
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
        {
            hash.AppendData(buffer, 0, read);
        }
        request.Body.Position = 0;
        return hash.GetHashAndReset();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not release an idempotency key; it becomes claimable when its lease runs out")]
    private partial void LogReleaseFailed(Exception error);

    /// <summary>Writes through to the response and keeps a copy, up to a limit.</summary>
    private sealed class CapturingStream(Stream inner, int limit) : Stream
    {
        private readonly MemoryStream _copy = new();

        public bool Overflowed { get; private set; }

        public byte[] Captured => _copy.ToArray();

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            Keep(buffer.AsSpan(offset, count));
            inner.Write(buffer, offset, count);
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Keep(buffer.Span);
            await inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private void Keep(ReadOnlySpan<byte> data)
        {
            if (Overflowed)
            {
                return;
            }
            if (_copy.Length + data.Length > limit)
            {
                Overflowed = true;
                _copy.SetLength(0);
                return;
            }
            _copy.Write(data);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _copy.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
