using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Core.Memory;

/// <summary>
/// Writes the uses of injected memories (last_accessed_at, access_count) after the turn instead of before its first
/// token: the write was the last round trip before the model call (~0.6 ms of one stream's ~10 ms added), and under
/// load the uses of many turns go out in one statement instead of a transaction each. Used only with a
/// <see cref="MemoryOptions.AccessRecordInterval"/> above zero, which already counts a memory's uses at most once per
/// interval; merging the same memory's uses from turns a few milliseconds apart counts no fewer. The writer starts with
/// the first use and drains the queue when the host disposes it; a use still queued when the process dies is lost: it is
/// bookkeeping for ranking, not data.
/// </summary>
public sealed partial class MemoryAccessRecorder(MemoryStore store, IOptions<MemoryOptions> options, ILogger<MemoryAccessRecorder> logger)
    : IAsyncDisposable, IDisposable
{
    // Bounded: if Postgres stalls, uses are dropped rather than piling up in memory.
    private const int Capacity = 10_000;
    private const int MaxIdsPerWrite = 1_000;
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private readonly Channel<Guid[]> _uses = Channel.CreateBounded<Guid[]>(new BoundedChannelOptions(Capacity)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });
    private readonly Lock _start = new();
    private Task? _writer;

    /// <summary>Queues the uses of <paramref name="ids"/>; never waits.</summary>
    public void Record(IReadOnlyCollection<Guid> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0)
        {
            return;
        }
        if (Volatile.Read(ref _writer) is null)
        {
            lock (_start)
            {
                _writer ??= Task.Run(WriteLoopAsync);
            }
        }
        if (!_uses.Writer.TryWrite([.. ids]))
        {
            LogDropped(ids.Count);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _uses.Writer.TryComplete();
        Task? writer;
        lock (_start)
        {
            writer = _writer;
        }
        if (writer is not null)
        {
            await writer.WaitAsync(DrainTimeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    // For a container disposed synchronously: the same drain, waited for.
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private async Task WriteLoopAsync()
    {
        var pending = new HashSet<Guid>();
        while (await _uses.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (_uses.Reader.TryRead(out var ids))
            {
                pending.UnionWith(ids);
                if (pending.Count >= MaxIdsPerWrite)
                {
                    await WriteAsync(pending).ConfigureAwait(false);
                }
            }
            await WriteAsync(pending).ConfigureAwait(false);
        }
    }

    private async Task WriteAsync(HashSet<Guid> pending)
    {
        if (pending.Count == 0)
        {
            return;
        }
        try
        {
            using var timeout = new CancellationTokenSource(DrainTimeout);
            await store.MarkAccessedAsync(pending, options.Value.AccessRecordInterval, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException or InvalidOperationException)
        {
            LogWriteFailed(ex, pending.Count);
        }
        pending.Clear();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dropped the uses of {Count} memories: the access-record queue is full")]
    private partial void LogDropped(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record the uses of {Count} memories; they are dropped")]
    private partial void LogWriteFailed(Exception exception, int count);
}
