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
        await using var factory = new WebAppFactory(new Uri("http://127.0.0.1:9"), new Dictionary<string, string?> { [key] = value });

        var error = Record.Exception(() => factory.Start());

        var validation = Assert.IsType<OptionsValidationException>(error, exactMatch: false);
        Assert.Contains(key.Split(':')[1], validation.Message, StringComparison.Ordinal);
    }
}
