namespace AspireAi.Core.Redis;

/// <summary>The RESP2 reply kinds a <see cref="RedisResult"/> can hold.</summary>
public enum RedisResultType
{
    /// <summary>A null bulk string or null array.</summary>
    Null,

    /// <summary>A status reply such as <c>OK</c>.</summary>
    SimpleString,

    /// <summary>An error reply nested inside an array (a top-level error is thrown as <see cref="RedisServerException"/>).</summary>
    Error,

    /// <summary>A signed 64-bit integer.</summary>
    Integer,

    /// <summary>A binary-safe string.</summary>
    BulkString,

    /// <summary>An array of further results.</summary>
    Array,
}
