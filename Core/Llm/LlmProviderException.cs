namespace AspireAi.Core.Llm;

/// <summary>
/// The model server refused or failed a request after the HTTP resilience handler gave up (e.g. 429 or 5xx once
/// its retries are spent, 400 for a request it will never accept).
/// </summary>
public sealed class LlmProviderException : Exception
{
    /// <summary>Creates the exception.</summary>
    public LlmProviderException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public LlmProviderException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public LlmProviderException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with the server's answer.</summary>
    public LlmProviderException(string message, int? statusCode, TimeSpan? retryAfter, Exception? innerException)
        : base(message, innerException)
    {
        StatusCode = statusCode;
        RetryAfter = retryAfter;
    }

    /// <summary>HTTP status of the last attempt; null when no response arrived.</summary>
    public int? StatusCode { get; }

    /// <summary>The server's Retry-After hint on the last attempt, if any.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>True for 408, 429 and 5xx: trying again later (or elsewhere) may succeed.</summary>
    public bool IsTransient => StatusCode is null or 408 or 429 or >= 500;
}
