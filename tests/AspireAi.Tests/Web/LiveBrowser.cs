using AspireAi.Tests.EndToEnd;
using Microsoft.Playwright;

namespace AspireAi.Tests.Web;

// Debian's Chromium driven by Playwright against a Web on Kestrel: for the interactive (Blazor Server) pages,
// whose behaviour only exists with script.
internal sealed class LiveBrowser : IAsyncDisposable
{
    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;

    private LiveBrowser(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        _browser = browser;
    }

    public static async Task<LiveBrowser> LaunchAsync()
    {
        var playwright = await Playwright.CreateAsync();
        try
        {
            return new LiveBrowser(playwright, await BrowserTests.LaunchAsync(playwright));
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    // A fresh browser context signed in through Web's form.
    public async Task<IPage> SignInAsync(Uri webAddress, string email, string password)
    {
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = webAddress.ToString() });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(20_000);
        await page.GotoAsync("signin");
        await page.GetByTestId("signin-email").FillAsync(email);
        await page.GetByTestId("signin-password").FillAsync(password);
        await page.GetByTestId("signin-submit").ClickAsync();
        await page.GetByTestId("nav-documents").WaitForAsync();
        return page;
    }

    // The interactive conversation has connected once the message box is enabled.
    public static async Task OpenChatAsync(IPage page, string conversationId)
    {
        await page.GotoAsync($"c/{conversationId}");
        await Assertions.Expect(page.GetByTestId("message-input")).ToBeEnabledAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }
}
