using Microsoft.Playwright;

namespace AspireAi.Tests.Web;

// The chat page in a real browser: the Interactive Server conversation streaming from the (fake) Api's SSE.
public sealed class ChatLiveTests(WebAppFixture web) : IClassFixture<WebAppFixture>
{
    [Fact]
    public async Task A_streamed_answer_appears_token_by_token_and_Stop_cancels_the_upstream_request()
    {
        var user = web.Api.CreateUser();
        var conversation = web.Api.AddConversation(user, "Streaming");
        var next = new SemaphoreSlim(0);
        conversation.Script = async (writer, turn, cancellationToken) =>
        {
            await writer.WriteAsync("delta", new { text = "First" }, cancellationToken);
            await next.WaitAsync(cancellationToken);
            await writer.WriteAsync("delta", new { text = " and **second**" }, cancellationToken);
            // Then nothing more until the client goes away.
            await Task.Delay(Timeout.Infinite, cancellationToken);
        };
        await using var browser = await LiveBrowser.LaunchAsync();
        var page = await browser.SignInAsync(web.BaseAddress, user.Email, user.Password);
        await LiveBrowser.OpenChatAsync(page, conversation.Id);

        await page.GetByTestId("message-input").FillAsync("Tell me a story");
        await page.GetByTestId("send").ClickAsync();

        var answer = page.GetByTestId("assistant-message").Last;
        await Assertions.Expect(answer.GetByTestId("message-content")).ToHaveTextAsync("First");
        await Assertions.Expect(answer).ToHaveAttributeAsync("data-status", "streaming");
        await Assertions.Expect(page.GetByTestId("message-list")).ToHaveAttributeAsync("aria-busy", "true");
        next.Release();
        // Markdown renders while it streams.
        await Assertions.Expect(answer.Locator("strong")).ToHaveTextAsync("second");
        await Assertions.Expect(answer.GetByTestId("message-content")).ToHaveTextAsync("First and second");

        await page.GetByTestId("stop").ClickAsync();

        await conversation.StreamCancelled.Task.WaitAsync(TimeSpan.FromSeconds(20));
        await Assertions.Expect(answer.GetByTestId("message-status")).ToHaveTextAsync("Stopped");
        await Assertions.Expect(page.GetByTestId("send")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("retry")).ToBeVisibleAsync();
        // Focus goes back to the message box, not lost with the vanished Stop button.
        await Assertions.Expect(page.GetByTestId("message-input")).ToBeFocusedAsync();
        // The Api kept what was written as a cancelled answer.
        Assert.Contains(conversation.Messages, m => m.Role == "assistant" && m.Status == "cancelled" && m.Content == "First and **second**");
    }

    [Fact]
    public async Task Enter_sends_and_the_finished_answer_shows_its_model_and_safe_markdown()
    {
        var user = web.Api.CreateUser();
        var conversation = web.Api.AddConversation(user, "Keyboard");
        conversation.Script = async (writer, turn, cancellationToken) =>
        {
            await writer.WriteAsync("delta", new { text = "Hi <script>window.pwned = 1</script> [x](javascript:alert(1)) **bold**" }, cancellationToken);
            await FakeApi.DefaultScript(writer, turn, cancellationToken);
        };
        await using var browser = await LiveBrowser.LaunchAsync();
        var page = await browser.SignInAsync(web.BaseAddress, user.Email, user.Password);
        await LiveBrowser.OpenChatAsync(page, conversation.Id);

        var box = page.GetByTestId("message-input");
        await box.FocusAsync();
        await page.Keyboard.TypeAsync("first line");
        await page.Keyboard.PressAsync("Shift+Enter");
        await page.Keyboard.TypeAsync("second line");
        await page.Keyboard.PressAsync("Enter");

        var answer = page.GetByTestId("assistant-message").Last;
        await Assertions.Expect(answer).ToHaveAttributeAsync("data-status", "complete");
        await Assertions.Expect(answer.GetByTestId("model-badge")).ToContainTextAsync("fake-model · chat v3");
        await Assertions.Expect(answer.Locator("strong").First).ToHaveTextAsync("bold");
        Assert.Equal(0, await answer.Locator("script").CountAsync());
        Assert.Equal(0, await answer.Locator("a[href^='javascript']").CountAsync());
        Assert.Equal("undefined", await page.EvaluateAsync<string>("typeof window.pwned"));
        await Assertions.Expect(box).ToHaveValueAsync("");

        // One POST, with the two lines Shift+Enter made.
        var sent = Assert.Single(user.Calls, c => c.Call == $"POST /v1/conversations/{conversation.Id}/messages");
        Assert.Equal("first line\nsecond line", sent.Body);
        Assert.Equal("text/event-stream", sent.Accept);
    }

