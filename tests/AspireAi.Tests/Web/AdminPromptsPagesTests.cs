using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using AspireAi.Tests.Infrastructure;
using Microsoft.Playwright;

namespace AspireAi.Tests.Web;

/// <summary>The admin Prompts and Retrieval quality pages against the real Api.</summary>
public sealed class AdminPromptsPagesTests(WebStackFixture stack) : IClassFixture<WebStackFixture>
{
    [Fact]
    public async Task A_staged_rollout_started_on_the_page_advances_then_stops_itself_on_a_scripted_regression()
    {
        var (_, adminApi, admin) = await stack.SignInAsync("admin");
        var name = $"t.page{Guid.NewGuid():N}"[..24];
        (await adminApi.PostAsJsonAsync("/v1/admin/prompts", new { name, template = "Be brief.\nCite sources.", activate = true })).EnsureSuccessStatusCode();
        (await adminApi.PostAsJsonAsync("/v1/admin/prompts", new { name, template = "Be verbose.\nCite sources.\nUse emoji." })).EnsureSuccessStatusCode();

        await using var live = await LiveBrowser.LaunchAsync();
        var page = await live.SignInAsync(stack.BaseAddress, admin.Email, admin.Password);
        await page.GetByTestId("nav-admin-prompts").ClickAsync();
        await page.GetByTestId("prompt-name").FillAsync(name);
        await page.GetByTestId("prompt-name").PressAsync("Enter");

        // The diff of the active version against the new one.
        await Assertions.Expect(page.GetByTestId("diff-summary")).ToHaveTextAsync("Version 1 → 2: 2 added, 1 removed.");
        await Assertions.Expect(page.Locator("[data-testid='diff-line'][data-kind='added']").First).ToContainTextAsync("+ Be verbose.");

        await page.GetByTestId("rollout-candidate-select").SelectOptionAsync("2");
        await page.GetByTestId("rollout-minutes").FillAsync("0");
        await page.GetByTestId("rollout-start").ClickAsync();
        await Assertions.Expect(page.GetByTestId("flash")).ToHaveTextAsync("Rollout started.");
        await Assertions.Expect(page.GetByTestId("rollout-percent")).ToHaveTextAsync("1%");
        await Assertions.Expect(page.GetByTestId("rollout-schedule")).ToContainTextAsync("by hand only");

        await page.GetByTestId("rollout-advance").ClickAsync();
        await Assertions.Expect(page.GetByTestId("flash")).ToHaveTextAsync("Rollout advanced.");
        await Assertions.Expect(page.GetByTestId("rollout-percent")).ToHaveTextAsync("10%");
        Assert.Equal(10, await CountAsync("SELECT percent FROM prompt_rollouts WHERE prompt_name = $1 AND status = 'running'", name));

        // Scripted regression: the candidate failed half its answers, the baseline 1 in 40 (the default minimum sample is 30).
        await SeedAnswersAsync(admin, name, version: 1, answers: 40, failed: 1);
        await SeedAnswersAsync(admin, name, version: 2, answers: 30, failed: 15);
        await page.ReloadAsync();
        await Assertions.Expect(page.GetByTestId("health-candidate")).ToContainTextAsync("50.0%");

        await page.GetByTestId("rollout-check").ClickAsync();
        await Assertions.Expect(page.GetByTestId("rollout-none")).ToBeVisibleAsync();
        var row = page.GetByTestId("rollout-history-row").First;
        await Assertions.Expect(row).ToHaveAttributeAsync("data-status", "auto_stopped");
        await Assertions.Expect(row).ToHaveAttributeAsync("data-reason", "error_rate");
        await Assertions.Expect(row).ToContainTextAsync("stopped automatically");
        await Assertions.Expect(page.Locator("[data-testid='prompt-version'][data-active='true']")).ToHaveAttributeAsync("data-version", "1");

        Assert.Equal(1, await CountAsync("SELECT version FROM prompts WHERE name = $1 AND is_active", name));
        Assert.Equal(3, await CountAsync("SELECT count(*) FROM audit_log WHERE target_id = $1 AND action LIKE 'prompt.rollout%'", name));
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM audit_log WHERE target_id = $1 AND action = 'prompt.rollout_auto_stopped'", name));
    }

