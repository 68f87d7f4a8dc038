namespace AspireAi.Core.Redis;

/// <summary>
/// A command between the caller and its reply. Its task completes exactly once, by whichever comes first: the
/// reply, the timeout sweep, cancellation or connection loss; a reply arriving later is then discarded.
/// </summary>
// Continuations run asynchronously so the reader loop never executes a caller's code inline: a slow or blocking
// caller would otherwise hold up every reply behind its own.
internal sealed class PendingCommand(string name, byte[] payload, int length, long deadline)
    : TaskCompletionSource<RedisResult>(TaskCreationOptions.RunContinuationsAsynchronously)
{
    private byte[]? _payload = payload;

    public string Name { get; } = name;

    /// <summary>Stopwatch timestamp after which the sweep fails the command.</summary>
    public long Deadline { get; } = deadline;

    /// <summary>Set by the writer once the command is in the in-flight queue, i.e. it will reach the server.</summary>
    public bool Sent { get; set; }

    public CancellationTokenRegistration Cancellation { get; set; }

    public bool IsCompleted => Task.IsCompleted;

    public ReadOnlySpan<byte> Payload => _payload.AsSpan(0, length);

    /// <summary>Hands the encoded bytes back to the pool; only the party that dequeued the command calls it.</summary>
    public void ReleasePayload()
    {
        if (_payload is { } buffer)
        {
            _payload = null;
            RespEncoder.Return(buffer);
        }
    }
}
