using Microsoft.Extensions.Logging;

namespace AspireAi.Core.Llm.Pipeline;

/// <summary>
/// The loggers handed to Microsoft.Extensions.AI's pipeline steps. Their logging steps (chat, embeddings, function
/// invocation) write prompts, answers, embedding inputs and tool arguments only at Trace, and whether they do is
/// decided by the log level alone; without <see cref="LlmOptions.CaptureContent"/> Trace never reaches them, so
/// turning a category up to Trace cannot put user content into the logs. Debug and above pass unchanged.
/// </summary>
internal sealed class ContentGatedLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    public static ILoggerFactory Create(ILoggerFactory loggers, bool captureContent) =>
        captureContent ? loggers : new ContentGatedLoggerFactory(loggers);

    public ILogger CreateLogger(string categoryName) => new TraceFreeLogger(inner.CreateLogger(categoryName));

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    // The factory belongs to the container; this wrapper owns nothing.
    public void Dispose()
    {
    }

    private sealed class TraceFreeLogger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel > LogLevel.Trace && inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel > LogLevel.Trace)
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
