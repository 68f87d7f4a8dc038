namespace AspireAi.Core.Redis;

/// <summary>One handler on one channel; disposing it unsubscribes (the last handler's removal sends UNSUBSCRIBE).</summary>
internal sealed class RedisSubscription(RedisSubscriber owner, string channel, Action<string, string> handler) : IAsyncDisposable
{
    private int _disposed;

    public string Channel { get; } = channel;

    public Action<string, string> Handler { get; } = handler;

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            owner.Unsubscribe(this);
        }
        return ValueTask.CompletedTask;
    }
}
