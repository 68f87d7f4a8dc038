using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using AspireAi.Tests.Chat;
using Microsoft.Playwright;

namespace AspireAi.Tests.Web;

/// <summary>
/// Conversations and feedback against the real Api: search and rename as plain pages (they work without script),
/// and in a browser the live conversation's automatic title and thumbs up / down, checked in the database.
/// </summary>
public sealed partial class ConversationPagesTests(WebStackFixture stack) : IClassFixture<WebStackFixture>
{
    [Fact]
    public async Task Search_lists_only_the_conversations_that_mention_the_text()
    {
        var (browser, api, _) = await stack.SignInAsync();
        var marker = $"srch{Guid.NewGuid():N}"[..14];
        var byTitle = await ChatTestData.CreateConversationAsync(api, $"About {marker}");
        var other = await ChatTestData.CreateConversationAsync(api, "Something else");

        var html = await browser.GetPageAsync($"/?q={marker}");

        Assert.Equal([byTitle.ToString()], ConversationIds().Matches(html).Select(m => m.Groups["id"].Value));
        Assert.Contains($"value=\"{marker}\"", html, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"conversation-search-clear\"", html, StringComparison.Ordinal);
        var all = await browser.GetPageAsync("/");
        Assert.Contains(other.ToString(), all, StringComparison.Ordinal);
        var none = await browser.GetPageAsync("/?q=nothing-mentions-this-" + Guid.NewGuid().ToString("N"));
        Assert.Contains("data-testid=\"conversation-list-empty\"", none, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rename_saves_the_new_title_and_an_empty_one_is_refused_with_the_apis_reason()
    {
        var (browser, api, _) = await stack.SignInAsync();
        var id = await ChatTestData.CreateConversationAsync(api, "Old name");
        var form = await browser.GetPageAsync($"/c/{id}/rename");
        Assert.Contains("value=\"Old name\"", form, StringComparison.Ordinal);
        var token = WebBrowser.AntiforgeryToken(form);

        using var empty = await browser.PostFormAsync($"/c/{id}/rename", token, [new("_handler", "rename-conversation"), new("Title", "   ")]);
        var refused = await empty.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, empty.StatusCode);
        Assert.Contains("data-testid=\"rename-title-error\"", refused, StringComparison.Ordinal);
        Assert.Equal("Old name", await TitleAsync(api, id));

        using var saved = await browser.PostFormAsync($"/c/{id}/rename", token, [new("_handler", "rename-conversation"), new("Title", "  New name  ")]);
        Assert.Equal(HttpStatusCode.Redirect, saved.StatusCode);
        Assert.Equal("/", browser.LocationOf(saved));
        Assert.Equal("New name", await TitleAsync(api, id));
    }

    [Fact]
    public async Task Another_users_conversation_cannot_be_renamed()
    {
        var (_, ownerApi, _) = await stack.SignInAsync();
        var id = await ChatTestData.CreateConversationAsync(ownerApi, "Owner's");
        var (intruder, _, _) = await stack.SignInAsync();

        using var response = await intruder.Http.GetAsync($"/c/{id}/rename");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.DoesNotContain("Owner's", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task In_the_browser_an_untitled_conversation_takes_its_title_from_the_first_exchange_without_a_reload()
    {
        var (_, api, user) = await stack.SignInAsync();
        var id = await ChatTestData.CreateConversationAsync(api);
        await using var live = await LiveBrowser.LaunchAsync();
        var page = await live.SignInAsync(stack.BaseAddress, user.Email, user.Password);
        await LiveBrowser.OpenChatAsync(page, id.ToString());
        await Assertions.Expect(page.GetByTestId("chat-title")).ToHaveTextAsync("New conversation");

        await page.GetByTestId("message-input").FillAsync("Which birds migrate across the Sahara every autumn?");
        await page.GetByTestId("send").ClickAsync();

        await Assertions.Expect(page.GetByTestId("assistant-message").Last).ToHaveAttributeAsync("data-status", "complete");
        await Assertions.Expect(page.GetByTestId("chat-title")).ToHaveTextAsync("Which birds migrate across the Sahara every autumn?");
        Assert.Equal("Which birds migrate across the Sahara every autumn?", await TitleAsync(api, id));
    }

    [Fact]
    public async Task In_the_browser_thumbs_down_with_a_comment_is_stored_with_the_answers_model_and_prompt_version()
    {
        var (_, api, user) = await stack.SignInAsync();
        var id = await ChatTestData.CreateConversationAsync(api, "Rate me");
        using var reply = await api.SendAsync(ChatTestData.SendRequest(id, new { content = "Say something." }, stream: false));
        var answer = await reply.Content.ReadFromJsonAsync<JsonElement>();
        var answerId = answer.GetProperty("messageId").GetGuid();
        await using var live = await LiveBrowser.LaunchAsync();
        var page = await live.SignInAsync(stack.BaseAddress, user.Email, user.Password);
        await LiveBrowser.OpenChatAsync(page, id.ToString());
        var message = page.Locator($"[data-message-id='{answerId}']");

        await message.GetByTestId("feedback-down").ClickAsync();
        await Assertions.Expect(message.GetByTestId("feedback-down")).ToHaveAttributeAsync("aria-pressed", "true");
        await Assertions.Expect(message.GetByTestId("feedback-comment")).ToBeFocusedAsync();
        await message.GetByTestId("feedback-comment").FillAsync("Too vague.");
        await message.GetByTestId("feedback-submit").ClickAsync();
        await Assertions.Expect(message.GetByTestId("feedback-status")).ToHaveTextAsync("Comment sent. Thank you.");

        Assert.Equal(1, await ChatTestData.CountAsync(stack.Api.DataSource, """
            SELECT count(*) FROM message_feedback f JOIN messages m ON m.id = f.message_id
            WHERE f.message_id = $1 AND f.user_id = $2 AND f.rating = -1 AND f.comment = 'Too vague.'
              AND f.model = m.model AND f.prompt_version = m.prompt_version AND f.model = $3
            """, answerId, user.Id, answer.GetProperty("model").GetString()!));

        // A reload shows the stored choice; pressing it again takes it back.
        await LiveBrowser.OpenChatAsync(page, id.ToString());
        await Assertions.Expect(message.GetByTestId("feedback-down")).ToHaveAttributeAsync("aria-pressed", "true");
        await message.GetByTestId("feedback-down").ClickAsync();
        await Assertions.Expect(message.GetByTestId("feedback-down")).ToHaveAttributeAsync("aria-pressed", "false");
        Assert.Equal(0, await ChatTestData.CountAsync(stack.Api.DataSource, "SELECT count(*) FROM message_feedback WHERE message_id = $1", answerId));
    }

    private static async Task<string?> TitleAsync(HttpClient api, Guid id) =>
        (await api.GetFromJsonAsync<JsonElement>($"/v1/conversations/{id}")).GetProperty("title").GetString();

    [GeneratedRegex("data-testid=\"conversation-item\" data-conversation-id=\"(?<id>[^\"]+)\"")]
    private static partial Regex ConversationIds();
}
