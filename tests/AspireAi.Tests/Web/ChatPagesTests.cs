using System.Net;
using System.Text.RegularExpressions;

namespace AspireAi.Tests.Web;

// The server-rendered pages: conversation list and chat history (prerendered, readable without script), their
// forms, and the hooks the browser tests rely on.
public sealed partial class ChatPagesTests(WebAppFixture web) : IClassFixture<WebAppFixture>
{
    [Fact]
    public async Task The_conversation_list_shows_the_newest_first_and_pages_with_a_cursor()
    {
        var user = web.Api.CreateUser();
        var conversations = Enumerable.Range(1, 23).Select(i => web.Api.AddConversation(user, $"Topic {i:00}")).ToList();
        using var browser = web.CreateBrowser();
        await browser.SignInOrFailAsync(user);

        var first = await browser.GetPageAsync("/");

        var ids = ConversationIds().Matches(first).Select(m => m.Groups["id"].Value).ToList();
        Assert.Equal(conversations.AsEnumerable().Reverse().Take(20).Select(c => c.Id), ids);
        var more = LoadMoreLink().Match(first);
        Assert.True(more.Success, "No load-more link on a full page.");

        var second = await browser.GetPageAsync("/" + WebUtility.HtmlDecode(more.Groups["href"].Value));
        var olderIds = ConversationIds().Matches(second).Select(m => m.Groups["id"].Value).ToList();
        Assert.Equal(conversations.Take(3).Reverse().Select(c => c.Id), olderIds);
        Assert.DoesNotMatch(LoadMoreLink(), second);
    }

    [Fact]
    public async Task New_conversation_creates_one_on_the_api_and_opens_it()
    {
        var user = web.Api.CreateUser();
        using var browser = web.CreateBrowser();
        await browser.SignInOrFailAsync(user);
        var token = WebBrowser.AntiforgeryToken(await browser.GetPageAsync("/"));

        using var response = await browser.PostFormAsync("/", token, [new("_handler", "new-conversation")]);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var location = browser.LocationOf(response);
        Assert.StartsWith("/c/", location, StringComparison.Ordinal);
        Assert.True(web.Api.Exists(location["/c/".Length..]));
    }

    [Fact]
    public async Task Delete_removes_the_conversation_that_was_clicked()
    {
        var user = web.Api.CreateUser();
        var keep = web.Api.AddConversation(user, "Keep");
        var remove = web.Api.AddConversation(user, "Remove");
        using var browser = web.CreateBrowser();
        await browser.SignInOrFailAsync(user);
        var token = WebBrowser.AntiforgeryToken(await browser.GetPageAsync("/"));

        using var response = await browser.PostFormAsync("/", token,
            [new("_handler", "delete-conversation"), new("DeleteId", remove.Id)]);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.False(web.Api.Exists(remove.Id));
        Assert.True(web.Api.Exists(keep.Id));
    }

    [Fact]
    public async Task Forms_without_the_antiforgery_token_are_refused()
    {
        var user = web.Api.CreateUser();
        var conversation = web.Api.AddConversation(user, "Stays");
        using var browser = web.CreateBrowser();
        await browser.SignInOrFailAsync(user);

        using var response = await browser.Http.PostAsync("/", new FormUrlEncodedContent(
            [new("_handler", "delete-conversation"), new("DeleteId", conversation.Id)]));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True(web.Api.Exists(conversation.Id));
    }

