using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AspireAi.Tests.Web;

public sealed class WebOptionsTests
{
    [Theory]
    [InlineData("Web:ConversationPageSize", "0")]
    [InlineData("Web:MessagePageSize", "1000")]
    [InlineData("Web:SessionLifetime", "00:00:01")]
    public async Task Invalid_settings_stop_the_app_at_start(string key, string value)
    {
        var logs = new FailureLog();
        await using var factory = new WebAppFactory(new Uri("http://127.0.0.1:9"), new Dictionary<string, string?> { [key] = value }, logs);

        var error = Record.Exception(() => factory.Start());

        // The host's failure as thrown; or, when WebApplicationFactory reads the failed host's services after the host
        // has already disposed them (an ObjectDisposedException, seen under the whole suite's load), as the host logged it.
        Assert.NotNull(error);
        var validation = error as OptionsValidationException ?? logs.Exceptions.OfType<OptionsValidationException>().FirstOrDefault();
        Assert.True(validation is not null, error.ToString());
        Assert.Contains(key.Split(':')[1], validation.Message, StringComparison.Ordinal);
    }

    /// <summary>The exceptions the app logs.</summary>
    private sealed class FailureLog : ILoggerProvider, ILogger
    {
        private readonly List<Exception> _exceptions = [];

        public IReadOnlyList<Exception> Exceptions
        {
            get
            {
                lock (_exceptions)
                {
                    return [.. _exceptions];
                }
            }
        }

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (exception is not null)
            {
                lock (_exceptions)
                {
                    _exceptions.Add(exception);
                }
            }
        }

        public void Dispose()
        {
        }
    }
}