    [Fact]
    public async Task The_retrieval_quality_page_charts_a_low_window_and_shows_the_alert()
    {
        // A window of this test's own, a few hours back; the page is asked for the range ending with it.
        var window = new DateTimeOffset(DateTimeOffset.UtcNow.UtcTicks - DateTimeOffset.UtcNow.UtcTicks % TimeSpan.FromMinutes(15).Ticks, TimeSpan.Zero)
            - TimeSpan.FromMinutes(15) * Random.Shared.Next(8, 80);
        await using (var insert = stack.Api.DataSource.CreateCommand("""
            INSERT INTO retrieval_quality_windows (window_start, source, retrievals, scored, similarity_sum, low_confidence)
            VALUES ($1, 'memory', 20, 20, 10.4, 5), ($1, 'document', 12, 10, 8.8, 1)
            """))
        {
            insert.Parameters.Add(new() { Value = window });
            await insert.ExecuteNonQueryAsync();
        }
        var (browser, _, _) = await stack.SignInAsync("admin");
        var end = Uri.EscapeDataString((window + TimeSpan.FromMinutes(15)).ToString("O", CultureInfo.InvariantCulture));

        var html = await browser.GetPageAsync($"/admin/retrieval-quality?hours=6&end={end}");

        Assert.Contains("data-testid=\"quality-alert\"", html, StringComparison.Ordinal);
        // UTC with a Z: an offset's "+" would be HTML-encoded in the attribute.
        var key = window.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        Assert.Contains($"data-source=\"memory\" data-window=\"{key}\" data-value=\"0.52\"", html, StringComparison.Ordinal);
        Assert.Contains($"data-source=\"document\" data-window=\"{key}\" data-value=\"0.88\"", html, StringComparison.Ordinal);
        Assert.Contains("<td data-testid=\"memory-average\">0.520</td>", html, StringComparison.Ordinal);
        Assert.Contains("25.0%", html, StringComparison.Ordinal);

        // A user is sent away.
        var (userBrowser, _, _) = await stack.SignInAsync();
        using var denied = await userBrowser.Http.GetAsync("/admin/retrieval-quality");
        Assert.Equal(HttpStatusCode.Redirect, denied.StatusCode);
    }

    private async Task SeedAnswersAsync(RegisteredUser user, string name, int version, int answers, int failed)
    {
        var conversation = Guid.CreateVersion7();
        await using (var insert = stack.Api.DataSource.CreateCommand("INSERT INTO conversations (id, user_id, org_id, title) VALUES ($1, $2, $3, 'seeded')"))
        {
            insert.Parameters.Add(new() { Value = conversation });
            insert.Parameters.Add(new() { Value = user.Id });
            insert.Parameters.Add(new() { Value = user.OrgId });
            await insert.ExecuteNonQueryAsync();
        }
        await using var messages = stack.Api.DataSource.CreateCommand("""
            INSERT INTO messages (id, conversation_id, sequence, role, content, status, prompt_name, prompt_version)
            SELECT gen_random_uuid(), $1, g, 'assistant', 'answer', CASE WHEN g <= $4 THEN 'failed' ELSE 'complete' END, $2, $3
            FROM generate_series(1, $5) g
            """);
        messages.Parameters.Add(new() { Value = conversation });
        messages.Parameters.Add(new() { Value = name });
        messages.Parameters.Add(new() { Value = version });
        messages.Parameters.Add(new() { Value = failed });
        messages.Parameters.Add(new() { Value = answers });
        await messages.ExecuteNonQueryAsync();
    }

    private async Task<long> CountAsync(string sql, string name)
    {
        await using var command = stack.Api.DataSource.CreateCommand(sql);
        command.Parameters.Add(new() { Value = name });
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }
}