    [Fact]
    public async Task The_chat_page_shows_the_history_oldest_first_with_safe_markdown_and_the_model_that_answered()
    {
        var user = web.Api.CreateUser();
        var conversation = web.Api.AddConversation(user, "History");
        conversation.Add("user", "First question <b>raw</b>");
        conversation.Add("assistant", "First **answer** <script>alert('x')</script> [bad](javascript:alert(1))");
        conversation.Add("user", "Second question");
        using var browser = web.CreateBrowser();
        await browser.SignInOrFailAsync(user);

        var html = await browser.GetPageAsync($"/c/{conversation.Id}");

        var first = html.IndexOf("First question", StringComparison.Ordinal);
        var answer = html.IndexOf("First <strong>answer</strong>", StringComparison.Ordinal);
        var second = html.IndexOf("Second question", StringComparison.Ordinal);
        Assert.True(first >= 0 && first < answer && answer < second, "Messages are not oldest first.");
        // User text is encoded; model text is markdown without raw HTML or script links.
        Assert.Contains("First question &lt;b&gt;raw&lt;/b&gt;", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>alert", html, StringComparison.Ordinal);
        Assert.DoesNotContain("javascript:", html, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"assistant-message\"", html, StringComparison.Ordinal);
        Assert.Contains("fake-model · chat v3 · 12 → 5 tokens · $0.0004", System.Net.WebUtility.HtmlDecode(html), StringComparison.Ordinal);
        Assert.Contains("data-testid=\"model-badge\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_chat_page_pages_back_through_older_messages()
    {
        var user = web.Api.CreateUser();
        var conversation = web.Api.AddConversation(user, "Long");
        for (var i = 1; i <= 35; i++)
        {
            conversation.Add(i % 2 == 1 ? "user" : "assistant", $"Message number {i:00}");
        }

        using var browser = web.CreateBrowser();
        await browser.SignInOrFailAsync(user);

        var latest = await browser.GetPageAsync($"/c/{conversation.Id}");
        Assert.Contains("Message number 35", latest, StringComparison.Ordinal);
        Assert.Contains("Message number 06", latest, StringComparison.Ordinal);
        Assert.DoesNotContain("Message number 05", latest, StringComparison.Ordinal);

        var older = LoadOlderLink().Match(latest);
        Assert.True(older.Success, "No load-older link.");
        var earlier = await browser.GetPageAsync("/" + WebUtility.HtmlDecode(older.Groups["href"].Value));
        Assert.Contains("Message number 01", earlier, StringComparison.Ordinal);
        Assert.Contains("Message number 05", earlier, StringComparison.Ordinal);
        Assert.DoesNotContain("Message number 06", earlier, StringComparison.Ordinal);
        Assert.DoesNotMatch(LoadOlderLink(), earlier);
    }

    [Fact]
    public async Task Another_users_conversation_is_not_found()
    {
        var owner = web.Api.CreateUser();
        var conversation = web.Api.AddConversation(owner, "Private");
        var user = web.Api.CreateUser();
        using var browser = web.CreateBrowser();
        await browser.SignInOrFailAsync(user);

        using var response = await browser.Http.GetAsync($"/c/{conversation.Id}");
        var html = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.NotFound, html);
        Assert.Contains("data-testid=\"not-found\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("Private", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_pages_carry_the_stable_test_hooks()
    {
        var user = web.Api.CreateUser();
        var conversation = web.Api.AddConversation(user, "Hooks");
        conversation.Add("user", "hi");
        conversation.Add("assistant", "hello");
        using var browser = web.CreateBrowser();

        var signIn = await browser.GetPageAsync("/signin");
        await browser.SignInOrFailAsync(user);
        var list = await browser.GetPageAsync("/");
        var chat = await browser.GetPageAsync($"/c/{conversation.Id}");

        foreach (var hook in (string[])["signin-email", "signin-password", "signin-submit"])
        {
            Assert.Contains($"data-testid=\"{hook}\"", signIn, StringComparison.Ordinal);
        }

        foreach (var hook in (string[])["new-conversation", "conversation-list", "conversation-item", "conversation-link", "delete-conversation", "signout"])
        {
            Assert.Contains($"data-testid=\"{hook}\"", list, StringComparison.Ordinal);
        }

        foreach (var hook in (string[])["chat-form", "message-list", "message-input", "send", "user-message", "assistant-message", "message-content", "model-badge"])
        {
            Assert.Contains($"data-testid=\"{hook}\"", chat, StringComparison.Ordinal);
        }

        // Without script the history is there to read, and the message box says it is not live.
        Assert.Matches("<textarea[^>]*disabled", chat);
        Assert.Matches("<script src=\"[^\"]*_framework/blazor\\.web[^\"]*\\.js\"", chat);
    }

    [Fact]
    public async Task Pages_allow_only_the_sites_own_scripts_and_cannot_be_framed()
    {
        using var browser = web.CreateBrowser();

        using var response = await browser.Http.GetAsync("/signin");

        var policy = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self'", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", policy, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
    }

    [Fact]
    public async Task The_blazor_script_is_served()
    {
        using var browser = web.CreateBrowser();
        var signIn = await browser.GetPageAsync("/signin");
        var src = Regex.Match(signIn, "<script src=\"(?<src>[^\"]+)\"").Groups["src"].Value;
        Assert.Contains("blazor.web", src, StringComparison.Ordinal);

        using var response = await browser.Http.GetAsync("/" + src);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("text/javascript", response.Content.Headers.ContentType?.ToString() ?? "", StringComparison.Ordinal);
    }

    [GeneratedRegex("data-testid=\"conversation-item\" data-conversation-id=\"(?<id>[^\"]+)\"")]
    private static partial Regex ConversationIds();

    [GeneratedRegex("<a href=\"(?<href>[^\"]+)\" data-testid=\"load-more-conversations\"")]
    private static partial Regex LoadMoreLink();

    [GeneratedRegex("<a class=\"load-older\" href=\"(?<href>[^\"]+)\"")]
    private static partial Regex LoadOlderLink();
}
