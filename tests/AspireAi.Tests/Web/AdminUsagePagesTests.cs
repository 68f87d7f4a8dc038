using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Tests.Chat;
using Microsoft.Playwright;

namespace AspireAi.Tests.Web;

/// <summary>The admin usage and cost page against the real Api: the charts and tables show the usage a test created.</summary>
public sealed class AdminUsagePagesTests(WebStackFixture stack) : IClassFixture<WebStackFixture>
{
    [Fact]
    public async Task The_charts_and_budget_table_show_the_usage_a_user_just_created()
    {
        var (_, userApi, user) = await stack.SignInAsync();
        var conversation = await ChatTestData.CreateConversationAsync(userApi, "Costly");
        using (var reply = await userApi.SendAsync(ChatTestData.SendRequest(conversation, new { content = "Count to five." }, stream: false)))
        {
            Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
        }
        await MakeHeaviestUserOfTheDayAsync(user.Id);
        var tokens = await ChatTestData.CountAsync(stack.Api.DataSource,
            "SELECT COALESCE(SUM(input_tokens + output_tokens), 0) FROM usage_ledger WHERE user_id = $1", user.Id);
        Assert.True(tokens > 0);
        var (adminBrowser, _, admin) = await stack.SignInAsync("admin");

        // Without script: the page is server-rendered SVG and tables.
        var html = await adminBrowser.GetPageAsync("/admin/usage");
        Assert.Contains($"data-testid=\"usage-chart-user-bar\" data-key=\"{user.Id}\" data-value=\"{tokens}\"", html, StringComparison.Ordinal);
        Assert.Contains($"data-testid=\"budget-row\" data-user-id=\"{user.Id}\"", html, StringComparison.Ordinal);
        Assert.Contains(user.Email, html, StringComparison.Ordinal);

        // And as a browser draws it.
        await using var live = await LiveBrowser.LaunchAsync();
        var page = await live.SignInAsync(stack.BaseAddress, admin.Email, admin.Password);
        await page.GetByTestId("nav-admin-usage").ClickAsync();
        var bar = page.Locator($"[data-testid='usage-chart-user-bar'][data-key='{user.Id}']");
        await Assertions.Expect(bar).ToBeVisibleAsync();
        await Assertions.Expect(bar.Locator("rect")).ToBeVisibleAsync();
        await Assertions.Expect(bar).ToContainTextAsync(tokens.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) + " tokens");
        var row = page.Locator($"[data-testid='budget-row'][data-user-id='{user.Id}']");
        await Assertions.Expect(row).ToContainTextAsync(tokens.ToString("N0", System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task A_user_is_not_shown_the_usage_page_and_the_budget_report_is_admin_only()
    {
        var (browser, api, _) = await stack.SignInAsync();

        using var page = await browser.Http.GetAsync("/admin/usage");
        using var report = await api.GetAsync("/v1/admin/usage/budget");

        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.StartsWith("/denied", browser.LocationOf(page), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, report.StatusCode);
    }

    [Fact]
    public async Task The_budget_report_counts_todays_tokens_per_user_against_the_daily_budget()
    {
        var (userApi, user) = await stack.Api.CreateUserClientAsync();
        var conversation = await ChatTestData.CreateConversationAsync(userApi, "Budget");
        using (var reply = await userApi.SendAsync(ChatTestData.SendRequest(conversation, new { content = "Hello." }, stream: false)))
        {
            Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
        }
        await MakeHeaviestUserOfTheDayAsync(user.Id);
        var (adminApi, _) = await stack.Api.CreateUserClientAsync("admin");

        var report = await adminApi.GetFromJsonAsync<JsonElement>("/v1/admin/usage/budget");

        var budget = report.GetProperty("dailyTokenBudget").GetInt64();
        var mine = report.GetProperty("users").EnumerateArray().Single(u => u.GetProperty("userId").GetGuid() == user.Id);
        var tokens = await ChatTestData.CountAsync(stack.Api.DataSource,
            "SELECT COALESCE(SUM(input_tokens + output_tokens), 0) FROM usage_ledger WHERE user_id = $1 AND at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'", user.Id);
        Assert.Equal(tokens, mine.GetProperty("tokensUsed").GetInt64());
        Assert.Equal(user.Email, mine.GetProperty("email").GetString());
        Assert.Equal((double)tokens / budget, mine.GetProperty("fraction").GetDouble(), 6);
    }

    // The reports list the day's heaviest users first (at most 200), and the shared test database holds hundreds of
    // other tests' users with usage today: one more (append-only) entry, a heavy embedding call, makes this user the
    // heaviest so it is listed whatever ran before.
    private async Task MakeHeaviestUserOfTheDayAsync(Guid userId) =>
        Assert.Equal(1, await ChatTestData.CountAsync(stack.Api.DataSource, """
            WITH heavy AS (
                INSERT INTO usage_ledger (user_id, org_id, operation, model, input_tokens, output_tokens, cost)
                SELECT user_id, org_id, 'embedding', model, 50000000, 0, 0 FROM usage_ledger WHERE user_id = $1 LIMIT 1
                RETURNING 1)
            SELECT count(*) FROM heavy
            """, userId));
}