    [Fact]
    public async Task Retry_after_a_failed_answer_sends_the_message_again()
    {
        var user = web.Api.CreateUser();
        var conversation = web.Api.AddConversation(user, "Flaky");
        var attempts = 0;
        conversation.Script = async (writer, turn, cancellationToken) =>
        {
            if (Interlocked.Increment(ref attempts) == 1)
            {
                await writer.WriteAsync("error", new { title = "The model is unavailable.", status = 503, traceId = "trace-failed" }, cancellationToken);
                return;
            }

            await FakeApi.DefaultScript(writer, turn, cancellationToken);
        };
        await using var browser = await LiveBrowser.LaunchAsync();
        var page = await browser.SignInAsync(web.BaseAddress, user.Email, user.Password);
        await LiveBrowser.OpenChatAsync(page, conversation.Id);

        await page.GetByTestId("message-input").FillAsync("Are you there?");
        await page.GetByTestId("send").ClickAsync();

        await Assertions.Expect(page.GetByTestId("error")).ToContainTextAsync("The model is unavailable.");
        await Assertions.Expect(page.GetByTestId("error")).ToContainTextAsync("trace-failed");
        await Assertions.Expect(page.GetByTestId("message-status")).ToHaveTextAsync("Failed");

        await page.GetByTestId("retry").ClickAsync();

        await Assertions.Expect(page.GetByTestId("assistant-message").Last).ToHaveAttributeAsync("data-status", "complete");
        await Assertions.Expect(page.GetByTestId("error")).ToHaveCountAsync(0);
        var posts = user.Calls.Where(c => c.Call == $"POST /v1/conversations/{conversation.Id}/messages").ToList();
        Assert.Equal(2, posts.Count);
        Assert.All(posts, p => Assert.Equal("Are you there?", p.Body));
    }

    [Fact]
    public async Task A_refused_message_shows_the_problem_and_keeps_the_text()
    {
        var user = web.Api.CreateUser();
        var conversation = web.Api.AddConversation(user, "Budget");
        conversation.RejectWithRetryAfterSeconds = 30;
        await using var browser = await LiveBrowser.LaunchAsync();
        var page = await browser.SignInAsync(web.BaseAddress, user.Email, user.Password);
        await LiveBrowser.OpenChatAsync(page, conversation.Id);

        await page.GetByTestId("message-input").FillAsync("One more question");
        await page.GetByTestId("send").ClickAsync();

        await Assertions.Expect(page.GetByTestId("error")).ToContainTextAsync("The token budget is exhausted.");
        await Assertions.Expect(page.GetByTestId("retry-after")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("message-input")).ToHaveValueAsync("One more question");
        await Assertions.Expect(page.GetByTestId("user-message")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task Tokens_the_live_page_refreshes_are_written_back_to_the_session_cookie()
    {
        var user = web.Api.CreateUser();
        // Shorter than Web's refresh margin: every Api call refreshes first, the circuit's included.
        user.AccessTokenLifetimeSeconds = 10;
        var conversation = web.Api.AddConversation(user, "Long open tab");
        await using var browser = await LiveBrowser.LaunchAsync();
        var page = await browser.SignInAsync(web.BaseAddress, user.Email, user.Password);
        await LiveBrowser.OpenChatAsync(page, conversation.Id);
        var before = await SessionCookieAsync(page);
        var refreshes = user.RefreshCount;

        await page.GetByTestId("message-input").FillAsync("Still there?");
        await page.GetByTestId("send").ClickAsync();
        await Assertions.Expect(page.GetByTestId("assistant-message").Last).ToHaveAttributeAsync("data-status", "complete");

        // The circuit refreshed (its connection cannot set cookies); the page then renewed the cookie by a request.
        Assert.True(user.RefreshCount > refreshes);
        var after = before;
        for (var attempt = 0; attempt < 50 && after == before; attempt++)
        {
            await Task.Delay(100);
            after = await SessionCookieAsync(page);
        }
        Assert.NotEqual(before, after);
        await LiveBrowser.OpenChatAsync(page, conversation.Id);
        await Assertions.Expect(page.GetByTestId("chat-title")).ToHaveTextAsync("Long open tab");
    }

    private static async Task<string> SessionCookieAsync(IPage page) =>
        string.Concat((await page.Context.CookiesAsync()).Where(c => c.Name.StartsWith(WebBrowser.SessionCookie, StringComparison.Ordinal))
            .OrderBy(c => c.Name, StringComparer.Ordinal).Select(c => c.Value));
}
