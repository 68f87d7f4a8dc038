using Microsoft.Extensions.Logging;

namespace AspireAi.Tests.Infrastructure;

/// <summary>Keeps every formatted log message and every logged exception, to assert what a component logs.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly List<(string Category, LogLevel Level, string Message)> _entries = [];
    private readonly List<Exception> _exceptions = [];

    public IReadOnlyList<(string Category, LogLevel Level, string Message)> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    /// <summary>The exceptions logged with the messages, in order.</summary>
    public IReadOnlyList<Exception> Exceptions
    {
        get
        {
            lock (_entries)
            {
                return [.. _exceptions];
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner._entries)
            {
                owner._entries.Add((category, logLevel, formatter(state, exception)));
                if (exception is not null)
                {
                    owner._exceptions.Add(exception);
                }
            }
        }
    }
}
