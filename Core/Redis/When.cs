namespace AspireAi.Core.Redis;

/// <summary>The condition under which <see cref="IRedisClient.StringSetAsync(string, string, TimeSpan?, When, CancellationToken)"/> writes.</summary>
public enum When
{
    /// <summary>Write unconditionally.</summary>
    Always,

    /// <summary>Write only if the key already exists (SET ... XX).</summary>
    Exists,

    /// <summary>Write only if the key does not exist (SET ... NX): the building block for locks and idempotency keys.</summary>
    NotExists,
}
