using AspireAi.Tests.Infrastructure;
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
        using var logs = new CapturingLoggerProvider();
        await using var factory = new WebAppFactory(new Uri("http://127.0.0.1:9"), new Dictionary<string, string?> { [key] = value }, logs);

        var error = Record.Exception(() => factory.Start());

        // The host logs why it did not start, then throws it. The exception reaches the caller as thrown, unless
        // WebApplicationFactory reads the failed host's services after the host has disposed them (an
        // ObjectDisposedException, seen under the whole suite's load); the log says why either way.
        Assert.True(error is OptionsValidationException or ObjectDisposedException, error?.ToString() ?? "the app started");
        var validation = logs.Exceptions.OfType<OptionsValidationException>().FirstOrDefault();
        Assert.NotNull(validation);
        Assert.Contains(key.Split(':')[1], validation.Message, StringComparison.Ordinal);
    }
}
