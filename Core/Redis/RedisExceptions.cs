namespace AspireAi.Core.Redis;

/// <summary>Base type of the errors raised by <see cref="IRedisClient"/>.</summary>
public class RedisException : Exception
{
    /// <summary>Creates the exception.</summary>
    public RedisException() { }

    /// <summary>Creates the exception with a message.</summary>
    public RedisException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the underlying cause.</summary>
    public RedisException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>
/// The command could not be completed because there was no usable connection: it was never sent (no connection
/// became available in time) or the connection dropped while it was in flight, in which case the message says the
/// server may or may not have executed it.
/// </summary>
public class RedisConnectionException : RedisException
{
    /// <summary>Creates the exception.</summary>
    public RedisConnectionException() { }

    /// <summary>Creates the exception with a message.</summary>
    public RedisConnectionException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the underlying cause.</summary>
    public RedisConnectionException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>The server rejected the configured credentials (or requires some and none are configured).</summary>
public sealed class RedisAuthenticationException : RedisConnectionException
{
    /// <summary>Creates the exception.</summary>
    public RedisAuthenticationException() { }

    /// <summary>Creates the exception with a message.</summary>
    public RedisAuthenticationException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the underlying cause.</summary>
    public RedisAuthenticationException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>The server answered the command with an error reply; <see cref="Exception.Message"/> is the server's text.</summary>
public sealed class RedisServerException : RedisException
{
    /// <summary>Creates the exception.</summary>
    public RedisServerException() { }

    /// <summary>Creates the exception with the server's error text.</summary>
    public RedisServerException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the underlying cause.</summary>
    public RedisServerException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>
/// No reply arrived within <see cref="RedisOptions.CommandTimeout"/>. Derives from <see cref="TimeoutException"/> so
/// generic resilience policies recognise it; the server may still execute the command.
/// </summary>
public sealed class RedisTimeoutException : TimeoutException
{
    /// <summary>Creates the exception.</summary>
    public RedisTimeoutException() { }

    /// <summary>Creates the exception with a message.</summary>
    public RedisTimeoutException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the underlying cause.</summary>
    public RedisTimeoutException(string message, Exception? innerException) : base(message, innerException) { }
}
